"""Cold import time of the hook and of the drainer, from `python -X importtime`.

The plugin is the release zip run by a Python with no packages (bench/_setup.py), so trio, httpx,
attrs and cattrs come from its `vendor/` folder, as a user's do. ".pyc cached" is the normal
case: one warm-up run first writes the bytecode. "No .pyc" points PYTHONPYCACHEPREFIX at an empty
folder with PYTHONDONTWRITEBYTECODE set, so every module is compiled from source each run.

- The hook: the real hook (stdin JSON as Stash sends it) run with -X importtime, with a
  background drainer running, as a save usually finds one (so the hook starts none).
- The drainer: `import plexsync_actors.drainer.main` alone (what `python -m plexsync_actors
  drainer` runs first, before it takes the lock), and a whole drainer run (started as the plugin
  starts one, one job in the queue): everything it imports, the heavy part lazily after the lock.

For each, the median of RUNS runs (by total): "plugin" sums the top-level cumulative times of
the plugin's own modules (with all they import at module level), "total" every top-level import:
the interpreter's start-up ones and what plugin functions import lazily (the drainer's trio is
imported inside `drainer.main._run`, so it counts in the total, not in "plugin"). The 8 biggest
stdlib and third-party modules are the outermost ones of each import chain (imported by a
plugin module, a plugin function or the start-up), by cumulative time. No target in the issue.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import Row, World, drain_world, load_average, queue_scenes, start_drainer

from plexsync_actors.drainer.control import drainer_env, drainer_running

RUNS = 5
PLUGIN = "plexsync_actors"
BIGGEST = 8


@dataclasses.dataclass(frozen=True)
class Imported:
    name: str
    cumulative_us: int
    depth: int
    outermost: bool  # not the plugin's, and imported by the plugin or at top level


@dataclasses.dataclass(frozen=True)
class Profile:
    imports: list[Imported]

    @property
    def total_ms(self) -> float:
        return sum(i.cumulative_us for i in self.imports if i.depth == 0) / 1000

    @property
    def plugin_ms(self) -> float:
        top = [i for i in self.imports if i.depth == 0 and _is_plugin(i.name)]
        return sum(i.cumulative_us for i in top) / 1000

    def biggest(self, n: int) -> list[Imported]:
        return sorted((i for i in self.imports if i.outermost), key=lambda i: -i.cumulative_us)[:n]


def _is_plugin(name: str) -> bool:
    return name == PLUGIN or name.startswith(PLUGIN + ".")


def parse(stderr: str) -> Profile:
    """`-X importtime` lines: `import time: self | cumulative | <2 spaces a level>name`, each
    printed after the imports it made (so a line's parent is the next line one level up)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        stripped = name[1:].lstrip(" ")
        rows.append((stripped, int(cumulative), (len(name) - 1 - len(stripped)) // 2))
    imports: list[Imported] = []
    parents: list[str] = []  # the open chain, outermost first, read from the end
    for name, cumulative, depth in reversed(rows):
        del parents[depth:]
        outermost = not _is_plugin(name) and all(_is_plugin(p) for p in parents)
        imports.append(Imported(name, cumulative, depth, outermost))
        parents.append(name)
    return Profile(imports[::-1])


def kind(name: str) -> str:
    return "stdlib" if name.split(".")[0] in sys.stdlib_module_names else "third-party"


def hook_run(world: World, env: dict[str, str]) -> Profile:
    context = {"id": next(iter(world.pairs)), "type": "Scene.Update.Post", "input": None}
    done = subprocess.run(
        [world.plugin.command[0], "-X", "importtime", *world.plugin.command[1:]],
        input=world.plugin.input_for({"hookContext": context}),
        capture_output=True,
        cwd=world.plugin.cwd,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"the hook failed: {done.stdout!r} {done.stderr[-500:]!r}")
    return parse(done.stderr.decode("utf-8", "replace"))


def drainer_main_run(world: World, env: dict[str, str]) -> Profile:
    done = subprocess.run(
        [world.plugin.command[0], "-X", "importtime", "-c", f"import {PLUGIN}.drainer.main"],
        capture_output=True,
        cwd=world.data_dir,
        env=drainer_env(str(world.plugin.dir), env),
    )
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-500:]!r}")
    return parse(done.stderr.decode("utf-8", "replace"))


def drainer_run(world: World, env: dict[str, str]) -> Profile:
    """A whole drainer run: one job queued, then it drains, idles and exits (blocking wait)."""
    queue_scenes(world.data_dir, list(world.pairs)[:1], now=time.time())
    proc = subprocess.Popen(
        [world.plugin.command[0], "-X", "importtime", "-m", PLUGIN, "drainer"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=world.data_dir,
        env=drainer_env(str(world.plugin.dir), env),
        start_new_session=True,
    )
    payload = {"server_connection": world.plugin.server_connection, "data_dir": str(world.data_dir)}
    _, stderr = proc.communicate(json.dumps(payload).encode("utf-8"))
    profile = parse(stderr.decode("utf-8", "replace"))
    if proc.returncode != 0 or not any(i.name == "trio" for i in profile.imports):
        raise SystemExit(f"the drainer exited {proc.returncode} before draining: {world.data_dir}")
    return profile


def median_run(runs: list[Profile]) -> Profile:
    return sorted(runs, key=lambda p: p.total_ms)[len(runs) // 2]


def report(label: str, runs: list[Profile], show_biggest: bool) -> Profile:
    chosen = median_run(runs)
    totals = [p.total_ms for p in runs]
    print(
        f"  {label}: plugin {chosen.plugin_ms:6.1f} ms, total {chosen.total_ms:6.1f} ms "
        f"(the median run by total; totals {min(totals):.1f} .. {max(totals):.1f}; "
        f"{len(chosen.imports)} modules)"
    )
    if show_biggest:
        for i in chosen.biggest(BIGGEST):
            print(f"      {i.cumulative_us / 1000:6.1f} ms  {i.name} ({kind(i.name)})")
    return chosen


def warm_drainer(world: World) -> subprocess.Popen[bytes]:
    """A background drainer that stays (as hooks usually find one), once its heartbeat is on."""
    world.stash.plugin_settings["drainer_idle_exit_seconds"] = 600
    proc = start_drainer(world.plugin, world.data_dir)
    deadline = time.monotonic() + 60
    while not drainer_running(world.data_dir, now=time.time()).running:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"the background drainer did not start: see {world.data_dir}")
        time.sleep(0.05)
    return proc


def main() -> list[Row]:
    print(f"load average at start: {load_average()}")
    rows: list[Row] = []
    with (
        drain_world(3, released=True, drainer_idle_exit_seconds=0.5) as world,
        tempfile.TemporaryDirectory(prefix="plexsync-bench-nopyc-") as empty,
    ):
        cached = dict(world.plugin.env)
        nopyc = {**cached, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": empty}
        envs = ((".pyc cached", cached), ("no .pyc", nopyc))
        drainer_run(world, cached)  # writes the bytecode of what the drainer imports
        background = warm_drainer(world)
        try:
            hook_run(world, cached)  # writes the hook's bytecode
            hooks = {label: [hook_run(world, env) for _ in range(RUNS)] for label, env in envs}
        finally:
            background.kill()
            background.wait()
        world.stash.plugin_settings["drainer_idle_exit_seconds"] = 0.5
        for label, env in envs:
            biggest = env is cached
            print(f"\n== {label} ==")
            hook = report("hook (a drainer running)", hooks[label], biggest)
            first = [drainer_main_run(world, env) for _ in range(RUNS)]
            report(f"drainer, `import {PLUGIN}.drainer.main`", first, biggest)
            drainer = report(
                "drainer, whole run", [drainer_run(world, env) for _ in range(RUNS)], biggest
            )
            rows += [
                (f"hook imports, plugin / total ({label})", _pair(hook), "—"),
                (f"drainer imports, plugin / total ({label})", _pair(drainer), "—"),
            ]
    print(f"\nload average at the end: {load_average()}")
    return rows


def _pair(profile: Profile) -> str:
    return f"{profile.plugin_ms:.0f} / {profile.total_ms:.0f} ms"


if __name__ == "__main__":
    main()
