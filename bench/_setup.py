"""Shared set-up for the benchmarks: fakes on loopback and an installed plugin.

`released=True` installs the plugin as a user gets it (the `make dist` zip, its dependencies
vendored) and runs it with a Python that has no packages at all, so what is measured pays no
editable-install or site-packages cost a user's Python would not pay either.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import venv
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import graphql

from plexsync_actors.drainer.control import launch_drainer
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.testing import fake_plex_wire as wire
from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_plex_library import _folder
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.fake_stash_graphql import StashRoot, load_stash_schema
from plexsync_actors.testing.fake_stash_http import json_reply
from plexsync_actors.testing.harness import ROOT, Plugin, install_plugin, kill_drainer

TOKEN = "bench-token"
Row = tuple[str, str, str]  # figure, measured, target: one line of the `make bench` table


class Figure(NamedTuple):
    """One printed figure: `measured` in the unit the figure names, `target` as printed."""

    figure: str
    measured: float
    target: str


class SetupError(Exception):
    """The bench could not reach the state it measures; the message says where."""


def run_script(main: Callable[[], object]) -> None:
    """A bench script run on its own: its figures, or one line saying where the set-up failed
    (exit status 1)."""
    try:
        main()
    except SetupError as exc:
        print(f"SET-UP FAILED: {exc}", file=sys.stderr)
        sys.exit(1)


def timed_run(command: list[str], stdin: bytes, env: dict[str, str], cwd: Path) -> float:
    """Wall milliseconds of one child process, start to exit (a blocking wait); a failed run
    stops the bench with what it said."""
    start = time.perf_counter()
    done = subprocess.run(command, input=stdin, capture_output=True, env=env, cwd=cwd)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"run failed: {done.stdout!r} {done.stderr[-500:]!r}")
    return elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def bare_python(home: Path) -> str:
    """A virtual environment with nothing installed, not even pip."""
    venv.create(home, with_pip=False, system_site_packages=False)
    return str(home / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))


_built: dict[str, Path] = {}


def released_plugin(plugins_root: Path) -> Path:
    """The release zip of this checkout (built once per bench process, as `make dist` builds it,
    wheels cached under dist/.wheels) unpacked into `plugins_root/PlexSync`."""
    if "zip" not in _built:
        out = Path(tempfile.mkdtemp(prefix="plexsync-bench-dist-"))
        build = [sys.executable, str(ROOT / "release" / "build_dist.py"), "--out", str(out)]
        subprocess.run(build, check=True, stdout=subprocess.DEVNULL)
        _built["zip"] = out / "PlexSync.zip"
    target = plugins_root / "PlexSync"
    with zipfile.ZipFile(_built["zip"]) as archive:
        archive.extractall(target)
    return target


@contextlib.contextmanager
def bench_world(
    scenes: int, *, released: bool = False, **settings: object
) -> Iterator[tuple[Plugin, FakePlex, dict[int, int]]]:
    with bench_world_with_stash(scenes, released=released, **settings) as (plugin, plex, _, pairs):
        yield plugin, plex, pairs


@contextlib.contextmanager
def bench_world_with_stash(
    scenes: int, *, released: bool = False, **settings: object
) -> Iterator[tuple[Plugin, FakePlex, FakeStash, dict[int, int]]]:
    """`scenes` scenes in Stash, each with its movie in Plex (`pairs`: scene id -> rating key),
    all in one folder, Plex's plain fake, the environment as it is (`drain_world` builds it)."""
    with drain_world(
        scenes, path=lambda n: f"/media/s{n}.mp4", plex=FakePlex(token=TOKEN), released=released,
        pyc=False, **settings,
    ) as world:  # fmt: skip
        yield world.plugin, world.plex, world.stash, world.pairs


# -- a drainer started by the bench itself, and what /proc says about it ------------------------


class QuickStash(FakeStash):
    """FakeStash that validates each distinct query text once, then only runs it.

    Validating a `findScene` against Stash's schema costs the fake ~5 ms, more than the drainer's
    own work for a job, and the bench process shares the machine with the drainer it measures.
    Answers are unchanged: a query is cached only after it passed in full, and an answer with
    errors is redone in full (so `invalid_queries` still records it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._checked: dict[str, graphql.DocumentNode] = {}

    def _graphql(self, body: bytes) -> Any:
        try:
            payload = json.loads(body)
            query, variables = payload["query"], payload.get("variables") or {}
            document = self._checked.get(query)
        except (ValueError, KeyError, TypeError, AttributeError):
            return super()._graphql(body)
        if document is None:
            reply = super()._graphql(body)
            if reply.status == 200:
                self._checked[query] = graphql.parse(query)
            return reply
        result = graphql.execute_sync(
            load_stash_schema(self.schema_dir),
            document,
            root_value=StashRoot(self),
            variable_values=variables,
            operation_name=payload.get("operationName"),
        )
        if result.errors:
            return super()._graphql(body)
        return json_reply(200, dict(result.formatted))


class IndexedPlex(FakePlex):
    """FakePlex whose `file=` listing only looks at the items in the wanted file's folder.

    The fake's listing scans every item of the section: ~4 ms of the bench's CPU per job at
    2,000 movies, ~0.2 s at 100,000, on the two cores the measured drainer runs on (PMS answers
    from its database). The answer is still the fake's own, same route and same folder filter,
    over the items a folder index picks out first (in the fake's order)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._by_folder: dict[str, dict[int, None]] = {}

    def add_movie(self, section_id: int, files: list[str] | str, **kwargs: Any) -> int:
        rating_key = super().add_movie(section_id, files, **kwargs)
        with self.lock:
            for path in self._items[rating_key].files:
                self._by_folder.setdefault(_folder(path), {})[rating_key] = None
        return rating_key

    def _respond(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Any:
        wanted = wire.first(wire.parse_query(query), "file")
        if method != "GET" or wanted is None or not _LISTING.fullmatch(path):
            return super()._respond(method, path, query, headers, body)
        everything = self._items  # the caller (`serve`) holds the lock
        keys = self._by_folder.get(_folder(urllib.parse.unquote(wanted)), {})
        self._items = {key: everything[key] for key in keys}
        try:
            return super()._respond(method, path, query, headers, body)
        finally:
            self._items = everything


_LISTING = re.compile(r"/library/sections/\d+/all/?")


@dataclasses.dataclass
class World:
    """Fakes on loopback, scene/movie pairs and the installed plugin, as `drain_world` builds."""

    plugin: Plugin
    plex: FakePlex
    stash: FakeStash
    pairs: dict[int, int]  # Stash scene id -> Plex ratingKey
    data_dir: Path  # the default data dir, where hooks queue


def folder_per_movie(n: int) -> str:
    return f"/media/m{n}/m{n}.mp4"


def one_folder(n: int) -> str:
    return f"/media/all/s{n}.mp4"


@contextlib.contextmanager
def drain_world(
    scenes: int,
    *,
    path: Callable[[int], str] = folder_per_movie,
    plex: FakePlex | None = None,
    released: bool = False,
    pyc: bool = True,
    **settings: object,
) -> Iterator[World]:
    """Like `bench_world`, with the files laid out by `path`, a FakePlex of the caller's (an
    `IndexedPlex` by default) and a `QuickStash`: fakes that take as little as they can of the
    machine the measured drainer runs on. With `pyc` (the default) the plugin's processes may
    cache bytecode, as a user's do, even where the bench's environment sets
    PYTHONDONTWRITEBYTECODE (then every start compiles the plugin again: ~1 s here)."""
    with tempfile.TemporaryDirectory(prefix="plexsync-bench-") as tmp:
        root = Path(tmp)
        stash_dir = root / "stash"
        stash_dir.mkdir()
        data_dir = stash_dir / "plugin_data" / "PlexSync"
        plex = plex or IndexedPlex(token=TOKEN)
        section = plex.add_section("Movies", ["/media"])
        with FakePlexServer(plex) as server:
            stash = QuickStash(
                plugin_settings={"plex_url": server.url, "plex_token": TOKEN, **settings},
                stash_dir=str(stash_dir),
            )
            with stash:
                pairs = {}
                for n in range(1, scenes + 1):
                    sid = stash.add_scene(title=f"Scene {n}", files=(path(n),), tags=("a", "b"))
                    pairs[sid] = plex.add_movie(section, path(n), title=f"s{n}")
                if released:
                    plugin_dir = released_plugin(root / "plugins")
                    python = bare_python(root / "python")
                else:
                    plugin_dir, python = install_plugin(root / "plugins"), sys.executable
                plugin = Plugin(plugin_dir, stash.server_connection(), root, python=python)
                if pyc:
                    plugin.env.pop("PYTHONDONTWRITEBYTECODE", None)
                try:
                    yield World(plugin, plex, stash, pairs, data_dir)
                finally:
                    kill_drainer(data_dir)


def queue_scenes(data_dir: Path, scene_ids: Iterable[int], *, now: float) -> float:
    """Queue each scene as a hook does (one `JobQueue.enqueue` transaction each); seconds taken."""
    start = time.perf_counter()
    with JobQueue(data_dir) as queue:
        for scene_id in scene_ids:
            queue.enqueue(scene_id, reason="Scene.Update.Post", now=now)
    return time.perf_counter() - start


def start_drainer(plugin: Plugin, data_dir: Path) -> subprocess.Popen[bytes]:
    """A background drainer started exactly as `drainer.control.spawn_drainer` starts one (same
    launcher, with the plugin's Python, folder and environment), but as our child, so we know
    its pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return launch_drainer(
        plugin.command[0], str(plugin.dir), plugin.env, plugin.server_connection, data_dir
    )


HAVE_PROC = Path("/proc/self/stat").exists()
NO_PROC = "n/a: needs Linux /proc"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (/proc/<pid>/stat utime + stime); None where there
    is no /proc or the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw.rsplit(b")", 1)[1].split()  # the command name may hold spaces and ')'
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float | None:
    """Resident set size (VmRSS of /proc/<pid>/status) in MB; None without /proc."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
