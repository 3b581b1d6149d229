"""The token bucket with its recovery ramp: rates are caps, the ramp is linear, errors halve it."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexsync_actors.core.bucket import (
    CARRY_SECONDS,
    MIN_RATE,
    Bucket,
    RampPolicy,
    ramp_active,
    rate_at,
    record,
    start_ramp,
    take,
)

POLICY = RampPolicy(initial_rate=5.0, max_rate=20.0, ramp_seconds=300.0)


def policy_rate(t: float, start: float, policy: RampPolicy) -> float:
    """The cap the policy promises at `t` (written from the contract, not from the module)."""
    progress = (t - start) / policy.ramp_seconds
    if progress >= 1.0:
        return policy.max_rate
    return policy.initial_rate + (policy.max_rate - policy.initial_rate) * progress


def policy_jobs(a: float, b: float, start: float, policy: RampPolicy) -> float:
    """How many jobs the policy allows in [a, b]: the integral of its rate."""
    end = start + policy.ramp_seconds
    ramp_part = max(0.0, min(b, end) - a)
    ramp_jobs = ramp_part * (
        policy_rate(a, start, policy) + policy_rate(a + ramp_part, start, policy)
    )
    return ramp_jobs / 2.0 + max(0.0, b - max(a, end)) * policy.max_rate


def greedy(bucket: Bucket, t: float, until: float, policy: RampPolicy) -> list[float]:
    """Admission times of a caller that always comes back exactly when told to."""
    times = []
    while t < until:
        bucket, wait = take(bucket, t, policy)
        if wait == 0.0:
            times.append(t)
        else:
            t += wait
    return times


def achieved_rate(rate: float, admissions: int, sleep: Callable[[float], float]) -> float:
    """Jobs/s at a steady cap for a caller whose every sleep of `wait` lasts `sleep(wait)`."""
    policy = RampPolicy(initial_rate=rate, max_rate=rate, ramp_seconds=1.0)
    bucket, t, times = Bucket(), 0.0, []
    while len(times) < admissions:
        bucket, wait = take(bucket, t, policy)
        if wait == 0.0:
            times.append(t)
        else:
            t += sleep(wait)
    return (admissions - 1) / (times[-1] - times[0])


def epoll_sleep(wait: float) -> float:
    """How long trio sleeps on Linux: epoll's timeout in whole milliseconds, rounded up, plus the
    wake-up itself."""
    return math.ceil(wait * 1000.0) / 1000.0 + 0.0001


# -- plain transitions ----------------------------------------------------------------------------
def test_fresh_bucket_admits_at_once_then_paces_at_max_rate() -> None:
    bucket, wait = take(Bucket(), 10.0, POLICY)
    assert wait == 0.0 and bucket.tokens == 0.0
    _, wait = take(bucket, 10.0, POLICY)
    assert wait == pytest.approx(1 / 20)


def test_a_long_idle_buys_no_burst() -> None:
    bucket, _ = take(Bucket(), 0.0, POLICY)
    bucket, wait = take(bucket, 3600.0, POLICY)
    assert wait == 0.0
    _, wait = take(bucket, 3600.0, POLICY)
    assert wait > 0.0


def test_a_long_idle_at_a_high_rate_buys_only_the_carry() -> None:
    fast = RampPolicy(initial_rate=1000.0, max_rate=1000.0, ramp_seconds=1.0)
    bucket, _ = take(Bucket(), 0.0, fast)
    waits = []
    for _ in range(20):
        bucket, wait = take(bucket, 3600.0, fast)
        waits.append(wait)
    # One token plus 10 ms at 1,000 jobs/s, then the cap's own pace.
    assert waits[:11] == [0.0] * 11
    assert waits[11] == pytest.approx(1 / 1000)


@pytest.mark.parametrize("rate", [20.0, 200.0, 1000.0])
@pytest.mark.parametrize(
    "sleep",
    [epoll_sleep, lambda wait: wait + 0.002, lambda wait: wait + 0.9 * CARRY_SECONDS],
    ids=["epoll-rounding", "2-ms-late", "late-by-most-of-the-carry"],
)
def test_a_caller_that_always_wakes_late_still_gets_the_full_rate(
    rate: float, sleep: Callable[[float], float]
) -> None:
    # The carry is credit for lateness: each late wake-up shortens the next wait by as much.
    assert achieved_rate(rate, 2000, sleep) == pytest.approx(rate, rel=0.005)


def test_ramp_starts_empty_so_the_first_job_waits_one_initial_interval() -> None:
    bucket = start_ramp(Bucket(tokens=1.0, factor=0.25, recent=(False,)), 100.0)
    assert bucket == Bucket(tokens=0.0, last_refill=100.0, ramp_start=100.0)
    _, wait = take(bucket, 100.0, POLICY)
    assert wait == pytest.approx(1 / 5)


@pytest.mark.parametrize(("elapsed", "rate"), [(0, 5.0), (150, 12.5), (299.9, 19.995), (300, 20.0)])
def test_ramp_rate_rises_linearly_to_max(elapsed: float, rate: float) -> None:
    bucket = start_ramp(Bucket(), 100.0)
    assert rate_at(bucket, 100.0 + elapsed, POLICY) == pytest.approx(rate)


def test_ramp_is_active_only_during_ramp_seconds() -> None:
    bucket = start_ramp(Bucket(), 100.0)
    assert ramp_active(bucket, 100.0, POLICY) and ramp_active(bucket, 399.9, POLICY)
    assert not ramp_active(bucket, 400.0, POLICY)
    assert not ramp_active(Bucket(), 100.0, POLICY)
    assert rate_at(Bucket(), 0.0, POLICY) == 20.0


def test_a_refill_across_the_end_of_the_ramp_credits_exactly_what_the_policy_allows() -> None:
    steep = RampPolicy(initial_rate=1.0, max_rate=101.0, ramp_seconds=0.5)
    bucket = Bucket(tokens=0.0, last_refill=0.495, ramp_start=0.0)
    _, wait = take(bucket, 0.504, steep)
    # The midpoint 0.4995 lies on the ramp; its rate over the whole interval would overshoot.
    assert wait == pytest.approx((1.0 - policy_jobs(0.495, 0.504, 0.0, steep)) / 101.0)


def test_greedy_caller_achieves_the_ramp_within_five_percent() -> None:
    times = greedy(start_ramp(Bucket(), 0.0), 0.0, 400.0, POLICY)
    for a, b in [(0, 20), (140, 160), (280, 300), (300, 400)]:
        achieved = sum(a <= t < b for t in times)
        assert achieved == pytest.approx(policy_jobs(a, b, 0.0, POLICY), rel=0.05)


def test_outcomes_outside_a_ramp_are_ignored() -> None:
    bucket = Bucket()
    assert record(bucket, False, 0.0, POLICY) is bucket


def test_six_failures_in_twenty_keep_the_rate() -> None:
    bucket = start_ramp(Bucket(), 0.0)
    for ok in [False] * 6 + [True] * 14:
        bucket = record(bucket, ok, 1.0, POLICY)
    assert bucket.factor == 1.0 and len(bucket.recent) == 20


def test_more_than_thirty_percent_failures_halve_the_rate_and_start_a_new_window() -> None:
    bucket = start_ramp(Bucket(), 0.0)
    for ok in [True] * 13 + [False] * 7:
        bucket = record(bucket, ok, 150.0, POLICY)
    assert bucket.factor == 0.5 and bucket.recent == ()
    assert rate_at(bucket, 150.0, POLICY) == pytest.approx(12.5 / 2)


def test_only_the_last_twenty_jobs_count() -> None:
    bucket = start_ramp(Bucket(), 0.0)
    for ok in [False] * 6 + [True] * 20 + [False]:
        bucket = record(bucket, ok, 1.0, POLICY)
    assert bucket.factor == 1.0


def test_halving_never_goes_below_one_job_per_second() -> None:
    bucket = start_ramp(Bucket(), 0.0)
    for _ in range(10):
        for _ in range(7):
            bucket = record(bucket, False, 1.0, POLICY)
    assert rate_at(bucket, 1.0, POLICY) == MIN_RATE


def test_halving_never_raises_a_rate_already_below_one_job_per_second() -> None:
    slow = RampPolicy(initial_rate=0.5, max_rate=2.0, ramp_seconds=100.0)
    bucket = start_ramp(Bucket(), 0.0)
    before = rate_at(bucket, 1.0, slow)
    for _ in range(7):
        bucket = record(bucket, False, 1.0, slow)
    assert bucket.factor == 0.5
    assert rate_at(bucket, 1.0, slow) <= before


def test_the_ramp_ends_at_max_rate_even_after_halving() -> None:
    bucket = start_ramp(Bucket(), 0.0)
    for _ in range(7):
        bucket = record(bucket, False, 1.0, POLICY)
    assert rate_at(bucket, 300.0, POLICY) == 20.0


# -- invariants -----------------------------------------------------------------------------------
POLICIES = st.builds(
    lambda initial, extra, seconds: RampPolicy(
        initial_rate=initial, max_rate=initial + extra, ramp_seconds=seconds
    ),
    st.floats(min_value=0.1, max_value=50.0),
    st.floats(min_value=0.0, max_value=1000.0),
    st.floats(min_value=0.5, max_value=600.0),
)
# Each step the caller either comes back after the suggested wait plus a lag, or early. Lags
# near the carry exercise it at high rates, where it is several tokens.
LAGS = st.floats(min_value=0.0, max_value=3.0) | st.floats(min_value=0.0, max_value=0.02)
STEPS = st.lists(st.tuples(st.booleans(), LAGS), min_size=1, max_size=150)


@given(POLICIES, STEPS, st.booleans())
def test_bucket_never_admits_faster_than_the_policy_over_any_window(
    policy: RampPolicy, steps: list[tuple[bool, float]], ramping: bool
) -> None:
    bucket = start_ramp(Bucket(), 0.0) if ramping else Bucket()
    start = 0.0 if ramping else -policy.ramp_seconds  # no ramp: the policy is max_rate
    t = 0.0
    admitted: list[float] = []
    for obeys, lag in steps:
        bucket, wait = take(bucket, t, policy)
        if wait == 0.0:
            admitted.append(t)
        assert -1e-9 <= bucket.tokens <= 1.0 + CARRY_SECONDS * policy.max_rate
        t += wait + lag if obeys else lag / 10.0
    # For every window [t_i, t_j]: j - i + 1 <= 1 + CARRY_SECONDS x r(t_i) + F(t_j) - F(t_i), F
    # the policy's job count since 0 and r its rate: one token plus the carry, never more. In one
    # pass: max over j of (j - F(t_j)) - min over i <= j of (i - F(t_i) + CARRY_SECONDS x r(t_i))
    # <= 0.
    lowest = float("inf")
    for n, at in enumerate(admitted):
        slack = n - policy_jobs(0.0, at, start, policy)
        lowest = min(lowest, slack + CARRY_SECONDS * policy_rate(at, start, policy))
        assert slack - lowest <= 1e-6 * (n + 1)


@given(POLICIES, st.lists(st.booleans(), max_size=120), st.floats(min_value=0, max_value=2))
def test_recorded_outcomes_only_ever_lower_the_rate_and_keep_it_positive(
    policy: RampPolicy, outcomes: list[bool], progress: float
) -> None:
    bucket = start_ramp(Bucket(), 0.0)
    now = progress * policy.ramp_seconds
    unhalved = rate_at(bucket, now, policy)
    for ok in outcomes:
        before = bucket.factor
        bucket = record(bucket, ok, now, policy)
        assert bucket.factor in (before, before / 2)
        assert len(bucket.recent) <= 20
    rate = rate_at(bucket, now, policy)
    assert 0.0 < rate <= unhalved
    assert rate >= min(unhalved, MIN_RATE)
