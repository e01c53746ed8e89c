"""Errors of the service layer (the domain's refusals live in server/domain/errors.py).

::

    ServiceError
     ├── Unauthenticated   no such token, or it was rotated or revoked
     └── StaleState        the room changed between a command's check and its append (internal:
                           the command service retries against the new state)
"""

from __future__ import annotations


class ServiceError(Exception):
    pass


class Unauthenticated(ServiceError):
    def __init__(self, message: str = "unknown, rotated or revoked token") -> None:
        super().__init__(message)
        self.message = message


class StaleState(ServiceError):
    pass
