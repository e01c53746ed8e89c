"""The throttle's rules, stepped with a fake clock."""

from __future__ import annotations

from server.web.addresses import TrustedProxies
from server.web.throttle import LogBudget, Throttle, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_the_burst_through_then_says_how_long_to_wait() -> None:
    clock = Clock()
    throttle = Throttle(per_minute=60, burst=3, clock=clock)
    assert [throttle.check("a") for _ in range(3)] == [None, None, None]
    assert throttle.check("a") == 1.0
    assert throttle.check("b") is None  # another address has its own bucket
    clock.now += 1.0
    assert throttle.check("a") is None


def test_failures_in_a_row_back_off_exponentially_and_a_success_clears_them() -> None:
    clock = Clock()
    throttle = Throttle(per_minute=6000, burst=100, backoff_after=3, backoff_cap=5, clock=clock)
    for _ in range(2):
        assert throttle.check("a") is None
        throttle.failed("a")
    assert throttle.check("a") is None
    throttle.failed("a")  # the third: 1 s
    assert throttle.check("a") == 1.0
    clock.now += 1.0
    assert throttle.check("a") is None
    throttle.failed("a")  # the fourth: 2 s
    assert throttle.check("a") == 2.0
    clock.now += 2.0
    throttle.failed("a")  # 4 s
    throttle.failed("a")  # 8 s, capped at 5
    assert throttle.check("a") == 5.0
    throttle.succeeded("a")
    assert throttle.check("a") is None


def test_a_refusal_is_logged_once_per_address_and_window() -> None:
    clock = Clock()
    throttle = Throttle(per_minute=60, burst=1, log_window=60, clock=clock)
    assert throttle.first_refusal_in_window("a")
    assert not throttle.first_refusal_in_window("a")
    assert throttle.first_refusal_in_window("b")
    clock.now += 61
    assert throttle.first_refusal_in_window("a")


def test_the_table_forgets_the_least_recently_seen_addresses_first() -> None:
    throttle = Throttle(per_minute=60, burst=1, max_keys=2, clock=Clock())
    assert throttle.check("a") is None
    assert throttle.check("b") is None
    assert throttle.check("c") is None  # "a" is forgotten
    assert throttle.check("a") is None  # a fresh bucket
    assert throttle.check("c") is not None


def test_the_log_budget_holds_back_lines_past_its_limit_and_counts_them() -> None:
    clock = Clock()
    budget = LogBudget(lines=2, window=60, clock=clock)
    assert budget.allow() == (True, 0)
    assert budget.allow() == (True, 0)
    assert budget.allow() == (False, 0)
    assert budget.allow() == (False, 0)
    clock.now += 60
    assert budget.allow() == (True, 2)


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert retry_after(0.01) == "1"
    assert retry_after(1.2) == "2"
    assert retry_after(30) == "30"


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    trusted = TrustedProxies(["10.0.0.0/8", "::1"])
    assert trusted.client_of("203.0.113.9", "198.51.100.1") == "203.0.113.9"
    assert trusted.client_of("10.1.2.3", "198.51.100.1") == "198.51.100.1"
    # The nearest untrusted hop: what an attacker writes on the left does not count.
    assert trusted.client_of("10.1.2.3", "1.2.3.4, 198.51.100.1, 10.9.9.9") == "198.51.100.1"
    assert trusted.client_of("::1", "2001:db8::5") == "2001:db8::5"
    assert trusted.client_of("10.1.2.3", "not-an-address") == "10.1.2.3"
    assert trusted.client_of("10.1.2.3", None) == "10.1.2.3"
    assert TrustedProxies([]).client_of("10.1.2.3", "198.51.100.1") == "10.1.2.3"
