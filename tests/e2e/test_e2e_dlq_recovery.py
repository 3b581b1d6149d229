"""End to end: dead letters from an outage go back to the queue with Recover Outage Jobs."""

from __future__ import annotations

import pytest

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, wait_for

pytestmark = pytest.mark.slow

SETTINGS = {
    "max_retries": 2,
    "breaker_failure_threshold": 3,
    "health_interval_min": 0.2,
    "health_interval_max": 0.5,
    "ramp_seconds": 1.0,
    "drainer_idle_exit_seconds": 1.0,
}


def test_recover_outage_jobs_brings_transient_dead_letters_back(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    """A dead letter inside an outage window: one item Plex refused (its charges stand while
    the circuit was closed) just before Plex went away altogether."""
    plex, _ = fake_plex
    fake_stash.plugin_settings.update(SETTINGS)
    section = plex.add_section("Movies", ["/media"])
    pairs = {}
    for n in range(1, 7):
        scene = fake_stash.add_scene(title=f"Recovered {n}", files=(f"/stash/media/r{n}.mp4",))
        pairs[scene] = plex.add_movie(section, f"/media/r{n}.mp4", title=f"r{n}")
    bad = max(pairs)

    def synced(scene: int) -> bool:
        return plex.item(pairs[scene]).title.startswith("Recovered")

    def status() -> dict[str, object]:
        output: dict[str, object] = plugin.task("queue_status").output
        return output

    plex.set_item_fault(pairs[bad], 503)  # one item refused while the others would answer
    assert plugin.hook(bad).returncode == 0
    assert wait_for(lambda: status()["dlq"]["total"] == 1, 30)  # type: ignore[index]
    plex.set_status_fault(503)  # then Plex goes away: the circuit opens
    for scene in pairs:
        if scene != bad:
            assert plugin.hook(scene).returncode == 0
    assert wait_for(lambda: status()["breaker"]["state"] == "open", 30)  # type: ignore[index]
    now = status()
    dlq = now["dlq"]
    assert dlq["total"] == 1 and dlq["by_error_type"] == {"PlexTemporaryError": 1}  # type: ignore[index]
    assert now["queue"]["pending"] == 5  # type: ignore[index]  # the outage dead-letters none
    refused = plugin.task("recover_outage_jobs")
    assert refused.returncode != 0 and "circuit is open" in refused.answer["error"]

    plex.set_status_fault(None)
    plex.set_item_fault(pairs[bad], None)
    assert wait_for(lambda: status()["queue"]["pending"] == 0, 30)  # type: ignore[index]
    assert [s for s in pairs if not synced(s)] == [bad]

    preview = plugin.task("recover_outage_jobs", dry_run="true").output
    assert preview["matched"] == 1 and preview["recovered"] == 0
    assert preview["by_error_type"] == {"PlexTemporaryError": 1}
    dlq = status()["dlq"]
    assert dlq["total"] == 1  # type: ignore[index]
    [newest] = dlq["newest"]  # type: ignore[index]
    assert newest["scene_id"] == bad and newest["error_type"] == "PlexTemporaryError"
    assert "last_failure_at" in newest and newest["message"]

    only_not_found = plugin.task("recover_outage_jobs", error_types="PlexNotFound").output
    assert only_not_found["matched"] == 0 and only_not_found["recovered"] == 0

    recovered = plugin.task("recover_outage_jobs").output
    assert recovered["matched"] == 1 and recovered["recovered"] == 1
    last = status()["last_runs"]["recover_outage_jobs"]  # type: ignore[index]
    assert last["result"] == recovered and last["error"] is None and last["finished_at"]
    assert wait_for(lambda: all(synced(s) for s in pairs), 30)
    assert status()["dlq"]["total"] == 0  # type: ignore[index]
    again = plugin.task("recover_outage_jobs").output
    assert again["recovered"] == 0 and again["matched"] == 0


def test_recover_outage_jobs_rejects_unknown_arguments(
    plugin: Plugin, fake_stash: FakeStash
) -> None:
    fake_stash.plugin_settings.update(SETTINGS)
    run = plugin.task("recover_outage_jobs", error_types="PlexBroken")
    assert run.returncode != 0 and "PlexBroken" in run.answer["error"]
    run = plugin.task("recover_outage_jobs", outage="42")
    assert run.returncode != 0 and "42" in run.answer["error"]
