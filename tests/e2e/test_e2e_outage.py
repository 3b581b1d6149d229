"""End to end through the plugin protocol: Plex goes away, saves queue, Plex comes back."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, drainer_pid, process_alive, wait_for

pytestmark = pytest.mark.slow

FAST_OUTAGE = {
    "breaker_failure_threshold": 3,
    "health_interval_min": 0.2,
    "health_interval_max": 1.0,
    "ramp_seconds": 2.0,
    "ramp_initial_rate": 5,
    "max_rate": 20,
    "drainer_idle_exit_seconds": 1.0,
    "connect_timeout": 0.5,
}


def library(plex: FakePlex, stash: FakeStash, count: int) -> dict[int, int]:
    section = plex.add_section("Movies", ["/media"])
    pairs = {}
    for n in range(1, count + 1):
        scene = stash.add_scene(
            title=f"Outage scene {n}", tags=("a", f"t{n}"), files=(f"/stash/media/o{n}.mp4",)
        )
        pairs[scene] = plex.add_movie(section, f"/media/o{n}.mp4", title=f"o{n}")
    return pairs


def synced(plex: FakePlex, pairs: dict[int, int]) -> bool:
    return all(plex.item(key).title.startswith("Outage scene") for key in pairs.values())


@pytest.fixture
def outage_world(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> tuple[Plugin, FakePlex, FakeStash, dict[int, int]]:
    plex, _ = fake_plex
    fake_stash.plugin_settings.update(FAST_OUTAGE)
    return plugin, plex, fake_stash, library(plex, fake_stash, 20)


def queue_until_open(plugin: Plugin, pairs: dict[int, int]) -> dict[str, object]:
    for scene_id in pairs:
        assert plugin.hook(scene_id).returncode == 0
    assert wait_for(lambda: plugin.task("queue_status").output["breaker"]["state"] == "open", 30)
    status = plugin.task("queue_status").output
    assert status["queue"]["pending"] == 20
    assert status["dlq"]["total"] == 0
    return status


def test_outage_queues_saves_and_recovery_drains_them_without_user_action(
    outage_world: tuple[Plugin, FakePlex, FakeStash, dict[int, int]],
) -> None:
    plugin, plex, _, pairs = outage_world
    plex.set_down(True)
    queue_until_open(plugin, pairs)
    plex.set_down(False)
    limit = FAST_OUTAGE["health_interval_max"] + FAST_OUTAGE["ramp_seconds"] + 5
    assert wait_for(lambda: synced(plex, pairs), limit)
    report = plugin.task("outage_summary").output
    assert len(report["outages"]) == 1
    outage = report["outages"][0]
    assert outage["jobs_affected"] == 20 and outage["ended_at"] is not None
    assert outage["first_error"] == "PlexServerDown"
    status = plugin.task("queue_status").output
    messages = [event["message"] for event in status["recent_events"]]
    assert any(m.startswith("Circuit OPEN after 3 consecutive failures") for m in messages)
    assert any(m.startswith("Circuit HALF_OPEN: Plex answered /identity") for m in messages)
    assert any(m.startswith("Circuit CLOSED: Plex recovered after") for m in messages)
    assert status["breaker"]["state"] == "closed"


def test_drainer_killed_mid_outage_keeps_the_outage(
    outage_world: tuple[Plugin, FakePlex, FakeStash, dict[int, int]], data_dir: Path
) -> None:
    plugin, plex, _, pairs = outage_world
    plex.set_down(True)
    before = queue_until_open(plugin, pairs)
    pid = drainer_pid(data_dir)
    assert pid is not None and process_alive(pid)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not process_alive(pid), 5)
    after = plugin.task("queue_status").output
    assert after["breaker"]["state"] == "open"
    assert after["breaker"]["opened_at"] == before["breaker"]["opened_at"]  # type: ignore[index]
    assert after["drainer"]["running"] is False
    plex.set_down(False)
    assert plugin.hook(next(iter(pairs))).returncode == 0  # the next save restarts the drainer
    assert wait_for(lambda: synced(plex, pairs), 15)
    outages = plugin.task("outage_summary").output["outages"]
    assert len(outages) == 1 and outages[0]["ended_at"] is not None


@pytest.mark.parametrize("name", ["breaker.json", "recovery.json", "outages.json"])
@pytest.mark.parametrize(
    "content", [b"", b'{"schema": 1, "da', b"\x00garbage", b'{"schema": 99, "data": {}}']
)
def test_corrupt_state_file_is_moved_aside_and_nothing_is_lost(
    outage_world: tuple[Plugin, FakePlex, FakeStash, dict[int, int]],
    data_dir: Path,
    name: str,
    content: bytes,
) -> None:
    plugin, plex, _, pairs = outage_world
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / name).write_bytes(content)
    status = plugin.task("queue_status")
    assert status.returncode == 0
    warnings = [m for level, m in status.log_messages() if level == "w"]
    assert any(name in m for m in warnings), status.stderr
    assert list(data_dir.glob(f"{name}.corrupt-*"))
    for scene_id in pairs:
        plugin.hook(scene_id)
    assert wait_for(lambda: synced(plex, pairs), 30)


def test_status_during_outage_reports_recovery_timing(
    outage_world: tuple[Plugin, FakePlex, FakeStash, dict[int, int]],
) -> None:
    plugin, plex, _, pairs = outage_world
    plex.set_down(True)
    status = queue_until_open(plugin, pairs)
    breaker = status["breaker"]
    assert breaker["next_probe_at"] is not None  # type: ignore[index]
    assert breaker["consecutive_failures"] >= 3  # type: ignore[index]
    time.sleep(0.5)
    run = plugin.task("queue_status")
    assert any("Circuit OPEN for" in m for _, m in run.log_messages())
    plex.set_down(False)
    assert wait_for(lambda: synced(plex, pairs), 10)
