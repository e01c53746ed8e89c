"""docs/openapi.yaml and the ``protocol`` models of the HTTP answers describe the same shapes.

The live-server test (tests/web/test_openapi.py) checks real answers against the spec; this one
checks the spec against the models the server builds those answers from, so neither can drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from protocol import ledger, views

SPEC = yaml.safe_load((Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

MODELS: dict[str, type[BaseModel]] = {
    "Error": views.ErrorBody,
    "Health": views.Health,
    "Seat": views.SeatBody,
    "RedeemInviteResponse": views.Redeemed,
    "Session": views.SessionBody,
    "Party": views.PartyBody,
    "Room": views.RoomBody,
    "SeatList": views.SeatList,
    "InviteRotated": views.InviteBody,
    "Thread": views.ThreadBody,
    "ThreadList": views.ThreadList,
    "Event": views.PageEvent,
    "EventPage": views.EventPage,
    "LeftOut": views.LeftOutBody,
    "ThreadEventPage": views.ThreadEventPage,
    "Issue": views.IssueBody,
    "StageRule": views.RuleBody,
    "Agenda": views.AgendaBody,
    "Position": views.PositionBody,
    "PositionList": views.PositionList,
    "Proposal": views.ProposalBody,
    "ProposalList": views.ProposalList,
    "Comparison": views.Comparison,
    "Coalition": views.CoalitionBody,
    "CoalitionList": views.CoalitionList,
    "Agreement": views.AgreementBody,
    "CommandAck": views.CommandAck,
    "Checkpoint": ledger.CheckpointBody,
    "CheckpointList": ledger.CheckpointList,
    "InclusionProof": ledger.InclusionProofBody,
    "ConsistencyProof": ledger.ConsistencyProofBody,
    "Leaf": ledger.Leaf,
    "LeafRange": ledger.LeavesBody,
    "BrowserSeat": views.BrowserSeat,
    "BrowserSeatList": views.BrowserSeatList,
    "SignOut": views.SignOut,
    "InviteRevoked": views.InviteRevoked,
    "OrganiserSession": views.OrganiserSession,
    "OrganiserRooms": views.OrganiserRooms,
    "CreatedRoom": views.CreatedRoom,
}


NESTED: dict[tuple[str, ...], type[BaseModel]] = {
    ("Error", "properties", "error"): views.ErrorDetail,
    ("Agreement", "properties", "signatures", "items"): views.SignatureBody,
    ("Proposal", "properties", "answers", "additionalProperties"): views.AnswerBody,
    ("BrowserSeatList", "properties", "seats", "items"): views.HeldSeat,
    ("OrganiserRooms", "properties", "rooms", "items"): views.OrganisedRoom,
    ("CreatedRoom", "properties", "seats", "items"): views.CreatedSeatBody,
}
"""Models the spec writes inline, by their path in the spec."""


def at(path: tuple[str, ...]) -> dict[str, Any]:
    node: dict[str, Any] = SCHEMAS
    for part in path:
        node = node[part]
    return node


def spec_shape(schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(properties, required) of a spec schema, ``allOf`` parts merged."""
    if "$ref" in schema:
        return spec_shape(SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]])
    props, required = set(schema.get("properties", {})), set(schema.get("required", []))
    for part in schema.get("allOf", []):
        more_props, more_required = spec_shape(part)
        props |= more_props
        required |= more_required
    return props, required


CASES = {**{(name,): model for name, model in MODELS.items()}, **NESTED}


@pytest.mark.parametrize("path", sorted(CASES), ids=".".join)
def test_the_spec_and_the_model_have_the_same_fields(path: tuple[str, ...]) -> None:
    model, name = CASES[path], ".".join(path)
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    props, required = spec_shape(at(path))
    assert props == set(schema["properties"]), name
    # Fields with a default are always sent by the server; the spec may call them required.
    defaulted = {
        field.alias or key for key, field in model.model_fields.items() if not field.is_required()
    }
    model_required = set(schema.get("required", []))
    assert model_required <= required <= model_required | defaulted, name


def test_every_answer_model_is_in_the_spec() -> None:
    answers = {
        cls
        for module in (views, ledger)
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, BaseModel)
        and cls.__module__ == module.__name__
        and cls not in (views.View, ledger.Reply)
    }
    assert answers <= set(CASES.values()), answers - set(CASES.values())
