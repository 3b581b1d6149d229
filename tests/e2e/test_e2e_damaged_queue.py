"""End to end: a damaged queue file breaks nothing; it is rebuilt, and the user is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, kill_drainer, wait_for

pytestmark = pytest.mark.slow

DAMAGE = {
    "truncated": lambda b: b[: len(b) // 3],
    "zero-length": lambda b: b"",
    "garbage": lambda b: b"\x00\x13garbage" * 1000,
    "wrong shape": lambda b: b"SQLite format 3\x00" + b"\x00" * 200,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_save_into_a_damaged_queue_is_kept_and_every_task_says_what_happened(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
    damage: str,
) -> None:
    plex, _ = fake_plex
    section = plex.add_section("Movies", ["/media"])
    first = fake_stash.add_scene(title="Before", files=("/stash/media/a.mp4",))
    second = fake_stash.add_scene(title="After", files=("/stash/media/b.mp4",))
    keys = {
        first: plex.add_movie(section, "/media/a.mp4"),
        second: plex.add_movie(section, "/media/b.mp4"),
    }
    plugin.hook(first)
    assert wait_for(lambda: plex.item(keys[first]).title == "Before", 30)
    kill_drainer(data_dir)
    with JobQueue(data_dir):  # let go of the write-ahead log as a quiet queue does
        pass
    path = data_dir / "queue.sqlite3"
    path.write_bytes(DAMAGE[damage](path.read_bytes()))

    hook = plugin.hook(second)
    assert hook.returncode == 0, hook.stderr
    assert hook.output == {"queued": second}  # the save is kept
    assert any("moved aside" in m for _, m in hook.log_messages())
    assert wait_for(lambda: plex.item(keys[second]).title == "After", 30)

    status = plugin.task("queue_status")
    assert status.returncode == 0 and "Traceback" not in status.stderr
    assert "Sync Recent Scenes" in status.output["notice"]
    assert any("moved aside" in m for level, m in status.log_messages() if level == "w")
    assert list(data_dir.glob("queue.sqlite3.corrupt-*"))
    plugin.task("recent")  # the fix the notice names: queue again what may be lost
    assert "notice" not in plugin.task("queue_status").output


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_the_pages_quiet_poll_of_a_damaged_queue_repairs_it_and_answers(
    plugin: Plugin, fake_stash: FakeStash, data_dir: Path, damage: str
) -> None:
    # A quiet poll skips the quick_check every other task starts with: the damage it meets
    # while reading is repaired there and then, and the poll still answers.
    scene = fake_stash.add_scene(title="Waiting", files=("/stash/media/w.mp4",))
    with JobQueue(data_dir) as queue:
        queue.enqueue(scene, reason="hook", now=0.0)
    path = data_dir / "queue.sqlite3"
    path.write_bytes(DAMAGE[damage](path.read_bytes()))

    status = plugin.task("queue_status", quiet="true")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Sync Recent Scenes" in status.output["notice"]
    assert list(data_dir.glob("queue.sqlite3.corrupt-*"))
