"""Refusals of the negotiation rules. Each names the field at fault when one is.

::

    DomainError
     ├── Invalid      a value is malformed or out of range
     │    └── TooLong a text is longer than allowed
     ├── NotFound     no such thing for this seat (hidden things are reported as absent)
     ├── Forbidden    the seat may not do this
     └── Conflict     the room's state does not allow it now
          └── StageClosed  a rule of the current stage closes this action

The web layer maps each to a wire error code in one table (server/web/errors.py).
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    pass


class TooLong(Invalid):
    pass


class NotFound(DomainError):
    pass


class Forbidden(DomainError):
    pass


class Conflict(DomainError):
    pass


class StageClosed(Conflict):
    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message, field=None)
        self.rule = rule
