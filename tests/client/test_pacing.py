"""The client's token bucket, stepped with a fake clock."""

from __future__ import annotations

import pytest

from client.pacing import RATE_MARGIN, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_spends_its_burst_then_waits_for_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(4, 3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.delay() == 0.25
    clock.now += 0.125
    assert bucket.delay() == 0.125
    clock.now += 0.125
    assert bucket.delay() == 0.0 and bucket.take()


def test_tokens_never_exceed_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 2, clock=clock)
    clock.now += 60
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_drain_leaves_nothing_to_spend() -> None:
    bucket = TokenBucket(4, 8, clock=Clock())
    bucket.drain()
    assert not bucket.take()
    assert bucket.delay() == pytest.approx(0.25)


def test_a_bucket_for_the_server_stays_inside_its_limits() -> None:
    bucket = TokenBucket.for_server(commands_per_second=20, command_burst=40)
    assert (bucket.rate, bucket.burst) == (20 * RATE_MARGIN, 20)
    assert TokenBucket.for_server(1, 1).burst == 1


def test_a_bucket_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 0)
