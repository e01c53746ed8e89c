"""JSON Schema of the protocol, generated from the frame models (kept in ``protocol/schema/``).

``make schema`` writes the files; a test fails when they differ from what the models generate.
"""

from __future__ import annotations

import json

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from protocol import PROTOCOL_VERSION, ledger, views
from protocol.frames import CLIENT_FRAME, SERVER_FRAME

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def render_schemas() -> dict[str, str]:
    """File name -> JSON text of each schema in ``protocol/schema/``."""
    out: dict[str, str] = {}
    for name, adapter, title in (
        ("client-frames.json", CLIENT_FRAME, "Frames a client sends"),
        ("server-frames.json", SERVER_FRAME, "Frames the server sends"),
    ):
        schema = {
            "$schema": SCHEMA_DIALECT,
            "title": f"Parley protocol v{PROTOCOL_VERSION}: {title}",
            **adapter.json_schema(),
        }
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    answers = [
        model
        for module in (views, ledger)
        for model in vars(module).values()
        if isinstance(model, type)
        and issubclass(model, BaseModel)
        and model.__module__ == module.__name__
        and model not in (views.View, ledger.Reply)
    ]
    _, definitions = models_json_schema(
        [(model, "serialization") for model in sorted(answers, key=lambda m: m.__name__)],
        by_alias=True,
    )
    schema = {
        "$schema": SCHEMA_DIALECT,
        "title": f"Parley protocol v{PROTOCOL_VERSION}: bodies of the HTTP API's answers",
        **definitions,
    }
    out["http-answers.json"] = (
        json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    return out
