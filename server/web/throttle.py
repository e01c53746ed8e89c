"""Per-key throttles: a token bucket with exponential back-off, and a bounded log budget.

Pure bookkeeping with an injected clock, so the rules are tested without a server. The key is
a client address; the tables are bounded (least recently seen keys are forgotten first), so a
flood from many addresses costs memory in proportion to ``max_keys``, not to the flood.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(slots=True)
class _Entry:
    tokens: float
    stamp: float
    failures: int = 0
    blocked_until: float = 0.0
    logged_until: float = 0.0


class Throttle:
    """A token bucket per key, plus back-off after ``backoff_after`` failures in a row.

    :meth:`check` spends a token or says how long to wait; :meth:`failed` and
    :meth:`succeeded` report the outcome of an attempt that was let through. After the
    ``backoff_after``-th failure in a row a key waits 1 s, then 2 s, 4 s ... (at most
    ``backoff_cap``) before its next attempt; a success clears the count.
    """

    def __init__(
        self,
        *,
        per_minute: int,
        burst: int,
        backoff_after: int | None = None,
        backoff_cap: float = 900.0,
        log_window: float = 60.0,
        max_keys: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.backoff_after = backoff_after
        self.backoff_cap = backoff_cap
        self.log_window = log_window
        self.max_keys = max_keys
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _entry(self, key: str, now: float) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(tokens=self.burst, stamp=now)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
            entry.tokens = min(self.burst, entry.tokens + (now - entry.stamp) * self.rate)
            entry.stamp = now
        return entry

    def check(self, key: str) -> float | None:
        """None if ``key`` may go ahead (a token is spent), else the seconds to wait."""
        now = self.clock()
        entry = self._entry(key, now)
        if entry.blocked_until > now:
            return entry.blocked_until - now
        if entry.tokens < 1.0:
            return (1.0 - entry.tokens) / self.rate
        entry.tokens -= 1.0
        return None

    def failed(self, key: str) -> None:
        now = self.clock()
        entry = self._entry(key, now)
        entry.failures += 1
        if self.backoff_after is not None and entry.failures >= self.backoff_after:
            delay = min(self.backoff_cap, 2.0 ** (entry.failures - self.backoff_after))
            entry.blocked_until = now + delay

    def succeeded(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.failures = 0
            entry.blocked_until = 0.0

    def first_refusal_in_window(self, key: str) -> bool:
        """True once per key and log window: whether this refusal deserves a log line."""
        now = self.clock()
        entry = self._entry(key, now)
        if entry.logged_until > now:
            return False
        entry.logged_until = now + self.log_window
        return True


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class LogBudget:
    """At most ``lines`` log lines per ``window`` seconds; counts what it held back."""

    def __init__(self, *, lines: int = 20, window: float = 60.0, clock: Clock = time.monotonic):
        self.lines = lines
        self.window = window
        self.clock = clock
        self._window_end = 0.0
        self._used = 0
        self.suppressed = 0

    def allow(self) -> tuple[bool, int]:
        """(may log now, how many lines were held back since the last allowed one)."""
        now = self.clock()
        if now >= self._window_end:
            self._window_end = now + self.window
            self._used = 0
        if self._used >= self.lines:
            self.suppressed += 1
            return False, 0
        self._used += 1
        held, self.suppressed = self.suppressed, 0
        return True, held
