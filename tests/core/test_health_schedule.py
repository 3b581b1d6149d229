"""The health-probe schedule: 5, 10, 20, 40, 60, 60 … with ±20 % jitter, and what persists."""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexsync_actors.core.health import (
    ProbePolicy,
    ProbeSchedule,
    initial,
    jittered,
    on_opened,
    on_probe_failed,
    on_probe_ok,
    on_recovered,
)

POLICY = ProbePolicy(min_interval=5.0, max_interval=60.0)
MIDDLE = 0.5  # the jitter draw that maps to a factor of exactly 1


def test_initial_schedule_starts_at_the_minimum_with_nothing_scheduled() -> None:
    assert initial(POLICY) == ProbeSchedule(interval=5.0)


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.8), (0.25, 0.9), (0.5, 1.0), (0.75, 1.1)])
def test_jitter_maps_the_draw_onto_plus_minus_twenty_percent(draw: float, factor: float) -> None:
    assert jittered(10.0, POLICY, draw) == pytest.approx(10.0 * factor)


def test_jitter_stays_below_the_upper_bound_for_draws_below_one() -> None:
    assert jittered(10.0, POLICY, 0.999999) < 12.0


def test_new_outage_schedules_the_first_probe_after_the_minimum_interval() -> None:
    worn = ProbeSchedule(interval=40.0, failures_in_row=3, probes_sent=2)
    schedule = on_opened(worn, 100.0, POLICY, MIDDLE, new_outage=True)
    assert schedule.interval == 5.0 and schedule.failures_in_row == 0
    assert schedule.next_probe_at == 105.0
    assert schedule.probes_sent == 2  # counted per outage by the recorder; reset on recovery


def test_probe_intervals_double_from_min_to_max() -> None:
    schedule = on_opened(initial(POLICY), 0.0, POLICY, MIDDLE, new_outage=True)
    now = 0.0
    gaps = []
    for _ in range(7):
        assert schedule.next_probe_at is not None
        gaps.append(schedule.next_probe_at - now)
        now = schedule.next_probe_at
        schedule = on_probe_failed(schedule, now, POLICY, MIDDLE)
    assert gaps == [5, 10, 20, 40, 60, 60, 60]
    assert schedule.failures_in_row == 7 and schedule.probes_sent == 7
    assert schedule.last_probe_at == now


def test_failed_probe_records_when_it_ran_and_the_jittered_next_time() -> None:
    schedule = on_probe_failed(ProbeSchedule(interval=5.0), 50.0, POLICY, 0.0)
    assert schedule.interval == 10.0 and schedule.last_probe_at == 50.0
    assert schedule.next_probe_at == pytest.approx(58.0)


def test_successful_probe_clears_the_next_probe_but_keeps_the_interval() -> None:
    schedule = ProbeSchedule(interval=20.0, failures_in_row=2, next_probe_at=90.0, probes_sent=2)
    after = on_probe_ok(schedule, 88.0)
    assert after == ProbeSchedule(
        interval=20.0, failures_in_row=2, last_probe_at=88.0, next_probe_at=None, probes_sent=3
    )


def test_reopen_after_a_failed_trial_keeps_backing_off() -> None:
    schedule = ProbeSchedule(interval=20.0, failures_in_row=2, last_probe_at=88.0)
    reopened = on_opened(schedule, 90.0, POLICY, MIDDLE, new_outage=False)
    assert reopened.interval == 40.0 and reopened.failures_in_row == 3
    assert reopened.next_probe_at == 130.0
    at_max = attrs.evolve(reopened, interval=60.0)
    assert on_opened(at_max, 90.0, POLICY, MIDDLE, new_outage=False).interval == 60.0


def test_recovery_resets_the_schedule_and_starts_the_ramp() -> None:
    schedule = ProbeSchedule(
        interval=60.0, failures_in_row=5, last_probe_at=300.0, next_probe_at=None, probes_sent=6
    )
    recovered = on_recovered(schedule, 305.0, POLICY)
    assert recovered == ProbeSchedule(
        interval=5.0,
        failures_in_row=0,
        last_probe_at=300.0,
        next_probe_at=None,
        last_recovery_at=305.0,
        ramp_start=305.0,
        probes_sent=0,
    )


# -- invariants -----------------------------------------------------------------------------------
POLICIES = st.tuples(
    st.floats(min_value=0.1, max_value=100.0), st.floats(min_value=1.0, max_value=50.0)
).map(lambda p: ProbePolicy(min_interval=p[0], max_interval=p[0] * p[1]))
DRAWS = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
OPS = st.lists(
    st.tuples(st.sampled_from(["open", "reopen", "fail", "ok", "recover"]), DRAWS), max_size=40
)


@given(POLICIES, OPS)
def test_every_scheduled_gap_lies_within_min_and_max_with_jitter(
    policy: ProbePolicy, ops: list[tuple[str, float]]
) -> None:
    schedule = initial(policy)
    now = 0.0
    for kind, draw in ops:
        now += 1.0
        match kind:
            case "open" | "reopen":
                schedule = on_opened(schedule, now, policy, draw, new_outage=kind == "open")
            case "fail":
                schedule = on_probe_failed(schedule, now, policy, draw)
            case "ok":
                schedule = on_probe_ok(schedule, now)
            case _:
                schedule = on_recovered(schedule, now, policy)
        assert policy.min_interval <= schedule.interval <= policy.max_interval
        if schedule.next_probe_at is not None and kind in {"open", "reopen", "fail"}:
            gap = schedule.next_probe_at - now
            assert policy.min_interval * 0.8 <= gap * (1 + 1e-12)
            assert gap <= policy.max_interval * 1.2 * (1 + 1e-12)


@given(POLICIES, st.lists(DRAWS, min_size=1, max_size=30))
def test_unjittered_intervals_never_shrink_within_an_outage(
    policy: ProbePolicy, draws: list[float]
) -> None:
    schedule = on_opened(initial(policy), 0.0, policy, draws[0], new_outage=True)
    intervals = [schedule.interval]
    for n, draw in enumerate(draws[1:], start=1):
        schedule = on_probe_failed(schedule, float(n), policy, draw)
        intervals.append(schedule.interval)
    assert all(a <= b for a, b in itertools.pairwise(intervals))
    assert intervals[0] == policy.min_interval
