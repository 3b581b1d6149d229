"""A damaged queue file is moved aside, what reads is salvaged, and every task says so."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from plexsync_actors.persistence.database import CREATED_NAME, DB_NAME, QueueDamaged
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.repair import (
    NOTICE_NAME,
    clear_notice,
    open_sound,
    pending_notice,
)

NOW = 1_700_000_000.0


def filled(data_dir: Path, scenes: int = 3) -> None:
    with JobQueue(data_dir) as queue:
        queue.enqueue_many(list(range(1, scenes + 1)), reason="hook", now=NOW)
        queue.set_meta_if_absent("client_id", "plexsync-kept")
    # Fold the write-ahead log into the file, as a quiet queue is on disk.
    db = sqlite3.connect(data_dir / DB_NAME)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def test_a_sound_queue_opens_with_no_notice(tmp_path: Path) -> None:
    filled(tmp_path)
    queue, notice = open_sound(tmp_path, thorough=True, now=NOW)
    with queue:
        assert notice is None and queue.pending_scene_ids() == {1, 2, 3}
    assert pending_notice(tmp_path, now=NOW) is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 3], id="truncated"),
        pytest.param(lambda b: b"this is not SQLite at all\n" * 200, id="overwritten"),
        pytest.param(lambda b: b"", id="zero-length"),
    ],
)
def test_a_damaged_queue_is_moved_aside_rebuilt_and_noticed(tmp_path: Path, damage) -> None:
    filled(tmp_path)
    path = tmp_path / DB_NAME
    path.write_bytes(damage(path.read_bytes()))
    queue, notice = open_sound(tmp_path, thorough=True, now=NOW)
    with queue:
        assert notice is not None
        queue.enqueue(9, reason="hook", now=NOW)  # the fresh queue works
        assert 9 in queue.pending_scene_ids()
    aside = list(tmp_path.glob(f"{DB_NAME}.corrupt-*"))
    assert [p.name for p in aside if not p.name.endswith(("-wal", "-shm"))] == [notice.moved_to]
    assert pending_notice(tmp_path, now=NOW) == notice
    assert "Sync Recent Scenes" in notice.sentence() and notice.moved_to in notice.sentence()
    assert pending_notice(tmp_path, now=NOW + 8 * 86400) is None  # not repeated forever
    clear_notice(tmp_path)
    assert pending_notice(tmp_path, now=NOW) is None and not (tmp_path / NOTICE_NAME).exists()


def test_an_empty_queue_file_is_damage_only_after_one_existed(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"")
    JobQueue(tmp_path).close()  # a new install: SQLite starts from an empty file
    assert (tmp_path / CREATED_NAME).exists()
    (tmp_path / DB_NAME).write_bytes(b"")
    with pytest.raises(QueueDamaged, match="empty"):
        JobQueue(tmp_path)


def test_rows_on_sound_pages_are_salvaged_from_a_broken_file(tmp_path: Path) -> None:
    with JobQueue(tmp_path) as queue:
        queue.enqueue_many(list(range(1, 3001)), reason="x" * 200, now=NOW)
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    path = tmp_path / DB_NAME
    data = bytearray(path.read_bytes())
    middle = (len(data) // page_size // 2) * page_size
    data[middle : middle + page_size] = b"\xff" * page_size  # one leaf page ruined
    path.write_bytes(bytes(data))
    queue, notice = open_sound(tmp_path, thorough=True, now=NOW)
    with queue:
        assert notice is not None
        kept = len(queue.pending_scene_ids())
    assert 2000 < kept < 3000 and notice.salvaged_jobs == kept
