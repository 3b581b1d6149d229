"""The durable queue: coalescing, leases, retries and the DLQ."""

from pathlib import Path

import pytest

from plexsync_actors.persistence.database import Failure
from plexsync_actors.persistence.jobs import JobQueue


@pytest.fixture
def queue(tmp_path: Path):
    with JobQueue(tmp_path) as q:
        yield q


def failure(at: float, *, charged: bool = True, kind: str = "PlexTemporaryError") -> Failure:
    return Failure(error_type=kind, message="boom", http_status=503, at=at, charged=charged)


def test_newer_change_replaces_pending_job_instead_of_duplicating(queue: JobQueue) -> None:
    queue.enqueue(7, reason="Scene.Update.Post", now=1.0)
    queue.enqueue(7, reason="Scene.Update.Post", now=2.0)
    assert queue.pending_count() == 1
    job = queue.lease_next(owner="a", now=3.0, lease_seconds=60)
    assert job is not None and job.version == 2


def test_change_arriving_during_sync_is_kept_and_synced_after(queue: JobQueue) -> None:
    queue.enqueue(7, reason="hook", now=1.0)
    job = queue.lease_next(owner="a", now=1.0, lease_seconds=60)
    assert job is not None
    queue.enqueue(7, reason="hook", now=1.5)  # the user saved again mid-sync
    assert queue.complete(job, now=2.0) is False
    again = queue.lease_next(owner="a", now=2.0, lease_seconds=60)
    assert again is not None and again.version == job.version + 1
    assert queue.complete(again, now=3.0) is True
    assert queue.pending_count() == 0


def test_leased_job_is_not_leased_twice_until_its_lease_expires(queue: JobQueue) -> None:
    queue.enqueue(1, reason="hook", now=0.0)
    assert queue.lease_next(owner="a", now=1.0, lease_seconds=10) is not None
    assert queue.lease_next(owner="b", now=5.0, lease_seconds=10) is None
    taken = queue.lease_next(owner="b", now=12.0, lease_seconds=10)
    assert taken is not None and taken.scene_id == 1


def test_two_connections_see_one_queue(tmp_path: Path) -> None:
    with JobQueue(tmp_path) as first, JobQueue(tmp_path) as second:
        first.enqueue(3, reason="hook", now=0.0)
        assert second.lease_next(owner="b", now=0.0, lease_seconds=5) is not None
        assert first.lease_next(owner="a", now=0.0, lease_seconds=5) is None


def test_retry_records_attempt_error_and_next_time(queue: JobQueue) -> None:
    queue.enqueue(4, reason="hook", now=0.0)
    job = queue.lease_next(owner="a", now=0.0, lease_seconds=60)
    assert job is not None
    queue.retry(job, failure(1.0), retry_at=9.0)
    assert queue.lease_next(owner="a", now=8.0, lease_seconds=60) is None
    again = queue.lease_next(owner="a", now=9.0, lease_seconds=60)
    assert again is not None and again.attempts == 1 and again.first_failure_at == 1.0
    counts = queue.counts(now=5.0)
    assert counts.pending == 1


def test_uncharged_failure_keeps_attempts(queue: JobQueue) -> None:
    queue.enqueue(4, reason="hook", now=0.0)
    job = queue.lease_next(owner="a", now=0.0, lease_seconds=60)
    assert job is not None
    queue.retry(job, failure(1.0, charged=False, kind="PlexServerDown"), retry_at=2.0)
    again = queue.lease_next(owner="a", now=2.0, lease_seconds=60)
    assert again is not None and again.attempts == 0


def test_dead_letter_moves_job_atomically_with_its_details(queue: JobQueue) -> None:
    queue.enqueue(5, reason="hook", now=0.0)
    job = queue.lease_next(owner="a", now=0.0, lease_seconds=60)
    assert job is not None
    queue.retry(job, failure(1.0), retry_at=2.0)
    job = queue.lease_next(owner="a", now=2.0, lease_seconds=60)
    assert job is not None
    queue.dead_letter(job, failure(3.0))
    assert queue.pending_count() == 0
    [entry] = queue.dead_letters()
    assert (entry.scene_id, entry.error_type, entry.http_status, entry.attempts) == (
        5,
        "PlexTemporaryError",
        503,
        2,
    )
    assert (entry.first_failure_at, entry.last_failure_at) == (1.0, 3.0)
    counts = queue.counts(now=4.0)
    assert counts.dlq_total == 1 and counts.dlq_by_error_type == {"PlexTemporaryError": 1}


def test_dead_letter_keeps_a_newer_change_queued(queue: JobQueue) -> None:
    queue.enqueue(5, reason="hook", now=0.0)
    job = queue.lease_next(owner="a", now=0.0, lease_seconds=60)
    assert job is not None
    queue.enqueue(5, reason="hook", now=0.5)
    queue.dead_letter(job, failure(1.0, kind="PlexPermanentError"))
    assert queue.pending_count() == 1
    assert len(queue.dead_letters()) == 1


def test_drop_forgets_pending_work(queue: JobQueue) -> None:
    queue.enqueue(8, reason="hook", now=0.0)
    assert queue.drop(8) is True
    assert queue.pending_count() == 0
    assert queue.drop(8) is False


def test_clear_leases_frees_jobs_of_a_dead_worker(queue: JobQueue) -> None:
    queue.enqueue(1, reason="hook", now=0.0)
    assert queue.lease_next(owner="dead", now=0.0, lease_seconds=600) is not None
    assert queue.clear_leases() == 1
    assert queue.lease_next(owner="new", now=1.0, lease_seconds=600) is not None


def test_purge_dlq_removes_only_old_entries(queue: JobQueue) -> None:
    for scene, at in ((1, 10.0), (2, 100.0)):
        queue.enqueue(scene, reason="hook", now=0.0)
        job = queue.lease_next(owner="a", now=at, lease_seconds=5)
        assert job is not None
        queue.dead_letter(job, failure(at, kind="PlexPermanentError"))
    assert queue.purge_dlq(older_than=50.0) == 1
    assert [e.scene_id for e in queue.dead_letters()] == [2]


def test_scene_state_round_trips(queue: JobQueue) -> None:
    assert queue.scene_state(1, "100") == ({}, None, None)
    queue.save_scene_state(
        1, "100", written={"title": "A"}, poster_url="u", poster_sha256="h", now=1
    )
    assert queue.scene_state(1, "100") == ({"title": "A"}, "u", "h")


def test_a_scenes_match_round_trips_and_goes_with_the_scene(queue: JobQueue) -> None:
    assert queue.stored_match(1) is None
    queue.save_match(1, items=[("101", "2"), ("100", "1")], sections=["2", "1"], now=5.0)
    stored = queue.stored_match(1)
    assert stored is not None
    assert stored.items == (("100", "1"), ("101", "2"))
    assert (stored.sections, stored.matched_at) == (frozenset({"1", "2"}), 5.0)
    queue.save_match(1, items=[("200", "1")], sections=["1"], now=6.0)  # a new match replaces
    assert queue.stored_match(1) == ((("200", "1"),), frozenset({"1"}), 6.0)
    queue.forget_match(1)
    assert queue.stored_match(1) is None
    queue.save_match(2, items=[("300", "1")], sections=["1"], now=7.0)
    queue.enqueue(2, reason="hook", now=7.0)
    queue.drop(2)  # deleted in Stash
    assert queue.stored_match(2) is None


def test_a_queue_written_by_schema_3_is_migrated_keeping_its_scene_state(tmp_path: Path) -> None:
    import sqlite3

    from plexsync_actors.persistence import database

    v3_schema = database._SCHEMA[: database._SCHEMA.index("CREATE TABLE IF NOT EXISTS scene_match")]
    db = sqlite3.connect(tmp_path / database.DB_NAME)
    db.executescript(v3_schema)
    db.execute("INSERT INTO meta (key, value) VALUES ('schema', '3')")
    db.execute(
        "INSERT INTO scene_state (scene_id, rating_key, written, updated_at)"
        """ VALUES (7, '100', '{"title": "A"}', 1)"""
    )
    db.commit()
    db.close()
    with JobQueue(tmp_path) as queue:
        assert queue.scene_state(7, "100") == ({"title": "A"}, None, None)
        assert queue.stored_match(7) is None
        queue.save_match(7, items=[("100", "1")], sections=["1"], now=2.0)
    with JobQueue(tmp_path) as queue:
        assert queue.stored_match(7) is not None
        schema = queue._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        assert schema == (str(database.SCHEMA_VERSION),)


def test_a_queue_written_by_schema_1_is_migrated_keeping_its_jobs(tmp_path: Path) -> None:
    import sqlite3

    from plexsync_actors.persistence import database

    v1_schema = database._SCHEMA.replace(
        ",\n    poster_retries INTEGER NOT NULL DEFAULT 0", ""
    )
    assert "poster_retries" not in v1_schema
    db = sqlite3.connect(tmp_path / database.DB_NAME)
    db.executescript(v1_schema)
    db.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')")
    db.execute(
        "INSERT INTO jobs (scene_id, reason, first_enqueued_at, enqueued_at, next_attempt_at)"
        " VALUES (7, 'hook', 1, 1, 1)"
    )
    db.commit()
    db.close()
    with JobQueue(tmp_path) as queue:
        job = queue.lease_next(owner="t", now=2.0, lease_seconds=60)
        assert job is not None and (job.scene_id, job.poster_retries) == (7, 0)
        assert queue.complete(job, now=3.0, poster_retry_at=603.0)
        assert queue.counts(now=4.0).waiting_retry == 1  # the poster retry waits its turn
    with JobQueue(tmp_path) as queue:  # opening it again changes nothing
        assert queue.pending_count() == 1
        schema = queue._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        assert schema == (str(database.SCHEMA_VERSION),)
        plan = queue._db.execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM jobs WHERE lease_until >= 0"
        ).fetchall()
        assert "jobs_leased" in str(plan)  # Queue Status counts leases without a scan


def test_outage_scenes_count_once_each_and_old_outages_are_forgotten(queue: JobQueue) -> None:
    queue.enqueue_many([1, 2, 3], reason="hook", now=1.0)
    assert queue.mark_affected(7, [1, 9]) == 2
    assert queue.mark_waiting_affected(7) == 4  # 1, 2, 3 waiting, and 9 that failed
    assert queue.mark_affected(7, [2, 9]) == 4
    assert queue.mark_affected(8, [1]) == 1
    queue.forget_outages_but([8])
    assert queue.affected_scene_ids(7) == set() and queue.affected_scene_ids(8) == {1}


def test_many_scenes_are_queued_in_short_transactions(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plexsync_actors.persistence import jobs

    commits: list[int] = []
    real = queue._write

    def counting_write():  # type: ignore[no-untyped-def]
        commits.append(1)
        return real()

    monkeypatch.setattr(queue, "_write", counting_write)
    assert queue.enqueue_many(list(range(1, 1201)), reason="all", now=1.0) == 1200
    assert len(commits) == -(-1200 // jobs.ENQUEUE_CHUNK) == 3
    assert queue.pending_count() == 1200


def test_a_batch_is_one_transaction_and_coalesces_like_single_saves(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue.enqueue(2, reason="hook", now=1.0)
    leased = queue.lease_next(owner="a", now=1.0, lease_seconds=60)  # scene 2 is being synced
    assert leased is not None
    commits: list[int] = []
    real = queue._write

    def counting_write():  # type: ignore[no-untyped-def]
        commits.append(1)
        return real()

    monkeypatch.setattr(queue, "_write", counting_write)
    assert queue.enqueue_batch(list(range(1, 2001)), reason="all", now=2.0) == 2000
    assert len(commits) == 1
    assert queue.pending_count() == 2000
    assert queue.complete(leased, now=3.0) is False  # the batch's newer change is kept
    again = queue.lease_next(owner="a", now=3.0, lease_seconds=60)
    assert again is not None and (again.scene_id, again.version, again.reason) == (1, 1, "all")
