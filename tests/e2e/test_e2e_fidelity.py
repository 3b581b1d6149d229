"""End to end where the real servers differ from naive fakes: tag edits, covers, external_host."""

from __future__ import annotations

import pytest

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, wait_for

pytestmark = pytest.mark.slow


def one_movie(plex: FakePlex, stash: FakeStash, **scene: object) -> tuple[int, int]:
    section = plex.add_section("Movies", ["/media"])
    key = plex.add_movie(section, "/media/one.mp4", collections=["My Picks"])
    scene_id = stash.add_scene(files=("/stash/media/one.mp4",), **scene)  # type: ignore[arg-type]
    return scene_id, key


def puts_to(plex: FakePlex, key: int) -> int:
    return plex.item(key).put_count


@pytest.mark.parametrize("plex_tag_mode", ["replace", "append"])
def test_removed_tags_performers_and_old_studio_leave_plex_and_a_repeat_sends_no_put(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    scene, key = one_movie(
        plex, fake_stash, title="T", studio="Old Studio", tags=("a", "b", "c"),
        performers=("Ann", "Bo"),
    )  # fmt: skip
    plugin.hook(scene)
    assert wait_for(lambda: plex.item(key).studio == "Old Studio", 30)
    fake_stash.update_scene(scene, tags=("a", "c"), performers=("Bo",), studio="New Studio")
    plugin.hook(scene)
    item = plex.item(key)
    assert wait_for(lambda: item.studio == "New Studio" and item.genres == ["a", "c"], 30)
    assert wait_for(lambda: plugin.task("queue_status").output["queue"]["pending"] == 0, 30)
    assert (item.genres, item.actors) == (["a", "c"], ["Bo"])
    assert sorted(item.collections) == ["My Picks", "New Studio"]  # one studio collection
    puts = puts_to(plex, key)
    plugin.hook(scene)  # saved again, nothing changed
    assert wait_for(lambda: plugin.task("queue_status").output["queue"]["pending"] == 0, 30)
    assert puts_to(plex, key) == puts


def test_a_scene_without_a_cover_syncs_its_metadata_and_no_poster_and_nothing_dead_letters(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    scene, key = one_movie(plex, fake_stash, title="No cover yet", tags=("x",), screenshot=None)
    assert plugin.hook(scene, "Scene.Create.Post").output == {"queued": scene}
    item = plex.item(key)
    assert wait_for(lambda: item.title == "No cover yet" and item.genres == ["x"], 30)
    status = plugin.task("queue_status").output
    assert status["dlq"]["total"] == 0
    assert status["queue"]["waiting_retry"] == 1  # the poster is tried again later
    assert item.posters == [] and "thumb" not in item.locked


@pytest.fixture
def unreachable_external_host(fake_stash: FakeStash) -> FakeStash:
    fake_stash.external_host = "http://127.0.0.1:9"  # nothing listens there: refused
    return fake_stash


def test_posters_reach_plex_when_external_host_names_an_origin_that_refuses(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    unreachable_external_host: FakeStash,
) -> None:
    plex, _ = fake_plex
    stash = unreachable_external_host
    scene, key = one_movie(plex, stash, title="With cover")
    assert stash.screenshot_url(scene).startswith("http://127.0.0.1:9/")
    plugin.hook(scene)
    assert wait_for(lambda: len(plex.item(key).posters) == 1, 30)
    assert plex.item(key).posters == [stash.scene(scene).screenshot]
    assert wait_for(lambda: "thumb" in plex.item(key).locked, 30)
    assert plugin.task("queue_status").output["dlq"]["total"] == 0
