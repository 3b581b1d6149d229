"""End to end against the fake Stash playing older releases: v0.26.0 is the oldest supported."""

from __future__ import annotations

import pytest

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stash_schema", ["v0.26.2", "v0.27.2"])
def test_hooks_sync_on_supported_releases(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    section = plex.add_section("Movies", ["/media"])
    keys = {}
    for n in (1, 2):
        scene = fake_stash.add_scene(
            title=f"Scene {n}", tags=("a", "b"), files=(f"/stash/media/s{n}.mp4",)
        )
        keys[scene] = plex.add_movie(section, f"/media/s{n}.mp4")
    for scene in keys:
        assert plugin.hook(scene).output == {"queued": scene}
    assert wait_for(lambda: all(plex.item(k).title.startswith("Scene") for k in keys.values()), 30)
    assert plugin.task("queue_status").output["queue"]["pending"] == 0
    assert fake_stash.invalid_queries == []


@pytest.mark.parametrize("stash_schema", ["v0.25.1", "v0.24.3"])
def test_an_older_stash_gets_one_sentence_naming_both_versions_and_a_save_still_queues(
    plugin: Plugin, fake_stash: FakeStash, stash_schema: str
) -> None:
    for mode in ("queue_status", "check_setup", "process_queue"):
        run = plugin.task(mode)
        assert run.returncode != 0
        error = run.answer["error"]
        assert stash_schema in error and "v0.26.0" in error, error
        assert "Traceback" not in run.stderr
    scene = fake_stash.add_scene(title="Saved anyway", files=("/stash/media/x.mp4",))
    assert plugin.hook(scene).output == {"queued": scene}
    assert fake_stash.invalid_queries == []  # the settings query is valid on both schemas
