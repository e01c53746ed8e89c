"""The worker thread: jobs run in order on one thread of its own, their outcome reaches the
waiter, a cancelled waiter loses no job, and stopping ends the thread after its jobs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.storage.worker import WorkerThread


async def test_jobs_run_in_order_on_one_thread_of_their_own() -> None:
    worker = WorkerThread("test-worker")
    ran: list[tuple[int, str]] = []

    def job(i: int) -> int:
        ran.append((i, threading.current_thread().name))
        return i * i

    futures = [worker.run(lambda i=i: job(i)) for i in range(50)]
    assert await asyncio.gather(*futures) == [i * i for i in range(50)]
    assert [i for i, _ in ran] == list(range(50))
    assert {name for _, name in ran} == {"test-worker"}
    assert threading.current_thread().name != "test-worker"
    await worker.stop()


async def test_a_failing_job_fails_its_waiter_only() -> None:
    worker = WorkerThread("test-worker")

    def boom() -> int:
        raise ValueError("bad input")

    failing, after = worker.run(boom), worker.run(lambda: 7)
    with pytest.raises(ValueError, match="bad input"):
        await failing
    assert await after == 7
    await worker.stop()


async def test_a_cancelled_waiter_loses_no_job() -> None:
    worker = WorkerThread("test-worker")
    gate = threading.Event()
    ran: list[str] = []

    def slow() -> None:
        gate.wait(10)
        ran.append("slow")

    waiting = asyncio.ensure_future(worker.run(slow))
    await asyncio.sleep(0)
    waiting.cancel()
    later = worker.run(lambda: ran.append("later"))
    gate.set()
    await later
    assert ran == ["slow", "later"]
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await worker.stop()


async def test_stop_lets_handed_over_jobs_finish_then_ends_the_thread() -> None:
    worker = WorkerThread("test-worker")
    gate = threading.Event()
    done: list[int] = []
    first = worker.run(lambda: (gate.wait(10), done.append(1)))
    second = worker.run(lambda: done.append(2))
    assert worker.running
    stopping = asyncio.ensure_future(worker.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # the first job still holds the thread
    gate.set()
    await stopping
    await asyncio.gather(first, second)
    assert done == [1, 2]
    assert not worker.running
    with pytest.raises(RuntimeError, match="stopped"):
        worker.run(lambda: None)


async def test_stopping_an_unused_worker_starts_no_thread() -> None:
    worker = WorkerThread("test-worker")
    await worker.stop()
    assert not worker.running
