"""Event frames: the actor's copy (with its command id) is everyone else's plus that one member."""

from __future__ import annotations

import json

from protocol.frames import SERVER_FRAME, EventFrame
from server.domain.visibility import FULL, SEALED
from server.services.views.frames import event_frame, with_command_id
from server.storage.writer import LogWriter
from tests.factories import make_event, make_room_spec, room_created


async def test_the_actors_frame_is_the_shared_one_with_the_command_id(writer: LogWriter) -> None:
    spec = make_room_spec()
    await writer.create_room(spec, [room_created()])
    with_id = (await writer.append(spec.room_id, make_event(), command_id="c-own-1")).first
    without = (await writer.append(spec.room_id, make_event())).first
    for event in (with_id, without):
        for vis in (FULL, SEALED):
            own = event_frame(event, vis, own=True)
            assert with_command_id(event_frame(event, vis), event) == own
            decoded = SERVER_FRAME.validate_json(own)
            assert isinstance(decoded, EventFrame)
            assert decoded.command_id == event.command_id
            assert json.loads(own)["seq"] == event.seq
    assert with_id.command_id == "c-own-1" and without.command_id is None
