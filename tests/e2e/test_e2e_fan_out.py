"""End to end: renamed, merged and deleted tags, performers and studios reach every Plex item.

Stash runs no scene hook for these and moves no scene's `updated_at`; the fake Stash changes
its scenes as Stash does and hands out the `hookContext` Stash sends to the entity hook.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.sync.fan_out import PAGE_SIZE
from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_plex_library import TagMode
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, drainer_pid, process_alive, wait_for

pytestmark = pytest.mark.slow

Library = dict[int, int]  # scene id -> rating key
SECTION = 1  # the one movie library


@pytest.fixture(autouse=True)
def fast_drain(fake_stash: FakeStash, fake_plex: tuple[FakePlex, FakePlexServer]) -> None:
    # Hundreds of scenes: the default 20 jobs/s would make each test wait for the rate cap.
    fake_stash.plugin_settings.update({"max_rate": 2000, "sync_poster": False})
    plex, _ = fake_plex
    assert plex.add_section("Movies", ["/media"]) == SECTION


def scenes_in_plex(plex: FakePlex, stash: FakeStash, count: int, **fields: object) -> Library:
    """`count` scenes in Stash with `fields`, each with its movie in Plex."""
    made = {}
    for _ in range(count):
        scene = stash.add_scene(**fields)  # type: ignore[arg-type]
        stash.update_scene(scene, files=[f"/stash/media/{scene}.mp4"])
        made[scene] = plex.add_movie(SECTION, f"/media/{scene}.mp4")
    return made


def drained(data_dir: Path) -> bool:
    with JobQueue(data_dir) as queue:
        return queue.pending_count() == 0 and not queue.has_fan_outs()


def sync_all(plugin: Plugin, data_dir: Path) -> None:
    """Every scene synced once, as after a Sync All Scenes that the drainer worked through."""
    run = plugin.task("all")
    assert run.returncode == 0, run.stderr
    assert wait_for(lambda: drained(data_dir), 60)


def puts(plex: FakePlex, keys: Iterable[int]) -> dict[int, int]:
    return {key: plex.item(key).put_count for key in keys}


@pytest.mark.parametrize("plex_tag_mode", ["replace", "append"])
def test_renaming_a_tag_on_200_scenes_leaves_every_item_with_the_new_genre_only(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
    plex_tag_mode: TagMode,
) -> None:
    plex, _ = fake_plex
    tagged = scenes_in_plex(plex, fake_stash, 200, title="t", tags=["Outdoor", "HD"])
    other = scenes_in_plex(plex, fake_stash, 5, title="o", tags=["HD"])
    sync_all(plugin, data_dir)
    assert all(plex.item(k).genres == ["Outdoor", "HD"] for k in tagged.values())
    before = puts(plex, [*tagged.values(), *other.values()])

    run = plugin.hook_context(fake_stash.rename_entity("tag", "Outdoor", "Outdoors"))

    assert run.returncode == 0 and run.output["fan_out"]["action"] == "rename", run.stderr
    assert wait_for(lambda: drained(data_dir), 60)
    for key in tagged.values():
        assert sorted(plex.item(key).genres) == ["HD", "Outdoors"]
        assert plex.item(key).put_count == before[key] + 1
    assert all(plex.item(k).put_count == before[k] for k in other.values())
    log = (data_dir / "plexsync.log").read_text(encoding="utf-8")
    assert "Tag 'Outdoors' renamed: 200 scenes queued for Plex." in log
    assert fake_stash.invalid_queries == []


def test_a_studio_rename_moves_every_item_to_the_new_studio_collection(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    library = scenes_in_plex(plex, fake_stash, 20, title="s", studio="Old Studio")
    for key in library.values():
        plex.item(key).collections.append("My Favourites")  # the user's own: left alone
    sync_all(plugin, data_dir)
    assert all("Old Studio" in plex.item(k).collections for k in library.values())

    run = plugin.hook_context(fake_stash.rename_entity("studio", "Old Studio", "New Studio"))
    assert run.returncode == 0 and run.output["fan_out"]["kind"] == "studio", run.stderr

    assert wait_for(lambda: drained(data_dir), 60)
    for key in library.values():
        item = plex.item(key)
        assert item.studio == "New Studio"
        assert sorted(item.collections) == ["My Favourites", "New Studio"]


def test_merging_two_tags_and_deleting_a_performer_reach_every_affected_item(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    only_a = scenes_in_plex(plex, fake_stash, 10, title="a", tags=["Beach"], performers=["Ann"])
    a_and_c = scenes_in_plex(plex, fake_stash, 10, title="ac", tags=["Beach", "Sea"])
    only_b = scenes_in_plex(plex, fake_stash, 10, title="b", tags=["Shore"], performers=["Bo"])
    only_c = scenes_in_plex(plex, fake_stash, 10, title="c", tags=["Sea"], performers=["Bo"])
    sync_all(plugin, data_dir)
    before = puts(plex, only_c.values())

    merged = plugin.hook_context(fake_stash.merge_tags(["Beach", "Shore"], "Sea"))
    assert merged.returncode == 0 and merged.output["fan_out"]["action"] == "merge"
    assert wait_for(lambda: drained(data_dir), 60)

    for key in [*only_a.values(), *a_and_c.values(), *only_b.values(), *only_c.values()]:
        assert plex.item(key).genres == ["Sea"]
    assert puts(plex, only_c.values()) == before  # they showed the merged tag already

    before = puts(plex, only_c.values())
    assert plugin.hook_context(fake_stash.delete_entity("performer", "Ann")).returncode == 0
    assert wait_for(lambda: drained(data_dir), 60)
    assert all(plex.item(k).actors == [] for k in only_a.values())
    assert all(plex.item(k).actors == ["Bo"] for k in [*only_b.values(), *only_c.values()])
    assert puts(plex, only_c.values()) == before


def test_a_changed_tag_description_queues_nothing(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    scenes_in_plex(plex, fake_stash, 3, title="d", tags=["Outdoor"])
    sync_all(plugin, data_dir)

    run = plugin.hook_context(fake_stash.update_entity("tag", "Outdoor", description="Sunny"))
    assert run.returncode == 0 and run.output == {"fan_out": None}
    # Stash's tag page sends every field, the unchanged name included, with each save:
    resent = fake_stash.update_entity("tag", "Outdoor", name="Outdoor", description="Rainy")
    assert "name" in resent["inputFields"]
    run = plugin.hook_context(resent)
    assert run.returncode == 0 and run.output == {"fan_out": None}

    with JobQueue(data_dir) as queue:
        assert queue.pending_count() == 0 and not queue.has_fan_outs()


def test_a_drainer_killed_mid_fan_out_of_2000_scenes_resumes_and_syncs_each_once(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    # As if synced long ago (by a PlexSync that kept no entities): Plex shows the old name.
    library = {}
    for _ in range(2000):
        scene = fake_stash.add_scene(title="k", tags=["Old"])
        fake_stash.update_scene(scene, files=[f"/stash/media/{scene}.mp4"])
        library[scene] = plex.add_movie(SECTION, f"/media/{scene}.mp4", title="k", genres=["Old"])
    fake_stash.delays["findScenes"] = 1.0  # each page of the fan-out takes a while

    run = plugin.hook_context(fake_stash.rename_entity("tag", "Old", "New"))
    assert run.returncode == 0, run.stderr

    def mid_fan_out() -> bool:
        """Pages queued and some of their scenes synced, but the walk not at its end."""
        with JobQueue(data_dir) as queue:
            found, waiting = queue.fan_outs(), queue.pending_count()
        return bool(found) and found[0].seen < 2000 and found[0].queued - waiting >= 20

    assert wait_for(mid_fan_out, 60, interval=0.01)
    pid = drainer_pid(data_dir)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not process_alive(pid), 5)
    fake_stash.delays.clear()
    with JobQueue(data_dir) as queue:
        (left,) = queue.fan_outs()
        assert left.seen < 2000  # the kill came before the expansion ended
    status = plugin.task("queue_status", quiet="true").output  # (it starts a drainer, too)
    assert status["fan_outs"][0]["message"] == (
        f"Tag 'New' renamed: {left.seen:,} of 2,000 scenes queued"
    )

    asked_before = len(fan_out_pages(fake_stash))
    restarted = plugin.task("process_queue", timeout=120)

    assert restarted.returncode == 0, restarted.stderr
    assert wait_for(lambda: drained(data_dir), 60)
    for key in library.values():
        assert plex.item(key).genres == ["New"]
        assert plex.item(key).put_count == 1  # none missed, none edited twice
    # Each sync reads its scene once: only the one in flight at the kill may be read again.
    reads = Counter(scenes_read(fake_stash))
    assert set(reads) == set(library)
    assert sum(1 for n in reads.values() if n > 1) <= 1 and max(reads.values()) <= 2
    # Resumed after the last page committed, not walked again from the start:
    assert len(fan_out_pages(fake_stash)) - asked_before == -(-(2000 - left.seen) // PAGE_SIZE)
    assert fake_stash.invalid_queries == []


def fan_out_pages(stash: FakeStash) -> list[int]:
    """The `id` bound of every page of scenes-with-a-tag the plugin asked for."""
    found = []
    for request in stash.requests:
        if request.path == "/graphql" and b"PlexSyncSceneIds" in request.body:
            scene_filter = json.loads(request.body)["variables"]["scene_filter"] or {}
            if "tags" in scene_filter:
                found.append(int(scene_filter["id"]["value"]))
    return found


def scenes_read(stash: FakeStash) -> list[int]:
    """The scene id of every `findScene` the plugin sent (each sync reads its scene once)."""
    found = []
    for request in stash.requests:
        if request.path == "/graphql" and b"PlexSyncFindScene(" in request.body:
            found.append(int(json.loads(request.body)["variables"]["id"]))
    return found
