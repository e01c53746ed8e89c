"""Client-side pacing, so that the server's per-connection token bucket never refuses a command.

The server allows ``commands_per_second`` on average and ``command_burst`` at once (its
``welcome`` says how many). The client spends its own tokens a little more slowly than that,
because frames sent evenly may still arrive bunched together.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RATE_MARGIN = 0.9
"""Fraction of the server's rate the client uses."""


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    @classmethod
    def for_server(cls, commands_per_second: int, command_burst: int) -> TokenBucket:
        """A bucket that stays within the server's announced limits, with a margin."""
        return cls(commands_per_second * RATE_MARGIN, max(1, command_burst // 2))

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now

    def delay(self) -> float:
        """Seconds until a token is available (0.0 if one is now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self) -> bool:
        """Spend a token if there is one."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def drain(self) -> None:
        """Spend every token (the server said we went too fast: let it recover)."""
        self._refill()
        self._tokens = 0.0
