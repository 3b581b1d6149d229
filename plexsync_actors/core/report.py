"""Outage metrics over the recorded history (contract §6). Pure.

Metrics are over completed outages: MTTR is their mean duration; MTBF, the mean up-time between
one outage's end and the next one's start, needs two or more. Availability is the share of the
time since the first recorded outage began that Plex was not in a completed outage.
"""

from __future__ import annotations

import itertools
from typing import Any

import attrs

from plexsync_actors.core.outages import OutageLog, OutageRecord


@attrs.frozen(kw_only=True)
class Metrics:
    count: int
    completed: int
    total_downtime_seconds: float
    mttr_seconds: float | None
    mtbf_seconds: float | None
    availability_percent: float | None


def metrics(log: OutageLog, now: float) -> Metrics:
    done = sorted((r for r in log.records if r.ended_at is not None), key=lambda r: r.started_at)
    downtime = sum(r.duration(now) for r in done)
    mttr = downtime / len(done) if done else None
    gaps = [
        max(0.0, later.started_at - (earlier.ended_at or later.started_at))
        for earlier, later in itertools.pairwise(done)
    ]
    mtbf = sum(gaps) / len(gaps) if gaps else None
    availability = None
    if done:
        window = now - done[0].started_at
        availability = 100.0 * (1.0 - downtime / window) if window > 0 else 0.0
    return Metrics(
        count=len(log.records),
        completed=len(done),
        total_downtime_seconds=downtime,
        mttr_seconds=mttr,
        mtbf_seconds=mtbf,
        availability_percent=availability,
    )


def record_json(record: OutageRecord, now: float, iso: Any) -> dict[str, Any]:
    """One outage as §6 shows it; `iso` turns a stored timestamp into ISO-8601 UTC text."""
    return {
        "id": str(record.id),
        "first_failure_at": iso(record.first_failure_at),
        "started_at": iso(record.started_at),
        "ended_at": iso(record.ended_at),
        "duration_seconds": round(record.duration(now), 3),
        "ongoing": record.ongoing,
        "jobs_affected": record.jobs_affected,
        "first_error": record.first_error,
        "probes": record.probes,
    }
