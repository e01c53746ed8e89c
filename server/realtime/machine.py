"""The states of one WebSocket connection and every legal step between them, as one table.

h11 is the model: the gateway feeds each thing that happens to a connection (a frame decoded, a
``hello`` accepted, a timer fired, the peer gone) into :meth:`Machine.step`, which looks the
(state, input) pair up in :data:`TRANSITIONS` and answers what to do: the next state, the error
code to answer with (if any) and the close code to close with (if any). A pair that is not in the
table is a bug in the caller, raised as :class:`IllegalStep` with both names.

::

    AWAITING_HELLO ──hello accepted──▶ GREETED
         │  ▲ command/ping/bad frame/refused hello: error, stay
         │                              │ command, ping, bad frame, second hello, rate limited: stay
         ├── hello with a bad token ────┼──▶ CLOSING (4001)
         ├── no hello in time ──────────┼──▶ CLOSING (4000)
         ├── reader too slow ───────────┼──▶ CLOSING (4008)
         │                              ├── seat revoked ─────▶ CLOSING (4003)
         │                              ├── session ended ────▶ CLOSING (4001)
         │                              └── replay failed ────▶ CLOSING (1011)
         └── shutdown (1001) ─▶ CLOSING ──closed──▶ CLOSED ◀── peer closed (from any state)

Pure: no I/O, no asyncio; the tests step it synchronously.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import CloseCode, ErrorCode


class State(StrEnum):
    AWAITING_HELLO = "awaiting_hello"
    """Open; nothing but ``hello`` is served yet."""
    GREETED = "greeted"
    """``welcome`` sent: commands are served and the seats' events flow."""
    CLOSING = "closing"
    """A close frame is on its way; nothing more is read or answered."""
    CLOSED = "closed"


class Input(StrEnum):
    HELLO_ACCEPTED = "hello_accepted"
    HELLO_REFUSED = "hello_refused"
    """A ``hello`` the server answered with an error (two seats in one room, a seq too far)."""
    BAD_TOKEN = "bad_token"
    HELLO = "hello"
    """A ``hello`` on a connection that has its seats."""
    COMMAND = "command"
    PING = "ping"
    BAD_FRAME = "bad_frame"
    """A frame that does not decode, or is too large, or binary."""
    RATE_LIMITED = "rate_limited"
    HELLO_TIMEOUT = "hello_timeout"
    TOO_SLOW = "too_slow"
    SEAT_REVOKED = "seat_revoked"
    SESSION_ENDED = "session_ended"
    """A session the connection was greeted with was ended: signed out, or dropped from a
    browser's cookie when it joined another seat of the room."""
    REPLAY_FAILED = "replay_failed"
    FAILED = "failed"
    """Serving the connection failed (the database went away during ``hello``): the close code
    comes from the error table in ``server/web/errors.py``."""
    SHUTDOWN = "shutdown"
    PEER_CLOSED = "peer_closed"
    CLOSED = "closed"
    """The close handshake finished (or the socket died)."""


@dataclass(frozen=True, slots=True)
class Step:
    """What a legal step does.

    Attributes:
        next: the state after it.
        answer: the error code to answer the frame with (None: the frame is served).
        close: the close code to close the socket with (None: stay open).
    """

    next: State
    answer: ErrorCode | None = None
    close: CloseCode | None = None


class IllegalStep(RuntimeError):
    """An input that the connection's state does not admit: a bug in the caller."""

    def __init__(self, state: State, event: Input) -> None:
        super().__init__(f"a connection in state {state.value!r} cannot take {event.value!r}")
        self.state, self.input = state, event


_A, _G, _CLOSING, _CLOSED = State.AWAITING_HELLO, State.GREETED, State.CLOSING, State.CLOSED

TRANSITIONS: dict[tuple[State, Input], Step] = {
    # Before hello: only hello is served; anything else is answered and waits for hello.
    (_A, Input.HELLO_ACCEPTED): Step(_G),
    (_A, Input.HELLO_REFUSED): Step(_A),
    (_A, Input.BAD_TOKEN): Step(_CLOSING, ErrorCode.UNAUTHENTICATED, CloseCode.UNAUTHENTICATED),
    (_A, Input.COMMAND): Step(_A, ErrorCode.HELLO_REQUIRED),
    (_A, Input.PING): Step(_A, ErrorCode.HELLO_REQUIRED),
    (_A, Input.BAD_FRAME): Step(_A),
    (_A, Input.HELLO_TIMEOUT): Step(_CLOSING, close=CloseCode.HELLO_TIMEOUT),
    (_A, Input.TOO_SLOW): Step(_CLOSING, close=CloseCode.TOO_SLOW),
    (_A, Input.SHUTDOWN): Step(_CLOSING, close=CloseCode.GOING_AWAY),
    (_A, Input.FAILED): Step(_CLOSING),
    (_A, Input.PEER_CLOSED): Step(_CLOSED),
    # Greeted: commands and pings are served; a second hello is refused.
    (_G, Input.COMMAND): Step(_G),
    (_G, Input.PING): Step(_G),
    (_G, Input.HELLO): Step(_G, ErrorCode.ALREADY_GREETED),
    (_G, Input.BAD_FRAME): Step(_G),
    (_G, Input.RATE_LIMITED): Step(_G, ErrorCode.RATE_LIMITED),
    (_G, Input.TOO_SLOW): Step(_CLOSING, close=CloseCode.TOO_SLOW),
    (_G, Input.SEAT_REVOKED): Step(_CLOSING, close=CloseCode.SEAT_REVOKED),
    (_G, Input.SESSION_ENDED): Step(_CLOSING, close=CloseCode.UNAUTHENTICATED),
    (_G, Input.REPLAY_FAILED): Step(_CLOSING, close=CloseCode.INTERNAL_ERROR),
    (_G, Input.SHUTDOWN): Step(_CLOSING, close=CloseCode.GOING_AWAY),
    (_G, Input.PEER_CLOSED): Step(_CLOSED),
    # Closing: late reasons to close change nothing; the handshake ends it.
    **{(_CLOSING, late): Step(_CLOSING) for late in Input if late not in {Input.CLOSED}},
    (_CLOSING, Input.CLOSED): Step(_CLOSED),
    (_A, Input.CLOSED): Step(_CLOSED),
    (_G, Input.CLOSED): Step(_CLOSED),
    (_CLOSED, Input.CLOSED): Step(_CLOSED),
}
"""Every legal (state, input) pair. A closed connection takes nothing but ``closed``."""


class Machine:
    """One connection's state; :meth:`step` is the only way to change it."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = State.AWAITING_HELLO

    def step(self, event: Input) -> Step:
        found = TRANSITIONS.get((self.state, event))
        if found is None:
            raise IllegalStep(self.state, event)
        self.state = found.next
        return found

    @property
    def open(self) -> bool:
        """Whether frames are still read and answered."""
        return self.state in (State.AWAITING_HELLO, State.GREETED)
