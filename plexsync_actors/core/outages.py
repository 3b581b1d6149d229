"""The outage history: one record per outage, from the circuit opening to its closing. Pure.

Failed half-open trials inside an outage do not split it. `jobs_affected` counts distinct scenes
whose sync was held back or failed in the outage window `[first_failure_at, ended_at]` (the shell
counts them in the queue database). The last 30 records are kept, newest first.
"""

from __future__ import annotations

import attrs

KEEP = 30


@attrs.frozen(kw_only=True)
class OutageRecord:
    id: int
    first_failure_at: float
    started_at: float
    ended_at: float | None = None
    first_error: str = ""
    probes: int = 0
    # Distinct scenes held back or failed in the window. The ids themselves live in the queue
    # database (one row per outage and scene): 30 outages of 50k scenes would make this file
    # 25 MB, rewritten on the trio thread at every change.
    jobs_affected: int = 0

    @property
    def ongoing(self) -> bool:
        return self.ended_at is None

    def duration(self, now: float) -> float:
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.started_at)


@attrs.frozen(kw_only=True)
class OutageLog:
    records: tuple[OutageRecord, ...] = ()  # newest first
    next_id: int = 1

    @property
    def current(self) -> OutageRecord | None:
        if self.records and self.records[0].ongoing:
            return self.records[0]
        return None


def opened(
    log: OutageLog, *, first_failure_at: float, started_at: float, first_error: str
) -> OutageLog:
    """A new outage began. An ongoing one (a restart mid-outage) is continued, not duplicated."""
    if log.current is not None:
        return log
    record = OutageRecord(
        id=log.next_id,
        first_failure_at=first_failure_at,
        started_at=started_at,
        first_error=first_error,
    )
    return OutageLog(records=(record, *log.records)[:KEEP], next_id=log.next_id + 1)


def _replace_current(log: OutageLog, record: OutageRecord) -> OutageLog:
    return attrs.evolve(log, records=(record, *log.records[1:]))


def probe_sent(log: OutageLog) -> OutageLog:
    current = log.current
    if current is None:
        return log
    return _replace_current(log, attrs.evolve(current, probes=current.probes + 1))


def scenes_affected(log: OutageLog, count: int) -> OutageLog:
    """The current outage has `count` distinct scenes affected so far (it never shrinks)."""
    current = log.current
    if current is None or count <= current.jobs_affected:
        return log
    return _replace_current(log, attrs.evolve(current, jobs_affected=count))


def closed(log: OutageLog, *, ended_at: float) -> OutageLog:
    current = log.current
    if current is None:
        return log
    return _replace_current(log, attrs.evolve(current, ended_at=ended_at))
