"""What a save costs Stash: the hook's wall time beside the floor `python -c "import sqlite3,
json"`, interleaved run by run so both see the same machine, with and without `.pyc` caching.

The plugin is the release zip run by a Python with no packages (bench/_setup.py), as a user runs
it. "No .pyc" sets PYTHONDONTWRITEBYTECODE for the floor and the hook alike, in a plugin folder
that starts with no `__pycache__`. Then 500 hooks one after another, as Stash runs a bulk edit,
with the drainer running beside them. Child processes are timed with a blocking wait.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import Row, bench_world, median, pct, timed_run

RUNS = 40
BULK = 500
SCENES = 50


def main() -> list[Row]:
    rows: list[Row] = []
    with bench_world(SCENES, released=True, drainer_idle_exit_seconds=60) as (plugin, _p, pairs):
        ids = list(pairs)
        python = plugin.command[0]
        floor_cmd = [python, "-c", "import sqlite3, json"]
        cached_env = {k: v for k, v in plugin.env.items() if k != "PYTHONDONTWRITEBYTECODE"}

        def hook_input(n: int) -> bytes:
            context = {"id": ids[n % len(ids)], "type": "Scene.Update.Post", "input": None}
            return plugin.input_for({"hookContext": context})

        for label, target, extra in (
            ("no .pyc (PYTHONDONTWRITEBYTECODE)", 1.8, {"PYTHONDONTWRITEBYTECODE": "1"}),
            (".pyc cached", 1.5, {}),
        ):
            env = {**cached_env, **extra}
            timed_run(plugin.command, hook_input(0), env, plugin.cwd)  # the drainer starts here
            floor, hooks = [], []
            for n in range(RUNS):
                floor.append(timed_run(floor_cmd, b"", env, plugin.cwd))
                hooks.append(timed_run(plugin.command, hook_input(n), env, plugin.cwd))
            ratio = median(hooks) / median(floor)
            print(
                f"{label:34}: hook p50 {median(hooks):6.1f} ms, floor p50 {median(floor):6.1f}"
                f" ms, ratio {ratio:.2f} (target <= {target})"
            )
            rows.append((f"hook p50 / floor, {label}", f"{ratio:.2f}x", f"<= {target}x"))
        # A tag rename's hook (one fan-out row), interleaved with a save's: the same fast path.
        rename = {"id": 1, "type": "Tag.Update.Post", "input": {"id": "1", "name": "Renamed"}}
        rename["inputFields"] = ["id", "name"]
        rename_input = plugin.input_for({"hookContext": rename})
        saves, renames = [], []
        for n in range(RUNS):
            saves.append(timed_run(plugin.command, hook_input(n), cached_env, plugin.cwd))
            renames.append(timed_run(plugin.command, rename_input, cached_env, plugin.cwd))
        ratio = median(renames) / median(saves)
        print(f"tag rename hook p50 {median(renames):.1f} ms / save hook p50: {ratio:.2f}")
        rows.append(("tag rename hook p50 / save hook p50, .pyc cached", f"{ratio:.2f}x", "~1x"))
        env, bulk = cached_env, []
        start = time.perf_counter()
        for n in range(BULK):
            bulk.append(timed_run(plugin.command, hook_input(n), env, plugin.cwd))
        total = time.perf_counter() - start
        print(
            f"{BULK} hooks one after another: {total:.1f} s, p50 {median(bulk):.1f} ms, "
            f"p99 {pct(bulk, 0.99):.1f} ms"
        )
        rows.append(
            (
                f"{BULK} hooks in a row (a bulk edit), p50 / p99",
                f"{median(bulk):.0f} / {pct(bulk, 0.99):.0f} ms",
                "—",
            )
        )
    return rows


if __name__ == "__main__":
    main()
