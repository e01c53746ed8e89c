"""One thread of its own for blocking work the event loop hands over, one job at a time.

The SQLite log writer's transactions run here (each ends in an fsync, which must not stall the
loop). ``asyncio.to_thread`` would do the same through the loop's default pool, at about twice
the CPU per hop on one core: a pool future chained to an asyncio future, and now and then a
second pool thread woken, so that the loop was preempted about three times per commit. Here the
thread blocks on a queue and answers through ``call_soon_threadsafe``: jobs run in the order
they were handed over, always on the same thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class WorkerThread:
    """Runs callables on one thread, started on first use; :meth:`stop` ends it.

    Args:
        name: the thread's name (it shows in stack dumps and profiles).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def run(self, job: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``job`` on the thread after those handed over before it; the future gets its
        result or exception. Cancelling the future does not stop a job already handed over."""
        if self._stopped:
            raise RuntimeError(f"{self._name} is stopped")
        if self._thread is None:
            # Daemon: a worker left running by a process that never stopped it must not keep
            # the interpreter from exiting.
            self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, job))
        return future

    async def stop(self) -> None:
        """Let the jobs handed over so far finish, then end the thread."""
        if self._stopped:
            return
        self._stopped = True
        thread = self._thread
        if thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(thread.join)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _main(self) -> None:
        jobs = self._jobs
        while True:
            item = jobs.get()
            if item is None:
                return
            loop, future, job = item
            try:
                result, error = job(), None
            except BaseException as exc:  # handed to the waiter, whatever it is
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                log.warning("%s finished a job after its event loop closed", self._name)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the waiter was cancelled; the job ran all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
