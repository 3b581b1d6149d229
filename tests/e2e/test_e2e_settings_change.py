"""End to end: a setting fixed in Stash reaches a running drainer without a save or a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PLEX_TOKEN

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, drainer_pid, process_alive, wait_for

pytestmark = pytest.mark.slow

FAST = {
    "breaker_failure_threshold": 2,
    "health_interval_min": 0.3,
    "health_interval_max": 0.6,
    "ramp_seconds": 0.5,
    "drainer_idle_exit_seconds": 30,
}


@pytest.fixture
def wrong_token(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> tuple[Plugin, FakePlex, FakeStash, dict[int, int]]:
    """Two scenes saved with a wrong plex_token: the circuit opens on Plex's 401s."""
    plex, _ = fake_plex
    fake_stash.plugin_settings.update({**FAST, "plex_token": "wrong-token"})
    section = plex.add_section("Movies", ["/media"])
    keys = {}
    for n in (1, 2):
        scene = fake_stash.add_scene(title=f"Fixed {n}", files=(f"/stash/media/f{n}.mp4",))
        keys[scene] = plex.add_movie(section, f"/media/f{n}.mp4")
    for scene in keys:
        assert plugin.hook(scene).returncode == 0
    state = lambda: plugin.task("queue_status").output["breaker"]["state"]  # noqa: E731
    assert wait_for(lambda: state() == "open", 30)
    return plugin, plex, fake_stash, keys


def test_a_fixed_token_reaches_the_running_drainer_without_a_save(
    wrong_token: tuple[Plugin, FakePlex, FakeStash, dict[int, int]], data_dir: Path
) -> None:
    _, plex, stash, keys = wrong_token
    pid = drainer_pid(data_dir)
    stash.plugin_settings["plex_token"] = PLEX_TOKEN  # fixed in Stash: no save, no task
    assert wait_for(lambda: all(plex.item(k).title.startswith("Fixed") for k in keys.values()), 30)
    assert drainer_pid(data_dir) == pid and pid is not None and process_alive(pid)  # same one


def test_switching_plexsync_off_stops_a_running_drainer(
    wrong_token: tuple[Plugin, FakePlex, FakeStash, dict[int, int]], data_dir: Path
) -> None:
    plugin, _, stash, _ = wrong_token
    pid = drainer_pid(data_dir)
    assert pid is not None and process_alive(pid)
    stash.plugin_settings["enabled"] = False
    assert wait_for(lambda: not process_alive(pid), 30)
    assert plugin.task("queue_status").output == "disabled"
