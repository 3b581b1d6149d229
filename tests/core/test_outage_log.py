"""The outage history: one record per outage, continued across restarts, the last 30 kept."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from plexsync_actors.core.outages import (
    KEEP,
    OutageLog,
    OutageRecord,
    closed,
    opened,
    probe_sent,
    scenes_affected,
)


def one_open() -> OutageLog:
    return opened(
        OutageLog(), first_failure_at=90.0, started_at=100.0, first_error="PlexServerDown"
    )


def test_opening_starts_record_one_as_the_current_outage() -> None:
    log = one_open()
    assert log.records == (
        OutageRecord(id=1, first_failure_at=90.0, started_at=100.0, first_error="PlexServerDown"),
    )
    assert log.next_id == 2 and log.current is log.records[0] and log.current.ongoing


def test_opening_again_while_ongoing_continues_the_same_outage() -> None:
    log = one_open()
    again = opened(log, first_failure_at=150.0, started_at=160.0, first_error="PlexUnauthorized")
    assert again is log


def test_probes_are_counted_on_the_current_outage_only() -> None:
    log = probe_sent(probe_sent(one_open()))
    assert log.records[0].probes == 2
    ended = closed(log, ended_at=200.0)
    assert probe_sent(ended) is ended


def test_the_count_of_affected_scenes_only_grows() -> None:
    """The shell counts distinct scenes in the queue database; the record keeps the count."""
    log = scenes_affected(one_open(), 2)
    log = scenes_affected(log, 3)
    assert log.records[0].jobs_affected == 3
    assert scenes_affected(log, 3) is log and scenes_affected(log, 1) is log


def test_scenes_outside_an_outage_are_not_counted() -> None:
    log = closed(one_open(), ended_at=200.0)
    assert scenes_affected(log, 7) is log
    assert scenes_affected(OutageLog(), 7) == OutageLog()


def test_closing_ends_the_current_outage() -> None:
    log = closed(one_open(), ended_at=250.0)
    record = log.records[0]
    assert record.ended_at == 250.0 and not record.ongoing and log.current is None
    assert record.duration(now=9999.0) == 150.0
    assert closed(log, ended_at=300.0) is log


def test_ongoing_duration_runs_up_to_now_and_is_never_negative() -> None:
    record = one_open().records[0]
    assert record.duration(now=130.0) == 30.0
    assert record.duration(now=50.0) == 0.0


def test_next_outage_gets_the_next_id_and_goes_first() -> None:
    log = closed(one_open(), ended_at=200.0)
    log = opened(log, first_failure_at=300.0, started_at=310.0, first_error="PlexTemporaryError")
    assert [r.id for r in log.records] == [2, 1]
    assert log.current is not None and log.current.first_error == "PlexTemporaryError"


def test_only_the_newest_thirty_outages_are_kept() -> None:
    log = OutageLog()
    for n in range(KEEP + 5):
        log = opened(log, first_failure_at=n * 100.0, started_at=n * 100.0 + 1, first_error="X")
        log = closed(log, ended_at=n * 100.0 + 50)
    assert KEEP == 30 and len(log.records) == 30
    assert [r.id for r in log.records] == list(range(35, 5, -1))
    assert log.next_id == 36


# -- invariants -----------------------------------------------------------------------------------
OPS = st.lists(
    st.one_of(
        st.just(("open", frozenset[int]())),
        st.just(("probe", frozenset[int]())),
        st.just(("close", frozenset[int]())),
        st.tuples(st.just("scenes"), st.frozensets(st.integers(1, 20), max_size=5)),
    ),
    max_size=200,
)


@given(OPS)
def test_log_never_exceeds_thirty_and_ids_increase(ops: list[tuple[str, frozenset[int]]]) -> None:
    log = OutageLog()
    for n, (kind, scenes) in enumerate(ops):
        now = float(n)
        before = log
        match kind:
            case "open":
                log = opened(log, first_failure_at=now, started_at=now, first_error="X")
            case "probe":
                log = probe_sent(log)
            case "close":
                log = closed(log, ended_at=now)
            case _:
                log = scenes_affected(log, len(scenes))
        assert len(log.records) <= KEEP
        ids = [r.id for r in log.records]
        assert all(a > b for a, b in itertools.pairwise(ids))  # newest first, ids increase
        assert all(i < log.next_id for i in ids) and log.next_id >= before.next_id
        assert all(not r.ongoing for r in log.records[1:])  # only the newest may be ongoing
        for record in log.records:
            assert record.first_failure_at <= record.started_at
            assert record.ended_at is None or record.ended_at >= record.started_at
        if before.current is not None and log.records:
            # Whatever happens to an outage, it keeps its id and when it began.
            same = next(r for r in log.records if r.id == before.current.id)
            assert same.started_at == before.current.started_at
            assert same.jobs_affected >= before.current.jobs_affected
