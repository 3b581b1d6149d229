"""Outage metrics (contract §6) against hand-computed histories, plus invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexsync_actors.core.outages import OutageLog, OutageRecord
from plexsync_actors.core.report import Metrics, metrics, record_json


def outage(n: int, start: float, end: float | None) -> OutageRecord:
    return OutageRecord(id=n, first_failure_at=start - 10, started_at=start, ended_at=end)


A = outage(1, 1000, 1100)  # 100 s down
B = outage(2, 1500, 1530)  # 30 s down, 400 s after A
C = outage(3, 2000, 2060)  # 60 s down, 470 s after B
D = outage(4, 2500, None)  # ongoing


def history(*records: OutageRecord) -> OutageLog:
    return OutageLog(records=tuple(reversed(records)), next_id=len(records) + 1)


def test_empty_history_has_no_metrics() -> None:
    assert metrics(OutageLog(), now=5000) == Metrics(
        count=0,
        completed=0,
        total_downtime_seconds=0.0,
        mttr_seconds=None,
        mtbf_seconds=None,
        availability_percent=None,
    )


def test_single_outage_has_mttr_and_availability_but_no_mtbf() -> None:
    # Since A began 1000 s ago, Plex was down 100 s: 90 % available.
    assert metrics(history(A), now=2000) == Metrics(
        count=1,
        completed=1,
        total_downtime_seconds=100.0,
        mttr_seconds=100.0,
        mtbf_seconds=None,
        availability_percent=90.0,
    )


def test_two_completed_outages_give_an_mtbf() -> None:
    m = metrics(history(A, B), now=2000)
    assert m.mtbf_seconds == 400.0  # B began 400 s after A ended
    assert m.mttr_seconds == 65.0  # (100 + 30) / 2
    assert m.availability_percent == pytest.approx(87.0)  # 1 - 130 / 1000


def test_three_outages_and_an_ongoing_one() -> None:
    m = metrics(history(A, B, C, D), now=3000)
    assert m.count == 4 and m.completed == 3
    assert m.total_downtime_seconds == 190.0
    assert m.mttr_seconds == pytest.approx(190 / 3)
    assert m.mtbf_seconds == 435.0  # (400 + 470) / 2
    # 190 s of completed outages in the 2000 s since A began.
    assert m.availability_percent == pytest.approx(90.5)


def test_ongoing_outage_is_counted_but_left_out_of_every_metric() -> None:
    with_ongoing = metrics(history(A, B, D), now=3000)
    without = metrics(history(A, B), now=3000)
    assert with_ongoing.count == 3 and with_ongoing.completed == 2
    assert (
        with_ongoing.total_downtime_seconds,
        with_ongoing.mttr_seconds,
        with_ongoing.mtbf_seconds,
        with_ongoing.availability_percent,
    ) == (
        without.total_downtime_seconds,
        without.mttr_seconds,
        without.mtbf_seconds,
        without.availability_percent,
    )


def test_only_an_ongoing_outage_gives_no_metrics() -> None:
    m = metrics(history(D), now=3000)
    assert (m.count, m.completed, m.total_downtime_seconds) == (1, 0, 0.0)
    assert m.mttr_seconds is None and m.mtbf_seconds is None and m.availability_percent is None


def test_metrics_do_not_depend_on_the_stored_order() -> None:
    shuffled = OutageLog(records=(B, C, A), next_id=4)
    assert metrics(shuffled, now=3000) == metrics(history(A, B, C), now=3000)


def test_record_json_has_the_contract_fields() -> None:
    record = OutageRecord(
        id=7,
        first_failure_at=990.0,
        started_at=1000.0,
        ended_at=1012.34567,
        first_error="PlexServerDown",
        probes=4,
        jobs_affected=3,
    )
    data = record_json(record, now=5000.0, iso=lambda t: None if t is None else f"T{t:g}")
    assert data == {
        "id": "7",
        "first_failure_at": "T990",
        "started_at": "T1000",
        "ended_at": "T1012.35",
        "duration_seconds": 12.346,
        "ongoing": False,
        "jobs_affected": 3,
        "first_error": "PlexServerDown",
        "probes": 4,
    }


def test_record_json_of_an_ongoing_outage_runs_to_now() -> None:
    data = record_json(D, now=2600.0, iso=lambda t: t)
    assert data["ended_at"] is None and data["ongoing"] is True
    assert data["duration_seconds"] == 100.0


# -- invariants -----------------------------------------------------------------------------------
# An outage lasts at least until its first probe, so none is shorter than half a second.
GAPS_AND_LENGTHS = st.lists(
    st.tuples(st.floats(min_value=0, max_value=1e5), st.floats(min_value=0.5, max_value=1e4)),
    max_size=30,
)


@given(GAPS_AND_LENGTHS, st.floats(min_value=0, max_value=1e5))
def test_metrics_are_consistent_over_any_history(
    spans: list[tuple[float, float]], after: float
) -> None:
    records = []
    t = 1000.0
    for n, (gap, length) in enumerate(spans, start=1):
        records.append(outage(n, t + gap, t + gap + length))
        t += gap + length
    m = metrics(history(*records), now=t + after)
    downtime = sum(length for _, length in spans)
    assert m.completed == m.count == len(spans)
    assert m.total_downtime_seconds == pytest.approx(downtime)
    if not spans:
        return
    assert m.mttr_seconds == pytest.approx(downtime / len(spans))
    if len(spans) == 1:
        assert m.mtbf_seconds is None
    else:
        assert m.mtbf_seconds == pytest.approx(sum(g for g, _ in spans[1:]) / (len(spans) - 1))
    assert m.availability_percent is not None
    assert -1e-9 <= m.availability_percent <= 100.0 + 1e-9
