"""What the PlexSync page is shown in its browser test: answers recorded from the real plugin.

Each scenario builds a world of loopback fakes (Plex, Stash), drives the installed plugin
through Stash's protocol into a state (healthy, an open circuit with a backlog, a recovery
ramp, nothing ever queued, a dead letter after an outage) and records what the page's reads
answer there. Where the page can start a long action, the action is run for real too and the
reads are recorded again after it: the stand-in Stash answers those once the page's task ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, install_plugin, kill_drainer, wait_for

PLEX_TOKEN = "tok-PAGE-SECRET-81c2"
FAST = {
    "max_retries": 2,
    "breaker_failure_threshold": 3,
    "health_interval_min": 0.2,
    "health_interval_max": 0.5,
    "ramp_seconds": 1.0,
    "drainer_idle_exit_seconds": 1.0,
    "retry_base_seconds": 0.05,
    "retry_cap_seconds": 0.2,
    "connect_timeout": 0.5,
}
READS = ("queue_status", "outage_summary")
# The answers a scenario records beside the two reads the page polls.
ASKED = ("check_setup", "health_check", "recover_outage_jobs:dry_run")


def answer_key(args: dict[str, Any]) -> str:
    """How a recorded answer is looked up: the mode, and `:dry_run` for a preview."""
    mode = str(args.get("mode", ""))
    return f"{mode}:dry_run" if str(args.get("dry_run", "")).lower() == "true" else mode


@attrs.define
class Recording:
    """A scenario's answers before any task, and after each task the page can start."""

    name: str
    before: dict[str, Any]
    after: dict[str, dict[str, Any]] = attrs.Factory(dict)  # task mode -> answers


@attrs.define
class World:
    plex: FakePlex
    stash: FakeStash
    plugin: Plugin
    pairs: dict[int, int]

    def status(self) -> dict[str, Any]:
        output: dict[str, Any] = self.plugin.task("queue_status", quiet="true").output
        return output

    def answer(self, key: str) -> Any:
        mode, _, dry = key.partition(":")
        args = {"quiet": "true", **({"dry_run": "true"} if dry else {})}
        run = self.plugin.task(mode, **args)
        answer = run.answer
        if answer.get("error"):
            return {"__error__": str(answer["error"])}  # Stash turns it into a GraphQL error
        return run.output

    def record(self, keys: tuple[str, ...] = READS + ASKED) -> dict[str, Any]:
        return {key: self.answer(key) for key in keys}

    def hook_all(self) -> None:
        for scene in self.pairs:
            assert self.plugin.hook(scene).returncode == 0

    def synced(self) -> bool:
        return all(self.plex.item(key).title.startswith("Scene ") for key in self.pairs.values())


@contextlib.contextmanager
def world(root: Path, scenes: int, settings: dict[str, Any]) -> Iterator[World]:
    plex = FakePlex(token=PLEX_TOKEN)
    server = FakePlexServer(plex)
    server.start()
    stash_dir = root / "stash-config"
    stash_dir.mkdir(parents=True)
    stash = FakeStash(
        plugin_settings={
            "plex_url": server.url,
            "plex_token": PLEX_TOKEN,
            "path_map": "/stash/media=>/media",
            **settings,
        },
        stash_dir=str(stash_dir),
        require_auth=True,
        api_key="stash-api-key",
    )
    stash.start()
    section = plex.add_section("Movies", ["/media"])
    pairs = {}
    for n in range(1, scenes + 1):
        scene = stash.add_scene(title=f"Scene {n}", files=(f"/stash/media/p{n}.mp4",))
        pairs[scene] = plex.add_movie(section, f"/media/p{n}.mp4", title=f"p{n}")
    plugin = Plugin(install_plugin(root / "plugins"), stash.server_connection(), cwd=root)
    try:
        yield World(plex, stash, plugin, pairs)
    finally:
        kill_drainer(stash_dir / "plugin_data" / "PlexSync")
        stash.stop()
        server.stop()


def _until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    if not wait_for(condition, timeout, interval=0.1):
        raise AssertionError(f"the scenario never reached: {what}")


def _an_outage_then_back(w: World) -> None:
    w.plex.set_down(True)
    w.hook_all()
    _until(lambda: w.status()["breaker"]["state"] == "open", "an open circuit")
    w.plex.set_down(False)
    _until(lambda: w.status()["queue"]["pending"] == 0 and w.synced(), "a drained queue")


def empty(root: Path) -> Recording:
    """Installed and set up, nothing ever queued: no outage, no dead letter."""
    with world(root, 2, FAST) as w:
        recording = Recording("empty", w.record())
        w.plugin.task("process_queue")
        recording.after["process_queue"] = w.record(READS)
    return recording


def healthy(root: Path) -> Recording:
    """Saves reached Plex; one short outage long over; the circuit closed, the ramp done."""
    with world(root, 3, FAST) as w:
        _an_outage_then_back(w)
        _until(lambda: not w.status()["recovery"]["ramp_active"], "the ramp's end")
        return Recording("healthy", w.record())


def open_backlog(root: Path) -> Recording:
    """Plex unreachable, 5 saves waiting; probes minutes apart, so the countdown still runs
    when the page shows the recording."""
    settings = {**FAST, "health_interval_min": 300.0, "health_interval_max": 600.0}
    with world(root, 5, settings) as w:
        w.plex.set_down(True)
        w.hook_all()
        _until(lambda: w.status()["breaker"]["state"] == "open", "an open circuit")
        _until(lambda: w.status()["drainer"]["running"], "a running drainer")
        recording = Recording("open_backlog", w.record())
        w.plugin.task("process_queue")
        recording.after["process_queue"] = w.record(READS)
    return recording


def recovering(root: Path) -> Recording:
    """Plex back a moment ago: a backlog of 20 drains on a 2-minute ramp from 0.5 job/s."""
    settings = {**FAST, "ramp_seconds": 120.0, "ramp_initial_rate": 0.5, "max_rate": 2.0}
    with world(root, 20, settings) as w:
        w.plex.set_down(True)
        w.hook_all()
        _until(lambda: w.status()["breaker"]["state"] == "open", "an open circuit")
        w.plex.set_down(False)
        _until(lambda: w.status()["recovery"]["ramp_active"], "a running ramp")
        return Recording("recovering", w.record())


def dlq_after_outage(root: Path) -> Recording:
    """One item Plex refused went to the DLQ just before Plex went away; Plex is back."""
    with world(root, 4, FAST) as w:
        bad = max(w.pairs)
        w.plex.set_item_fault(w.pairs[bad], 503)
        assert w.plugin.hook(bad).returncode == 0
        _until(lambda: w.status()["dlq"]["total"] == 1, "a dead letter")
        w.plex.set_status_fault(503)
        for scene in w.pairs:
            if scene != bad:
                assert w.plugin.hook(scene).returncode == 0
        _until(lambda: w.status()["breaker"]["state"] == "open", "an open circuit")
        w.plex.set_status_fault(None)
        w.plex.set_item_fault(w.pairs[bad], None)
        _until(lambda: w.status()["queue"]["pending"] == 0, "a drained queue")
        _until(lambda: w.status()["breaker"]["state"] == "closed", "a closed circuit")
        recording = Recording("dlq_after_outage", w.record())
        recovered = w.plugin.task("recover_outage_jobs", quiet="true")
        assert recovered.output["recovered"] == 1, recovered.answer
        recording.after["recover_outage_jobs"] = w.record(READS)
    return recording


def disabled(root: Path) -> Recording:
    """The plugin's Enabled setting switched off: every task answers "disabled"."""
    with world(root, 1, {**FAST, "enabled": False}) as w:
        return Recording("disabled", w.record((*READS, "check_setup")))


def fanning_out(root: Path) -> Recording:
    """A tag renamed on synced scenes: the drainer is still asking Stash for their pages."""
    with world(root, 3, FAST) as w:
        for scene in w.pairs:
            w.stash.update_scene(scene, tags=["Outdoor"])
        w.hook_all()
        _until(lambda: w.status()["queue"]["pending"] == 0 and w.synced(), "a drained queue")
        w.stash.delays["findScenes"] = 20.0  # the page of scenes with the tag takes its time
        renamed = w.stash.rename_entity("tag", "Outdoor", "Outdoors")
        assert w.plugin.hook_context(renamed).returncode == 0
        _until(lambda: "Outdoors" in str(w.status()["fan_outs"]), "a named fan-out")
        recording = Recording("fanning_out", w.record(READS))
        w.stash.delays.clear()
        return recording


SCENARIOS: dict[str, Callable[[Path], Recording]] = {
    "healthy": healthy,
    "open_backlog": open_backlog,
    "recovering": recovering,
    "empty": empty,
    "dlq_after_outage": dlq_after_outage,
    "disabled": disabled,
    "fanning_out": fanning_out,
}
