"""The active health-probe schedule while the circuit is not closed. Pure.

Intervals double from `min_interval` to `max_interval` (5, 10, 20, 40, 60, 60 …) with ±20 %
jitter; the schedule (last and next probe, interval, failures in a row, last recovery, ramp
start) persists so a new process continues it instead of starting over.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class ProbePolicy:
    min_interval: float
    max_interval: float
    jitter: float = 0.2


@attrs.frozen(kw_only=True)
class ProbeSchedule:
    interval: float
    failures_in_row: int = 0
    last_probe_at: float | None = None
    next_probe_at: float | None = None
    last_recovery_at: float | None = None
    ramp_start: float | None = None
    probes_sent: int = 0


def initial(policy: ProbePolicy) -> ProbeSchedule:
    return ProbeSchedule(interval=policy.min_interval)


def jittered(interval: float, policy: ProbePolicy, draw: float) -> float:
    """`draw` is uniform in [0, 1): maps to a factor in [1 - jitter, 1 + jitter)."""
    return interval * (1.0 - policy.jitter + 2.0 * policy.jitter * draw)


def on_opened(
    schedule: ProbeSchedule, now: float, policy: ProbePolicy, draw: float, *, new_outage: bool
) -> ProbeSchedule:
    """The circuit opened: first probe after the minimum interval (a re-open keeps backing off)."""
    if new_outage:
        interval = policy.min_interval
        failures = 0
    else:
        interval = min(policy.max_interval, schedule.interval * 2.0)
        failures = schedule.failures_in_row + 1
    return attrs.evolve(
        schedule,
        interval=interval,
        failures_in_row=failures,
        next_probe_at=now + jittered(interval, policy, draw),
    )


def on_probe_failed(
    schedule: ProbeSchedule, now: float, policy: ProbePolicy, draw: float
) -> ProbeSchedule:
    interval = min(policy.max_interval, schedule.interval * 2.0)
    return attrs.evolve(
        schedule,
        interval=interval,
        failures_in_row=schedule.failures_in_row + 1,
        last_probe_at=now,
        next_probe_at=now + jittered(interval, policy, draw),
        probes_sent=schedule.probes_sent + 1,
    )


def on_probe_ok(schedule: ProbeSchedule, now: float) -> ProbeSchedule:
    return attrs.evolve(
        schedule,
        last_probe_at=now,
        next_probe_at=None,
        probes_sent=schedule.probes_sent + 1,
    )


def on_recovered(schedule: ProbeSchedule, now: float, policy: ProbePolicy) -> ProbeSchedule:
    return attrs.evolve(
        schedule,
        interval=policy.min_interval,
        failures_in_row=0,
        next_probe_at=None,
        last_recovery_at=now,
        ramp_start=now,
        probes_sent=0,
    )
