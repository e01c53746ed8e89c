"""Event frames, encoded once per event and visibility and shared by every receiver.

The record is embedded as its canonical bytes, exactly as hashed, so a client can check the
leaf hash of every full event it receives. The shapes are those of ``protocol.frames.EventFrame``
(a test validates encoded frames against the model).
"""

from __future__ import annotations

from datetime import datetime
from json.encoder import encode_basestring_ascii

from server.domain.events import format_timestamp
from server.domain.visibility import Visibility
from server.storage.records import StoredEvent

_dumps = encode_basestring_ascii
"""``json.dumps`` of a string, without the encoder's Python layers around it (what
``json.dumps`` itself calls for a ``str``; a test holds the frames equal to the model's)."""
_last_time: list[tuple[object, str]] = [(None, "")]
"""The last time formatted: a commit's events share one ``created_at`` object."""


def _timestamp(moment: datetime) -> str:
    last, text = _last_time[0]
    if moment is not last:
        text = format_timestamp(moment)
        _last_time[0] = (moment, text)
    return text


def event_fields(event: StoredEvent, vis: Visibility) -> str:
    """The JSON members (without braces) of an event as ``vis`` allows, never for ``hidden``."""
    if vis == Visibility.HIDDEN:
        raise ValueError("a hidden event is never encoded for a viewer")
    head = (
        f'"room":{_dumps(event.room_id)},"seq":{event.seq},"kind":{_dumps(event.kind)},'
        f'"stage":{_dumps(event.stage)},"ts":"{_timestamp(event.created_at)}",'
        f'"leaf_hash":"{event.leaf_hash.hex()}"'
    )
    if vis == Visibility.FULL:
        return head + f',"sealed":false,"record":{event.record.decode()}'
    return head + ',"sealed":true,"record":null'


def own_fields(event: StoredEvent) -> str:
    """For the seat whose command appended ``event``: that command's id (outside the record,
    so the log and its hashes are the same for everyone)."""
    if event.command_id is None:
        return ""
    return f',"command_id":{_dumps(event.command_id)}'


def event_frame(event: StoredEvent, vis: Visibility, *, own: bool = False) -> str:
    """The ``event`` frame; ``own``: sent to the seat that acted (it carries the command id)."""
    tail = own_fields(event) if own else ""
    return '{"v":1,"type":"event",' + event_fields(event, vis) + tail + "}"


def with_command_id(frame: str, event: StoredEvent) -> str:
    """``event_frame(event, vis, own=True)`` from ``event_frame(event, vis)``, re-encoding
    nothing: the command id is the frame's last member."""
    return frame[:-1] + own_fields(event) + "}"


def event_object(event: StoredEvent, vis: Visibility, *, own: bool = False) -> str:
    """The event as a JSON object for HTTP pages (the frame without ``v`` and ``type``)."""
    return "{" + event_fields(event, vis) + (own_fields(event) if own else "") + "}"
