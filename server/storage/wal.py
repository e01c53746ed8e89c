"""SQLite's write-ahead log copied into the database by a thread of its own, off the append path.

In WAL mode a commit appends pages to the log; a *checkpoint* copies them into the database file
(and fsyncs it) so that the log can start over. By default SQLite runs one inside whichever
commit takes the log past 1,000 pages, and that commit then takes tens of milliseconds instead
of one: at 200 messages a second every append behind it waits too (stalls of 40 to 65 ms were
measured with ``bench/fanout.py``). The server's log writer therefore turns that off on its
connection (``wal_autocheckpoint=0``) and :class:`WalCheckpoints` runs a ``PASSIVE`` checkpoint
every ``interval`` seconds instead, on a connection of its own: a passive checkpoint never waits
for a lock and never blocks a writer; what a reader still needs is copied on a later round.
Durability is unchanged: a commit is durable once its log pages are (``synchronous=FULL``
fsyncs the log).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class WalCheckpoints:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``path`` every ``interval`` seconds.

    Attributes:
        runs: checkpoints run so far (each copies whatever the log holds that no reader needs).
    """

    def __init__(self, path: Path, *, interval: float = 0.25) -> None:
        self.path = path
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="parley-wal-checkpoints", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop after the round under way, if any (blocks until then)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        try:
            while not self._stop.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    log.exception("checkpointing the write-ahead log of %s failed", self.path)
                    continue
                self.runs += 1
        finally:
            conn.close()
