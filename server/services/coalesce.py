"""Shared reads: many concurrent callers asking for the same kind of thing, one query.

A reconnect storm is thousands of ``hello`` frames in a second, each needing its session looked
up, its room's state caught up and the log read from its seq. One query each, serialised on the
database's connections, greets about a hundred and fifty sockets a second; the same answers
fetched in batches greet thousands.

:class:`Batched` collects the keys asked for while a fetch runs and fetches them together next.
A caller never shares a fetch that started *before* it asked: the answer it gets was read after
its call, so it sees every commit (a revocation, an event) that happened before it asked, exactly
as a query of its own would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Waiting = dict[K, list["asyncio.Future[V]"]]


def _one_group(key: object) -> None:
    return None


class Batched(Generic[K, V]):
    """``get(key)`` answered by ``fetch(keys)``, one fetch at a time per group, keys gathered
    meanwhile.

    Args:
        fetch: reads the values of up to ``max_batch`` distinct keys of one group; a key
            missing from its answer raises :class:`KeyError` in that key's callers. If it
            raises, every caller of that batch gets the exception.
        max_batch: the most keys one fetch is given (the rest wait for the next).
        group: keys of different groups are fetched separately and concurrently (one room's
            long read does not hold up another room's); by default all keys are one group.
    """

    def __init__(
        self,
        fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]],
        *,
        max_batch: int = 500,
        group: Callable[[K], Hashable] = _one_group,
    ) -> None:
        self._fetch = fetch
        self._max_batch = max_batch
        self._group = group
        self._waiting: dict[Hashable, Waiting[K, V]] = {}
        self._runners: dict[Hashable, asyncio.Task[None]] = {}
        self.fetches = 0
        """Fetches run so far (for tests and benchmarks)."""

    async def get(self, key: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        group = self._group(key)
        waiting = self._waiting.setdefault(group, {})
        waiting.setdefault(key, []).append(future)
        if group not in self._runners:
            self._runners[group] = asyncio.create_task(self._run(group, waiting))
        return await future  # each caller has its own future: cancelling one cancels no other

    async def _run(self, group: Hashable, waiting: Waiting[K, V]) -> None:
        batch: Waiting[K, V] = {}
        try:
            while waiting:
                keys = list(waiting)[: self._max_batch]
                batch = {key: waiting.pop(key) for key in keys}
                self.fetches += 1
                try:
                    found = await self._fetch(keys)
                except Exception as exc:
                    _fail(batch, exc)
                    continue
                _settle(batch, found)
        finally:
            del self._runners[group]
            del self._waiting[group]
            # Cancelled (shutdown) with callers waiting: they must not hang.
            for futures in (*batch.values(), *waiting.values()):
                for future in futures:
                    if not future.done():
                        future.cancel()


def _settle(batch: Waiting[K, V], found: Mapping[K, V]) -> None:
    for key, futures in batch.items():
        for future in futures:
            if future.done():
                continue
            if key in found:
                future.set_result(found[key])
            else:
                future.set_exception(KeyError(key))


def _fail(batch: Waiting[K, V], exc: Exception) -> None:
    for futures in batch.values():
        for future in futures:
            if not future.done():
                future.set_exception(exc)
