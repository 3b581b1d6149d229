"""The fan-out rows and the entities each scene showed: durable, atomic, and migrated."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from plexsync_actors.persistence import database
from plexsync_actors.persistence.jobs import JobQueue


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    with JobQueue(tmp_path) as opened:
        yield opened


def test_a_fan_out_is_work_for_a_drainer_until_it_is_expanded(queue: JobQueue) -> None:
    assert not queue.has_work(now=1.0)
    queue.add_fan_out("studio", 4, "rename", now=1.0)
    assert queue.has_work(now=1.0) and not queue.has_ready(now=1.0)
    (waiting,) = queue.fan_outs()
    assert queue.advance_fan_out(
        waiting, seen=[1, 2], queue=[2], reason="fan-out", total=2, done=True, now=2.0
    )
    assert not queue.has_fan_outs() and queue.pending_scene_ids() == {2}


def test_a_page_is_queued_with_its_progress_or_not_at_all(queue: JobQueue) -> None:
    queue.add_fan_out("tag", 1, "rename", now=1.0)
    (waiting,) = queue.fan_outs()
    after = queue.advance_fan_out(
        waiting, seen=[3, 5], queue=[3, 5], reason="fan-out", total=4, done=False, now=2.0
    )
    assert after is not None and (after.seen, after.cursor, after.total) == (2, 5, 4)
    assert queue.fan_outs() == [after]
    # The same page again, from the state read before it (a second drainer, a stale copy):
    assert (
        queue.advance_fan_out(
            waiting, seen=[3, 5], queue=[3, 5], reason="fan-out", total=4, done=False, now=3.0
        )
        is None
    )
    assert queue.fan_outs() == [after]
    assert queue.pending_count() == 2


def test_clear_queue_drops_the_fan_outs_and_a_deleted_scene_its_entities(
    queue: JobQueue,
) -> None:
    queue.add_fan_out("tag", 1, "rename", now=1.0)
    queue.save_synced(9, "2026-01-01T00:00:00Z", [("tag", 1, "A"), ("studio", 2, "S")])
    assert queue.scenes_showing("tag", [1]) == [9]
    assert queue.entities_of("studio", [9, 10]) == {9: {2: "S"}}  # 10: unknown
    queue.clear_queue()
    assert not queue.has_fan_outs()
    queue.drop(9)
    assert queue.scenes_showing("tag", [1]) == []
    assert queue.entities_of("tag", [9]) == {}


def test_a_schema_6_queue_is_migrated_and_its_synced_scenes_count_as_unknown(
    tmp_path: Path,
) -> None:
    with JobQueue(tmp_path) as queue:
        queue.enqueue(1, reason="Scene.Update.Post", now=1.0)
    db = sqlite3.connect(tmp_path / database.DB_NAME)
    db.executescript(
        """DROP TABLE fan_outs; DROP TABLE scene_entities; DROP TABLE scene_synced;
           CREATE TABLE scene_synced (scene_id INTEGER PRIMARY KEY, updated_at TEXT NOT NULL);
           INSERT INTO scene_synced VALUES (4, '2026-01-01T00:00:00Z');
           UPDATE meta SET value = '6' WHERE key = 'schema';"""
    )
    db.close()
    with JobQueue(tmp_path) as queue:
        assert queue.pending_scene_ids() == {1}
        assert queue.synced_times([4]) == {4: "2026-01-01T00:00:00Z"}
        assert queue.entities_of("tag", [4]) == {}  # synced before entities were kept
        queue.add_fan_out("tag", 1, "destroy", now=1.0)
        assert queue.meta("schema") == str(database.SCHEMA_VERSION)


def test_a_second_process_creating_the_same_new_queue_meets_no_error(tmp_path: Path) -> None:
    """Two hooks on a new install both find no schema, and one creates it while the other
    waits for the write lock: the other then runs every statement again."""
    with JobQueue(tmp_path) as first:
        first.enqueue(1, reason="Scene.Update.Post", now=1.0)
        with first._write() as db:  # as the waiting process saw it: no schema yet
            db.execute("DELETE FROM meta WHERE key = 'schema'")
    with JobQueue(tmp_path) as second:
        assert second.pending_scene_ids() == {1}
        assert second.meta("schema") == str(database.SCHEMA_VERSION)


def test_a_fanned_out_scene_waiting_for_a_poster_retry_is_synced_now_as_a_save_would_be(
    queue: JobQueue,
) -> None:
    queue.enqueue(4, reason="Scene.Update.Post", now=1.0)
    job = queue.lease_next(owner="t", now=1.0, lease_seconds=60)
    assert job is not None
    queue.complete(job, now=2.0, poster_retry_at=600.0)  # Stash had no cover yet
    assert not queue.has_ready(now=3.0)
    queue.add_fan_out("tag", 1, "rename", now=3.0)
    (waiting,) = queue.fan_outs()
    queue.advance_fan_out(
        waiting, seen=[4], queue=[4], reason="fan-out", total=1, done=True, now=3.0
    )
    again = queue.lease_next(owner="t", now=3.0, lease_seconds=60)
    assert again is not None and again.scene_id == 4 and again.reason == "fan-out"
    assert again.poster_retries == 0
