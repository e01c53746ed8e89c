"""Schemathesis over the live server, as a delegate, an observer and anonymous (issue 13, point 7).

Every operation of docs/openapi.yaml gets generated requests, valid and invalid, under each
identity; an authenticated identity's requests name its own room, so they reach past the 404
of an unknown room. No answer may be a server error, and every answer must match the document:
a documented status, content type, headers and body schema. The run is bounded: a fixed number
of examples per operation, identity and mode, no shrinking, no example database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.processes import ROOT
from tests.support.rawhttp import sqlite_server

SPEC = ROOT / "docs" / "openapi.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 8}
"""Examples per operation, identity and mode: about 2,800 requests, well under a minute."""
BUDGET = 300.0
"""Seconds the whole run may take; past it the test fails rather than holding CI. A guard
against a run that stalls, not a speed target: alone it takes well under a minute, but on a
loaded machine one run took more than 90 s."""


def explore(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    room: str | None,
    count: Callable[[], None],
) -> None:
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if room is not None and case.path_parameters and "room" in case.path_parameters:
            case.path_parameters["room"] = room
        count()
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    try:
        run()
    except Unsatisfiable:
        # Nothing to get wrong: an operation without parameters or body has no invalid request.
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request"


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_mismatch_with_the_document(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings_env = {
        # Generated tokens fail: the redeem back-off would otherwise answer most of them 429.
        "PARLEY_REDEEM_BACKOFF_AFTER": "1000000",
        "PARLEY_REDEEM_BURST": "1000000",
    }
    with sqlite_server(sqlite_template, tmp_path, **settings_env) as server:
        room = asyncio.run(server.create_room())
        identities: dict[str, tuple[dict[str, str], str | None]] = {
            "delegate": ({"Authorization": f"Bearer {room.seat('us-1').token}"}, room.id),
            "observer": ({"Authorization": f"Bearer {room.seat('observer').token}"}, room.id),
            "anonymous": ({}, None),
        }
        schema = schemathesis.openapi.from_path(str(SPEC))
        sent = 0

        def count() -> None:
            nonlocal sent
            sent += 1

        start = time.monotonic()
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            for _who, (headers, room_id) in identities.items():
                for mode in EXAMPLES:
                    explore(operation, mode, server.base_url, headers, room_id, count)
                    assert time.monotonic() - start < BUDGET, f"over budget at {operation.label}"
        print(f"schemathesis: {sent} requests in {time.monotonic() - start:.1f} s")
        assert sent > 500
