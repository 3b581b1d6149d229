"""End to end: changes Stash makes with no scene hook reach Plex at the next drainer start."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from plexsync_actors.persistence.jobs import WATERMARK_KEY, JobQueue
from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, kill_drainer, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def synced(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> tuple[int, int]:
    """One scene saved and synced, its drainer gone: (scene id, rating key)."""
    plex, _ = fake_plex
    section = plex.add_section("Movies", ["/media"])
    scene = fake_stash.add_scene(title="Synced", files=("/stash/media/c.mp4",))
    key = plex.add_movie(section, "/media/c.mp4")
    assert plugin.hook(scene).returncode == 0
    assert wait_for(lambda: plex.item(key).title == "Synced" and plex.item(key).posters, 30)

    def done() -> bool:  # the job completed too: a job still leased would be re-synced anyway
        with JobQueue(data_dir) as queue:
            return queue.pending_count() == 0

    assert wait_for(done, 30)
    kill_drainer(data_dir)
    with JobQueue(data_dir) as queue:
        assert queue.meta(WATERMARK_KEY)  # the first drainer started the watermark
    time.sleep(0.01)
    return scene, key


def save_while_switched_off(plugin: Plugin, stash: FakeStash, scene: int, *, title: str) -> None:
    """A save in Stash while PlexSync is switched off (its hook queues nothing), then on again."""
    stash.plugin_settings["enabled"] = False
    stash.update_scene(scene, title=title)
    assert plugin.hook(scene).output == "disabled"
    stash.plugin_settings["enabled"] = True


def test_a_cover_generated_with_no_hook_reaches_plex_at_the_next_drainer_start(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    synced: tuple[int, int],
) -> None:
    plex, _ = fake_plex
    scene, key = synced
    fake_stash.update_scene(scene, screenshot=b"\xff\xd8\xff\xe0generated-cover")  # no hook
    posters = len(plex.item(key).posters)
    run = plugin.task("process_queue")  # a drainer starts: no save
    assert run.returncode == 0, run.stderr
    assert wait_for(lambda: len(plex.item(key).posters) > posters, 30)
    assert plex.item(key).posters[-1] == b"\xff\xd8\xff\xe0generated-cover"
    assert any("no scene hook" in m for _, m in run.log_messages())


def test_a_save_made_while_switched_off_syncs_once_switched_back_on(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    synced: tuple[int, int],
) -> None:
    plex, _ = fake_plex
    scene, key = synced
    save_while_switched_off(plugin, fake_stash, scene, title="Saved while off")
    puts = plex.item(key).put_count
    assert plugin.task("process_queue").returncode == 0
    assert plex.item(key).title == "Saved while off" and plex.item(key).put_count == puts + 1
    again = plugin.task("process_queue")  # nothing changed since: nothing queued again
    assert again.returncode == 0 and plex.item(key).put_count == puts + 1
    assert not any("no scene hook" in m for _, m in again.log_messages())


def test_clear_queue_drops_what_changed_while_switched_off(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    synced: tuple[int, int],
) -> None:
    plex, _ = fake_plex
    scene, key = synced
    save_while_switched_off(plugin, fake_stash, scene, title="Not wanted")
    assert plugin.task("clear_queue").returncode == 0
    assert plugin.task("process_queue").returncode == 0
    assert plex.item(key).title == "Synced"


def test_a_new_install_does_not_sync_the_past(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    section = plex.add_section("Movies", ["/media"])
    old = fake_stash.add_scene(title="From before PlexSync", files=("/stash/media/o.mp4",))
    key = plex.add_movie(section, "/media/o.mp4", title="o")
    run = plugin.task("process_queue")
    assert run.returncode == 0, run.stderr
    assert plex.item(key).title == "o" and old  # Sync All Scenes is the tool for the past
    assert plugin.task("queue_status").output["catch_up"]["watermark"]
