"""Batched reads: concurrent callers share fetches, never one that began before they asked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from server.services.coalesce import Batched


class Source:
    """A store whose fetches take a while and record what they were asked and saw."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None
        self.started = asyncio.Event()

    async def fetch(self, keys: Sequence[str]) -> dict[str, int]:
        self.calls.append(list(keys))
        self.started.set()
        snapshot = {k: self.values[k] for k in keys if k in self.values}
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return snapshot


async def test_callers_of_one_moment_share_one_fetch() -> None:
    source = Source()
    source.values = {"a": 1, "b": 2}
    batched = Batched(source.fetch)
    got = await asyncio.gather(*(batched.get(k) for k in ["a", "b", "a", "b", "a"]))
    assert got == [1, 2, 1, 2, 1]
    assert source.calls == [["a", "b"]]


async def test_a_caller_never_shares_a_fetch_that_began_before_it_asked() -> None:
    source = Source()
    source.values = {"k": 1}
    source.gate.clear()
    batched = Batched(source.fetch)
    first = asyncio.create_task(batched.get("k"))
    await source.started.wait()  # the first fetch has read k = 1 and waits
    source.values["k"] = 2  # committed before the second caller asks
    second = asyncio.create_task(batched.get("k"))
    third = asyncio.create_task(batched.get("k"))
    await asyncio.sleep(0)
    source.gate.set()
    assert await first == 1
    assert await second == 2 and await third == 2  # they share the next fetch
    assert source.calls == [["k"], ["k"]]


async def test_missing_keys_and_failures_reach_exactly_their_callers() -> None:
    source = Source()
    source.values = {"a": 1}
    batched = Batched(source.fetch)
    with pytest.raises(KeyError):
        await batched.get("missing")
    source.fail = RuntimeError("database went away")
    results = await asyncio.gather(batched.get("a"), batched.get("b"), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    source.fail = None
    assert await batched.get("a") == 1  # a failed fetch leaves nothing behind


async def test_batches_are_bounded_and_groups_fetch_separately() -> None:
    source = Source()
    source.values = {f"{room}:{i}": i for room in "xy" for i in range(5)}
    batched = Batched(source.fetch, max_batch=2, group=lambda key: key.split(":")[0])
    keys = list(source.values)
    assert await asyncio.gather(*(batched.get(k) for k in keys)) == [source.values[k] for k in keys]
    assert all(len(call) <= 2 for call in source.calls)
    assert all(len({k.split(":")[0] for k in call}) == 1 for call in source.calls)
    assert sorted(k for call in source.calls for k in call) == sorted(keys)


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    source = Source()
    source.values = {"k": 7}
    source.gate.clear()
    batched = Batched(source.fetch)
    a = asyncio.create_task(batched.get("k"))
    b = asyncio.create_task(batched.get("k"))
    await source.started.wait()
    a.cancel()
    source.gate.set()
    assert await b == 7
    with pytest.raises(asyncio.CancelledError):
        await a
