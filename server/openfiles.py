"""The process's open-file limit: every socket is a file descriptor.

``parley serve`` raises its soft ``RLIMIT_NOFILE`` to the hard limit at start, so the number
of connections one process can hold is bounded by what the administrator allowed, not by the
shell's conservative default (often 1024). See docs/operations.md.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

UNLIMITED_TARGET = 1_048_576
"""What an unlimited hard limit is raised to: Linux's default ``fs.nr_open``."""


@dataclass(frozen=True, slots=True)
class OpenFiles:
    before: int
    """The soft limit the process started with."""
    soft: int
    """The soft limit now."""
    hard: int
    """The hard limit (-1: unlimited)."""

    def describe(self) -> str:
        hard = "unlimited" if self.hard == resource.RLIM_INFINITY else str(self.hard)
        if self.soft == self.before:
            return f"open files: soft limit {self.soft}, hard limit {hard}"
        return f"open files: soft limit raised from {self.before} to {self.soft}, hard limit {hard}"


def raise_open_file_limit() -> OpenFiles:
    """Raise the soft limit on open files as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, UNLIMITED_TARGET)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
    return OpenFiles(before=soft, soft=resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard=hard)
