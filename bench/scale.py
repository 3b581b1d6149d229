"""A 100,000-job queue: what it adds to `queue_status`, and the drainer's memory working through it.

1. The queue is filled directly with `JobQueue.enqueue_many` (ENQUEUE_CHUNK scenes to a
   transaction, as the `all` task queues); how long that takes is shown.
2. `queue_status` is run as Stash runs it (the plugin entry, stdin JSON; the release zip with a
   bare Python), alternately on an empty queue and on the full one (the `data_dir` setting
   switched between two folders), RUNS pairs; the figure is the median of the paired differences,
   so a busy machine shifts both sides alike. Target: keep (+12-23 ms). A task that finds ready
   work and no drainer starts one; with 100,000 jobs a drainer is running in practice, so the
   bench keeps the drainer heartbeat fresh under its own pid (`drainer.control.beat`) and no
   task starts one: the timing is the task's alone.
3. A drainer is then started as the plugin starts one and works through the queue for about
   RSS_SECONDS at full speed (no rate cap) against a zero-latency loopback Plex; its VmRSS
   (/proc/<pid>/status) is sampled every RSS_EVERY seconds. Target: 40 MB, flat.

Only the first REAL_SCENES scene ids exist in the fakes (jobs are taken lowest id first, so the
drainer never gets past them in the window); the other jobs are there for their weight in the
queue. A script, not a test: it prints figures and never asserts on them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import (
    HAVE_PROC,
    NO_PROC,
    Row,
    SetupError,
    World,
    drain_world,
    load_average,
    median,
    rss_mb,
    start_drainer,
)

from plexsync_actors.drainer.control import beat, stop_beating
from plexsync_actors.persistence.jobs import ENQUEUE_CHUNK, JobQueue

JOBS = 100_000
REAL_SCENES = 5_000
RUNS = 10  # pairs
RSS_SECONDS = 10.0
RSS_EVERY = 0.5
# No rate cap: the drainer works through as much of the queue as it can in the window.
SETTINGS = {"max_rate": 1000.0, "ramp_initial_rate": 1000.0, "drainer_idle_exit_seconds": 30.0}



def status_ms(world: World, data_dir: Path, quiet: bool = False) -> float:
    """One `queue_status` run as Stash starts it, on the queue in `data_dir` (the `data_dir`
    setting Stash hands out): wall ms from start to exit (a blocking wait)."""
    world.stash.plugin_settings["data_dir"] = str(data_dir)
    now = time.time()
    beat(data_dir, since=now, now=now)  # "a drainer runs": the task starts none
    start = time.perf_counter()
    extra = {"quiet": "true"} if quiet else {}
    run = world.plugin.task("queue_status", timeout=120, **extra)
    elapsed = (time.perf_counter() - start) * 1000
    if run.returncode != 0:
        raise SetupError(f"queue_status failed: {run.stdout} {run.stderr[-500:]}")
    return elapsed


def compare_status(world: World, empty_dir: Path, quiet: bool = False) -> float:
    """Median of paired (full - empty) `queue_status` times, run alternately (ABBA) so both see
    the same machine; returns it in ms. `quiet`: as the PlexSync page polls it."""
    status_ms(world, empty_dir, quiet)  # cold caches after the fill: not counted
    status_ms(world, world.data_dir, quiet)
    empty, full = [], []
    for n in range(RUNS):
        order = [(empty_dir, empty), (world.data_dir, full)]
        for data_dir, times in order if n % 2 == 0 else reversed(order):
            times.append(status_ms(world, data_dir, quiet))
    world.stash.plugin_settings["data_dir"] = str(world.data_dir)
    added = median([b - a for a, b in zip(empty, full, strict=True)])
    how = " (quiet)" if quiet else ""
    for label, times in (("empty queue", empty), (f"{JOBS:,} jobs", full)):
        print(
            f"  queue_status{how}, {label:11}: median {median(times):6.1f} ms "
            f"(min {min(times):.1f}, max {max(times):.1f}, {RUNS} runs)"
        )
    print(
        f"  added by {JOBS:,} queued jobs (median of {RUNS} paired differences): {added:+.1f} ms "
        "(target: keep, +12-23 ms)"
    )
    return added


def queue_reads(data_dir: Path) -> tuple[float, float]:
    """In-process ms of what every task reads of the queue: SQLite's quick_check (run at each
    task's start) and the status counts; median of RUNS."""
    checks, counts = [], []
    with JobQueue(data_dir) as queue:
        for _ in range(RUNS):
            start = time.perf_counter()
            queue.check()
            checks.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            queue.counts(now=time.time())
            counts.append((time.perf_counter() - start) * 1000)
    return median(checks), median(counts)


def fill_queue(world: World) -> float:
    start = time.perf_counter()
    with JobQueue(world.data_dir) as queue:
        queue.enqueue_many(list(range(1, JOBS + 1)), reason="Scene.Update.Post", now=time.time())
        pending = queue.pending_count()
    took = time.perf_counter() - start
    print(
        f"  queued {pending:,} jobs with enqueue_many ({ENQUEUE_CHUNK} a transaction) in "
        f"{took:.2f} s ({took * 1e6 / JOBS:.0f} us a job)"
    )
    return took


def sample_rss(world: World) -> list[tuple[float, float, int]]:
    """(seconds since spawn, VmRSS MB, PUTs so far) every RSS_EVERY s for RSS_SECONDS of work."""
    stop_beating(world.data_dir)  # the bench's heartbeat must not keep the drainer out
    proc = start_drainer(world.plugin, world.data_dir)
    samples: list[tuple[float, float, int]] = []
    start = time.monotonic()
    working_since: float | None = None
    try:
        while working_since is None or time.monotonic() - working_since < RSS_SECONDS:
            time.sleep(RSS_EVERY)
            rss = rss_mb(proc.pid)
            if rss is None or proc.poll() is not None:
                raise SetupError(f"the drainer exited ({proc.returncode}); see plexsync.log")
            with world.plex.lock:
                puts = sum(1 for r in world.plex.requests if r.method == "PUT")
            samples.append((time.monotonic() - start, rss, puts))
            if puts and working_since is None:
                working_since = time.monotonic()
            if time.monotonic() - start > 60 + RSS_SECONDS:
                raise SetupError("the drainer sent no PUT within 60 s")
    finally:
        proc.kill()
        proc.wait()
    return samples


def main() -> list[Row]:
    print(f"load average at start: {load_average()}")
    with drain_world(REAL_SCENES, released=True, **SETTINGS) as world:
        print(f"fakes: {REAL_SCENES:,} scenes and movies (one folder each); queue: {JOBS:,} jobs")
        empty_dir = world.plugin.cwd / "empty-queue"
        JobQueue(empty_dir).close()  # the baseline is an empty queue, not a missing one
        fill_queue(world)
        added = compare_status(world, empty_dir)
        added_quiet = compare_status(world, empty_dir, quiet=True)
        (check0, counts0), (check1, counts1) = queue_reads(empty_dir), queue_reads(world.data_dir)
        size = (world.data_dir / "queue.sqlite3").stat().st_size / 2**20
        print(
            f"  where it goes, in process ({size:.0f} MB queue file): quick_check {check0:.1f} -> "
            f"{check1:.1f} ms, status counts {counts0:.1f} -> {counts1:.1f} ms"
        )
        rows: list[Row] = [
            (
                f"queue_status wall time added by {JOBS:,} jobs",
                f"{added:+.0f} ms",
                "keep (+12-23 ms)",
            ),
            (
                f"same, quiet (the page's poll: no quick_check), added by {JOBS:,} jobs",
                f"{added_quiet:+.0f} ms",
                "keep (+12-23 ms)",
            ),
        ]
        if not HAVE_PROC:
            print(f"  drainer RSS: {NO_PROC}")
            return [*rows, (f"drainer RSS working through {JOBS:,} jobs", NO_PROC, "40 MB flat")]
        samples = sample_rss(world)
    working = [rss for _, rss, puts in samples if puts]
    print(
        f"  drainer VmRSS every {RSS_EVERY:g} s (seconds since start: MB, PUTs so far): "
        + ", ".join(f"{t:.1f}: {rss:.1f}, {puts}" for t, rss, puts in samples)
    )
    print(
        f"  while working ({len(working)} samples, {samples[-1][2]} jobs synced): "
        f"min {min(working):.1f} MB, max {max(working):.1f} MB (target: 40 MB, flat)"
    )
    print(f"load average at the end: {load_average()}")
    rows.append(
        (
            f"drainer RSS working through {JOBS:,} jobs, min / max",
            f"{min(working):.1f} / {max(working):.1f} MB",
            "40 MB flat",
        )
    )
    return rows


if __name__ == "__main__":
    main()
