"""Full-speed drain: jobs/s and the drainer's CPU per job, against a zero-latency loopback Plex.

Settings lift every cap (max_rate and ramp_initial_rate 1000 jobs/s; the ramp only runs after a
recovery, and this data dir has none). The scenes are queued as hooks queue them (one
`JobQueue.enqueue` transaction each), then one background drainer, started exactly as the plugin
starts one, drains them. Figures:

- jobs/s from the first to the last PUT edit the fake received (n PUTs, n - 1 intervals);
- the drainer's own CPU (user + system, /proc/<pid>/stat) when the last PUT arrives, divided by the
  jobs synced: start-up included (shown apart), since that is what a drain costs the machine;
- the bench process's CPU per job over the same span: the fakes' share of the two cores.

Two layouts. One folder per movie (`/media/mN/mN.mp4`, Plex's recommended layout): `file=` lists
one item. 1,000 files in one folder (`/media/all/sN.mp4`): PMS's `file=` filter matches by folder
(the fake does too: checked below before each drain), so every job lists all 1,000 movies. Each
layout drains for at most its budget (FOLDERS_BUDGET, FLAT_BUDGET); the jobs done by then give
the rate and the CPU per job.

A script, not a test: it prints figures and never asserts on them.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import (
    HAVE_PROC,
    NO_PROC,
    TOKEN,
    IndexedPlex,
    Row,
    World,
    cpu_seconds,
    drain_world,
    folder_per_movie,
    load_average,
    one_folder,
    queue_scenes,
    start_drainer,
)

from plexsync_actors.testing.fake_plex import FakePlex

SETTINGS: dict[str, float] = {
    "max_rate": 1000.0,
    "ramp_initial_rate": 1000.0,
    "drainer_idle_exit_seconds": 1.0,
}
FOLDERS_SCENES = 2000
FLAT_SCENES = 1000
# Seconds each layout may drain: at the targets every job is done well within them; today they
# keep the script near two minutes, and the jobs done by then give the rate.
FOLDERS_BUDGET = 45.0
FLAT_BUDGET = 25.0
START_TIMEOUT = 60.0


class PutWatch(IndexedPlex):
    """FakePlex that notes each successful PUT edit (the fake's monotonic time, the drainer's CPU
    then) and wakes the bench once every expected item has one."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.puts: list[tuple[float, float | None]] = []  # (time.monotonic(), drainer CPU s)
        self.expected = 0
        self.drainer_pid: int | None = None
        self.first = threading.Event()
        self.done = threading.Event()

    def _respond(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Any:
        answer = super()._respond(method, path, query, headers, body)
        if method == "PUT" and answer.status == 200:
            pid = self.drainer_pid
            self.puts.append((time.monotonic(), None if pid is None else cpu_seconds(pid)))
            self.first.set()
            if len(self.puts) >= self.expected:
                self.done.set()
        return answer


def listed_by_file(plex: FakePlex, path: str) -> tuple[int, int]:
    """(items, body bytes) the fake answers to the matcher's `file=` listing of `path`."""
    target = "/library/sections/1/all?" + urllib.parse.urlencode({"type": "1", "file": path})
    headers = {"x-plex-token": TOKEN, "accept": "application/json"}
    _, answer = plex.serve("GET", target, headers, b"")
    assert answer is not None
    metadata = json.loads(answer.body)["MediaContainer"].get("Metadata", [])
    return len(metadata), len(answer.body)


def drain(world: World, plex: PutWatch, budget: float | None) -> dict[str, Any]:
    """Queue every scene, start a drainer, wait for the PUTs (or the budget); the figures."""
    queued = queue_scenes(world.data_dir, world.pairs, now=time.time())
    plex.expected = len(world.pairs)
    bench_cpu = time.process_time()
    proc = start_drainer(world.plugin, world.data_dir)
    plex.drainer_pid = proc.pid
    if not plex.first.wait(START_TIMEOUT):
        proc.kill()
        proc.wait()
        raise SystemExit(f"no PUT within {START_TIMEOUT:.0f} s: see {world.data_dir}/plexsync.log")
    bench_cpu = time.process_time()  # the fakes' CPU from the first PUT on
    finished = plex.done.wait(budget)
    with plex.lock:
        puts = list(plex.puts)
    bench_cpu = time.process_time() - bench_cpu
    if finished:
        proc.wait()  # it exits after drainer_idle_exit_seconds with nothing to do
    else:
        proc.kill()
        proc.wait()
    (t0, cpu0), (t1, cpu1) = puts[0], puts[-1]
    return {
        "queued_s": queued,
        "jobs": len(puts),
        "finished": finished,
        "rate": (len(puts) - 1) / (t1 - t0) if len(puts) > 1 else 0.0,
        "span_s": t1 - t0,
        "cpu_total": cpu1,
        "cpu_startup": cpu0,
        "bench_cpu": bench_cpu,
        "exit": proc.returncode,
    }


def run_layout(
    label: str, scenes: int, path: Callable[[int], str], budget: float | None
) -> dict[str, Any]:
    plex = PutWatch()
    with drain_world(scenes, path=path, plex=plex, **SETTINGS) as world:
        items, size = listed_by_file(plex, path(1))
        print(f"\n== {label}: {scenes} scenes, files like {path(1)} ==")
        print(f"  the fake's `file={path(1)}` listing: {items} items, {size / 1024:.0f} KB JSON")
        figures = drain(world, plex, budget)
    jobs = figures["jobs"]
    ended = "all synced" if figures["finished"] else f"stopped after {budget:.0f} s"
    print(
        f"  queued {scenes} with one enqueue each in {figures['queued_s']:.2f} s; {jobs} PUTs "
        f"({ended}) in {figures['span_s']:.2f} s: {figures['rate']:.1f} jobs/s"
    )
    if figures["cpu_total"] is None:
        print(f"  drainer CPU: {NO_PROC}")
    else:
        work = figures["cpu_total"] - figures["cpu_startup"]
        print(
            f"  drainer CPU: {figures['cpu_total'] * 1000 / jobs:.2f} ms/job "
            f"({figures['cpu_total']:.2f} s, of which {figures['cpu_startup']:.2f} s before the "
            f"first PUT; {work * 1000 / max(jobs - 1, 1):.2f} ms/job after it)"
        )
    print(
        f"  bench process (fake Plex + fake Stash) CPU after the first PUT: "
        f"{figures['bench_cpu'] * 1000 / max(jobs - 1, 1):.2f} ms/job"
    )
    return figures


def cpu_row(label: str, figures: dict[str, Any], target: str) -> Row:
    if figures["cpu_total"] is None:
        return (f"drainer CPU per job, {label}", NO_PROC, target)
    return (
        f"drainer CPU per job, {label}",
        f"{figures['cpu_total'] * 1000 / figures['jobs']:.2f} ms",
        target,
    )


def main() -> list[Row]:
    print("settings: " + ", ".join(f"{k}={v:g}" for k, v in SETTINGS.items()))
    print(f"load average at start: {load_average()}")
    if not HAVE_PROC:
        print(f"no /proc on this system: the drainer's CPU is not measured ({NO_PROC})")
    started = time.monotonic()
    folders = run_layout("one folder per movie", FOLDERS_SCENES, folder_per_movie, FOLDERS_BUDGET)
    flat = run_layout("1,000 files in one folder", FLAT_SCENES, one_folder, FLAT_BUDGET)
    rows: list[Row] = [
        ("drain jobs/s, one folder per movie", f"{folders['rate']:.0f}", ">= 300"),
        cpu_row("one folder per movie", folders, "<= 1.5 ms"),
        ("drain jobs/s, 1,000 files in one folder", f"{flat['rate']:.1f}", ">= 250"),
        cpu_row("1,000 files in one folder", flat, "—"),
    ]
    print(
        f"\nload average at the end: {load_average()}; bench wall time "
        f"{time.monotonic() - started:.0f} s"
    )
    for figure, measured, target in rows:
        print(f"  {figure:45} {measured:>12}   target {target}")
    return rows


if __name__ == "__main__":
    main()
