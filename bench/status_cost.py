"""The `queue_status` task, whole process, beside the floor `python -c "import sqlite3, json"`,
interleaved run by run (the release zip, a Python with no packages; see bench/_setup.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import Row, bench_world, median, timed_run

RUNS = 20
TARGET = 4.0


def main() -> list[Row]:
    with bench_world(5, released=True, drainer_idle_exit_seconds=30) as (plugin, _plex, pairs):
        plugin.hook(next(iter(pairs)))  # a queue to report on, and cached .pyc files
        floor_cmd = [plugin.command[0], "-c", "import sqlite3, json"]
        stdin = plugin.input_for({"mode": "queue_status", "quiet": "true"})
        floor, status = [], []
        for _ in range(RUNS):
            floor.append(timed_run(floor_cmd, b"", plugin.env, plugin.cwd))
            status.append(timed_run(plugin.command, stdin, plugin.env, plugin.cwd))
    ratio = median(status) / median(floor)
    print(
        f"queue_status p50 {median(status):.1f} ms, floor p50 {median(floor):.1f} ms, "
        f"ratio {ratio:.2f} (target <= {TARGET})"
    )
    return [("queue_status task, whole process / floor", f"{ratio:.1f}x", f"<= {TARGET:.0f}x")]


if __name__ == "__main__":
    main()
