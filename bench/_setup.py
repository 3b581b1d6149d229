"""Shared set-up for the benchmarks: fakes on loopback and an installed plugin.

`released=True` installs the plugin as a user gets it (the `make dist` zip, its dependencies
vendored) and runs it with a Python that has no packages at all, so what is measured pays no
editable-install or site-packages cost a user's Python would not pay either.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import ROOT, Plugin, install_plugin, kill_drainer

TOKEN = "bench-token"
Row = tuple[str, str, str]  # figure, measured, target: one line of the `make bench` table


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
    with tempfile.TemporaryDirectory(prefix="plexsync-bench-") as tmp:
        root = Path(tmp)
        stash_dir = root / "stash"
        stash_dir.mkdir()
        plex = FakePlex(token=TOKEN)
        section = plex.add_section("Movies", ["/media"])
        with FakePlexServer(plex) as server:
            stash = FakeStash(
                plugin_settings={"plex_url": server.url, "plex_token": TOKEN, **settings},
                stash_dir=str(stash_dir),
            )
            with stash:
                pairs = {}
                for n in range(1, scenes + 1):
                    sid = stash.add_scene(
                        title=f"Scene {n}", files=(f"/media/s{n}.mp4",), tags=("a", "b")
                    )
                    pairs[sid] = plex.add_movie(section, f"/media/s{n}.mp4", title=f"s{n}")
                if released:
                    plugin_dir = released_plugin(root / "plugins")
                    python = bare_python(root / "python")
                else:
                    plugin_dir, python = install_plugin(root / "plugins"), sys.executable
                plugin = Plugin(plugin_dir, stash.server_connection(), root, python=python)
                try:
                    yield plugin, plex, pairs
                finally:
                    kill_drainer(stash_dir / "plugin_data" / "PlexSync")
