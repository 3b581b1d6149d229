"""Chaos, bounded: a flapping Plex, processes killed at random instants, 200 saves at once.

Each runs against the loopback fakes through the plugin protocol, within the suite's budget.
PLEXSYNC_SOAK=1 makes each run several times longer (`make soak`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, drainer_pid, kill_drainer, wait_for

pytestmark = pytest.mark.slow
SOAK = 4 if os.environ.get("PLEXSYNC_SOAK") else 1
# Outage handling compressed so a recovery takes a second or two, retries and breaker at the
# defaults (5 attempts, 5 failures in a row).
CHAOS_SETTINGS = {
    "health_interval_min": 0.5,
    "health_interval_max": 1.5,
    "ramp_seconds": 2.0,
    "ramp_initial_rate": 10,
    "max_rate": 50,
    "read_timeout": 1.0,
    "connect_timeout": 0.5,
    "drainer_idle_exit_seconds": 5.0,
    "retry_base_seconds": 0.2,
    "retry_cap_seconds": 2.0,
}


def library(plex: FakePlex, stash: FakeStash, count: int) -> dict[int, int]:
    section = plex.add_section("Movies", ["/media"])
    pairs = {}
    for n in range(1, count + 1):
        scene = stash.add_scene(title=f"v0 {n}", files=(f"/stash/media/c{n}.mp4",))
        pairs[scene] = plex.add_movie(section, f"/media/c{n}.mp4", title=f"file {n}")
    return pairs


class Flapper:
    """Plex goes away and comes back in a loop: refused, 503, hanging or slow, then healthy."""

    def __init__(self, plex: FakePlex, rng: random.Random, modes: tuple[str, ...]) -> None:
        self.plex, self.rng, self.modes = plex, rng, modes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Flapper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._healthy()

    def _healthy(self) -> None:
        self.plex.set_down(False)
        self.plex.set_status_fault(None)
        self.plex.set_hang(False)
        self.plex.set_latency(0.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            mode = self.rng.choice(self.modes)
            if mode == "refused":
                self.plex.set_down(True)
            elif mode == "503":
                self.plex.set_status_fault(503)
            elif mode == "hang":
                self.plex.set_hang(True)
            elif mode == "slow":
                self.plex.set_latency(0.3)
            self._stop.wait(self.rng.uniform(1.0, 2.0))
            self._healthy()
            self._stop.wait(self.rng.uniform(1.0, 2.0))


def closed_without_an_answer(plex: FakePlex, outages: list[dict[str, Any]]) -> list[str]:
    """Outages whose closing no 2xx answer to a real request came before."""
    offset = time.time() - time.monotonic()
    bad = []
    for outage in outages:
        if outage["ended_at"] is None:
            continue
        from datetime import datetime

        start = datetime.fromisoformat(outage["started_at"]).timestamp()
        end = datetime.fromisoformat(outage["ended_at"]).timestamp()
        answered = [
            at + offset
            for at, _, path, status in plex.answers
            if path != "/identity" and 200 <= status < 300
        ]
        if not any(start <= at <= end + 0.25 for at in answered):
            bad.append(outage["id"])
    return bad


def well_formed(outages: list[dict[str, Any]]) -> None:
    from datetime import datetime

    spans = []
    for outage in outages:
        assert outage["ended_at"] is not None, outage  # none left open
        assert outage["duration_seconds"] >= 0 and outage["jobs_affected"] >= 0, outage
        start = datetime.fromisoformat(outage["started_at"]).timestamp()
        end = datetime.fromisoformat(outage["ended_at"]).timestamp()
        first = datetime.fromisoformat(outage["first_failure_at"]).timestamp()
        assert first <= start <= end, outage
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start  # no two outages overlap


@pytest.fixture
def chaos(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> tuple[Plugin, FakePlex, FakeStash]:
    fake_stash.plugin_settings.update(CHAOS_SETTINGS)
    plex, _ = fake_plex
    return plugin, plex, fake_stash


def test_a_flapping_plex_dead_letters_nothing_and_every_scene_arrives(
    chaos: tuple[Plugin, FakePlex, FakeStash],
) -> None:
    plugin, plex, stash = chaos
    pairs = library(plex, stash, 30)
    rng = random.Random(11)
    scenes = list(pairs)
    with Flapper(plex, rng, ("refused", "503")):
        deadline = time.monotonic() + 40 * SOAK
        while time.monotonic() < deadline:
            scene = rng.choice(scenes)
            stash.update_scene(scene, title=f"v{int(time.monotonic() * 1000)} {scene}")
            assert plugin.hook(scene).returncode == 0
            time.sleep(rng.uniform(0.5, 1.5))
    for scene in scenes:  # every scene saved at least once
        assert plugin.hook(scene).returncode == 0
    assert wait_for(lambda: in_plex(plex, stash, pairs) == set(pairs), 60)
    status = plugin.task("queue_status").output
    assert status["dlq"]["total"] == 0, status["dlq"]
    outages = plugin.task("outage_summary").output["outages"]
    assert outages and closed_without_an_answer(plex, outages) == []
    well_formed(outages)


def in_plex(plex: FakePlex, stash: FakeStash, pairs: dict[int, int]) -> set[int]:
    return {s for s, key in pairs.items() if plex.item(key).title == stash.scene(s).title}


def test_random_kills_amid_a_flapping_plex_lose_no_save(
    chaos: tuple[Plugin, FakePlex, FakeStash], data_dir: Path
) -> None:
    plugin, plex, stash = chaos
    pairs = library(plex, stash, 20)
    rng = random.Random(5)
    answered: dict[int, bool] = {}  # scene -> did the hook of its latest change answer?
    with Flapper(plex, rng, ("refused", "503", "hang", "slow")):
        for _ in range(12 * SOAK):
            procs = []
            for scene in rng.sample(list(pairs), 4):
                stash.update_scene(scene, title=f"r{rng.randrange(10**9)} {scene}")
                procs.append((scene, plugin.start_hook(scene)))
            foreground = _start_task(plugin, "process_queue") if rng.random() < 0.4 else None
            time.sleep(rng.uniform(0.0, 0.15))
            for scene, proc in procs:
                if rng.random() < 0.3:
                    proc.send_signal(signal.SIGKILL)
                out, _ = proc.communicate(timeout=60)
                answered[scene] = proc.returncode == 0 and '"queued"' in out
            if rng.random() < 0.5:
                kill_drainer(data_dir)
            if foreground is not None:
                time.sleep(rng.uniform(0.0, 0.5))
                foreground.send_signal(signal.SIGKILL)
                foreground.wait(timeout=60)
            time.sleep(rng.uniform(0.2, 0.8))
    plugin.task("process_queue", timeout=120)  # Plex is healthy again; anything left drains
    wanted = {s for s, ok in answered.items() if ok}
    assert wait_for(lambda: wanted <= in_plex(plex, stash, pairs), 60), wanted - in_plex(
        plex, stash, pairs
    )
    assert wait_for(lambda: plugin.task("queue_status").output["queue"]["pending"] == 0, 60)
    status = plugin.task("queue_status").output
    assert status["dlq"]["total"] == 0, status["dlq"]
    well_formed(plugin.task("outage_summary").output["outages"])


def _start_task(plugin: Plugin, mode: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        plugin.command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=plugin.cwd,
        env=plugin.env,
    )
    assert proc.stdin is not None
    proc.stdin.write(plugin.input_for({"mode": mode}))
    proc.stdin.close()
    return proc


@contextlib.contextmanager
def drainer_census(data_dir: Path) -> Iterator[list[int]]:
    """Samples, every 20 ms, the pid in the drainer heartbeat (only the lock holder writes it).

    Two drainers at once would show as one pid, another, then the first again."""
    holders: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            pid = drainer_pid(data_dir)
            if pid is not None and (not holders or holders[-1] != pid):
                holders.append(pid)
            stop.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield holders
    finally:
        stop.set()
        thread.join()


def test_two_hundred_saves_at_once_and_three_process_queues_one_drainer_no_lock_errors(
    chaos: tuple[Plugin, FakePlex, FakeStash], data_dir: Path
) -> None:
    plugin, plex, stash = chaos
    pairs = library(plex, stash, 200)
    with drainer_census(data_dir) as census:
        hooks = [plugin.start_hook(scene) for scene in pairs]
        tasks = [_start_task_capturing(plugin, "process_queue") for _ in range(3)]
        outputs = [proc.communicate(timeout=120) for proc in hooks]
        task_outputs = [proc.communicate(timeout=120) for proc in tasks]
        assert all(proc.returncode == 0 for proc in hooks), outputs[:3]
        assert wait_for(lambda: in_plex(plex, stash, pairs) == set(pairs), 120)
    # Never two at once: no holder comes back after another took over (each held the lock).
    assert census and len(census) == len(set(census)), census
    everything = "".join(out + err for out, err in outputs)
    everything += "".join(out.decode() + err.decode() for out, err in task_outputs)
    log = data_dir / "plexsync.log"
    everything += log.read_text(encoding="utf-8") if log.exists() else ""
    assert "database is locked" not in everything
    assert drainer_pid(data_dir) is None or plugin.task("queue_status").output["queue"] == {
        "pending": 0, "in_flight": 0, "waiting_retry": 0
    }  # fmt: skip


def _start_task_capturing(plugin: Plugin, mode: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        plugin.command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=plugin.cwd,
        env=plugin.env,
    )
    assert proc.stdin is not None
    proc.stdin.write(plugin.input_for({"mode": mode}))
    proc.stdin.close()
    proc.stdin = None
    return proc
