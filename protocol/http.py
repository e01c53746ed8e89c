"""Bodies of the HTTP API's requests (docs/openapi.yaml documents them with the responses)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel

from protocol.frames import Audience, ClientFrame, CommandId, Identifier, Text, Title, Token


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class RedeemInvite(Body):
    token: Token


class PostMessageBody(Body):
    id: CommandId
    text: Text


class OpenBackchannelBody(Body):
    id: CommandId
    parties: Annotated[list[Identifier], Field(min_length=1, max_length=16)]
    title: Title = ""


class AcceptBackchannelBody(Body):
    id: CommandId


class DeclineBackchannelBody(Body):
    id: CommandId


class DiscloseThreadBody(Body):
    id: CommandId
    to: Audience


CommandBody = RootModel[ClientFrame]
"""``POST /api/v1/rooms/{room}/commands`` takes a command frame exactly as the WebSocket does
(``hello`` and ``ping`` are refused there: they are not room commands)."""


class SwitchRoomBody(Body):
    """``POST /api/v1/browser/switch``: which of the browser's rooms the session cookie is for."""

    room: Identifier


class OrganiserSessionBody(Body):
    """``POST /api/v1/organiser/session``: the token of an organiser link (``po_...``)."""

    token: Token


class RoomPolicyBody(Body):
    """Whether the facilitator reads private threads before any disclosure. Chosen when the
    room is created and fixed for its life (written into ``room_created``), so that every seat
    can know from the start who reads what."""

    facilitator_reads_backchannels: bool = True
    facilitator_reads_caucuses: bool = True


class CreateRoomBody(Body):
    """``POST /api/v1/organiser/rooms``: a bundled scenario's name, and the room's policy
    (the scenario's own when left out)."""

    scenario: Identifier
    policy: RoomPolicyBody | None = None
