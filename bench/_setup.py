"""Shared set-up for the benchmarks: fakes on loopback and an installed plugin."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, install_plugin, kill_drainer

TOKEN = "bench-token"


@contextlib.contextmanager
def bench_world(
    scenes: int, **settings: object
) -> Iterator[tuple[Plugin, FakePlex, dict[int, int]]]:
    with bench_world_with_stash(scenes, **settings) as (plugin, plex, _stash, pairs):
        yield plugin, plex, pairs


@contextlib.contextmanager
def bench_world_with_stash(
    scenes: int, **settings: object
) -> Iterator[tuple[Plugin, FakePlex, FakeStash, dict[int, int]]]:
    """`scenes` scenes in Stash, each with its movie in Plex (`pairs`: scene id -> rating key)."""
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
                plugin = Plugin(install_plugin(root / "plugins"), stash.server_connection(), root)
                try:
                    yield plugin, plex, stash, pairs
                finally:
                    kill_drainer(stash_dir / "plugin_data" / "PlexSync")
