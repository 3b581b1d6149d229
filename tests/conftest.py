"""Fixtures for end-to-end tests: loopback fake Plex and fake Stash, and an installed plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_plex_library import TagMode
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, install_plugin, kill_drainer

PLEX_TOKEN = "tok-SECRET-4f9a2c"


@pytest.fixture
def plex_tag_mode() -> TagMode:
    """Whether the fake Plex replaces or appends indexed tags (parametrize to change it)."""
    return "replace"


@pytest.fixture
def stash_schema() -> str:
    """The Stash release the fake Stash plays, or "head" (parametrize to change it)."""
    return "head"


@pytest.fixture
def fake_plex(plex_tag_mode: TagMode) -> Iterator[tuple[FakePlex, FakePlexServer]]:
    plex = FakePlex(token=PLEX_TOKEN, tag_mode=plex_tag_mode)
    server = FakePlexServer(plex)
    server.start()
    try:
        yield plex, server
    finally:
        server.stop()


@pytest.fixture
def stash_dir(tmp_path: Path) -> Path:
    path = tmp_path / "stash-config"
    path.mkdir()
    return path


@pytest.fixture
def fake_stash(
    fake_plex: tuple[FakePlex, FakePlexServer], stash_dir: Path, stash_schema: str
) -> Iterator[FakeStash]:
    _, plex_server = fake_plex
    stash = FakeStash(
        plugin_settings={
            "plex_url": plex_server.url,
            "plex_token": PLEX_TOKEN,
            "path_map": "/stash/media=>/media",
            "drainer_idle_exit_seconds": 1.0,
            "retry_base_seconds": 0.05,
            "retry_cap_seconds": 0.2,
        },
        stash_dir=str(stash_dir),
        require_auth=True,
        api_key="stash-api-key",
        schema=stash_schema,
    )
    stash.start()
    try:
        yield stash
    finally:
        stash.stop()


@pytest.fixture
def data_dir(stash_dir: Path) -> Path:
    return stash_dir / "plugin_data" / "PlexSync"


@pytest.fixture
def plugin(tmp_path: Path, fake_stash: FakeStash, data_dir: Path) -> Iterator[Plugin]:
    plugin_dir = install_plugin(tmp_path / "plugins")
    installed = Plugin(plugin_dir, fake_stash.server_connection(), cwd=tmp_path)
    try:
        yield installed
    finally:
        kill_drainer(data_dir)
