"""Hook wall time (p50/p90 over 50 hooks) beside the floor: `python -c "import sqlite3, json"`.

Target: hook p50 <= 3x the floor. Both are measured in the same run, so the ratio is what counts
on a shared, noisy machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import bench_world

RUNS = 50


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    floor = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sqlite3, json"], check=True)
        floor.append((time.perf_counter() - start) * 1000)
    hooks = []
    with bench_world(RUNS, drainer_idle_exit_seconds=30) as (plugin, _plex, pairs):
        for scene_id in pairs:
            start = time.perf_counter()
            run = plugin.hook(scene_id)
            hooks.append((time.perf_counter() - start) * 1000)
            assert run.returncode == 0, run.stdout + run.stderr
    p50_floor, p50_hook = statistics.median(floor), statistics.median(hooks)
    for label, p50, values in (
        ("floor  python -c 'import sqlite3, json'", p50_floor, floor),
        ("hook   Scene.Update.Post (enqueue)     ", p50_hook, hooks),
    ):
        print(f"{label}: p50 {p50:6.1f} ms  p90 {pct(values, 0.9):6.1f} ms")
    print(f"ratio  hook p50 / floor p50: {p50_hook / p50_floor:.2f}  (target <= 3.00)")


if __name__ == "__main__":
    main()
