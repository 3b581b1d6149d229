"""A SceneSyncer on a FakePlex behind MockTransport, with a stand-in Stash (tests/sync).

Each test module wraps `open_rig` in its own `rig` fixture: a `tests/sync/conftest.py` would
shadow `tests/conftest.py`, which the e2e tests import by the name `conftest`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.secret import Secret
from plexsync_actors.settings import PathMapping, Settings
from plexsync_actors.stash.models import Image, Scene
from plexsync_actors.sync.syncer import SceneSyncer
from plexsync_actors.testing.fake_plex import FakeItem, FakePlex
from plexsync_actors.testing.fake_plex_library import TagMode

TOKEN = "tok-syncer-1"
FILM = "/stash/media/movies/a/film.mp4"  # /media/movies/a/film.mp4 in Plex
PLEX_FILM = "/media/movies/a/film.mp4"
SHOT = "http://stash:9999/scene/1/screenshot?t=1"
IMAGE_1, IMAGE_2 = b"\xff\xd8\xff\xe0image-1", b"\xff\xd8\xff\xe0image-2"  # JPEG starts


class StubStash:
    """Stands in for StashClient: scenes and screenshots by URL, and the URLs fetched."""

    def __init__(self) -> None:
        self.scenes: dict[int, Scene] = {}
        self.screenshots: dict[str, bytes] = {}
        self.fetched: list[str] = []

    async def find_scene(self, scene_id: int) -> Scene | None:
        return self.scenes.get(scene_id)

    async def fetch_screenshot(self, url: str) -> Image | None:
        self.fetched.append(url)
        data = self.screenshots.get(url)
        if data is None:
            return None
        kind = "image/svg+xml" if data.startswith(b"<svg") else "image/jpeg"
        return Image(data=data, content_type=kind)


def a_scene(**kw: Any) -> Scene:
    fields: dict[str, Any] = {
        "id": 1,
        "title": "Stash Title",
        "details": "Details",
        "date": "2024-05-01",
        "studio": "Studio A",
        "performers": ("Ann", "Bob"),
        "tags": ("t1", "t2"),
        "files": (FILM,),
    }
    fields.update(kw)
    return Scene(**fields)


@attrs.define
class Rig:
    plex: FakePlex
    stash: StubStash
    queue: JobQueue
    client: PlexClient
    section: int
    settings: Settings
    put_faults: list[str] = attrs.Factory(list)  # "503": refused; "timeout": applied, answer lost

    def handle(self, request: httpx.Request) -> httpx.Response:
        fault = self.put_faults.pop(0) if request.method == "PUT" and self.put_faults else None
        if fault == "503":
            return httpx.Response(503)
        response = self.plex.handle(request)
        if fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        return response

    def movie(self, files: list[str] | str = PLEX_FILM, **kw: Any) -> FakeItem:
        return self.plex.item(self.plex.add_movie(kw.pop("section", self.section), files, **kw))

    async def sync(self, scene: Scene | int, **overrides: Any) -> str:
        if isinstance(scene, Scene):
            self.stash.scenes[scene.id] = scene
        syncer = SceneSyncer(
            settings=attrs.evolve(self.settings, **overrides),
            plex=self.client,
            stash=self.stash,
            queue=self.queue,
            wall_now=lambda: 1_700_000_000.0,
        )
        result = await syncer.sync(scene.id if isinstance(scene, Scene) else scene)
        return result.detail

    def syncer(self, **overrides: Any) -> SceneSyncer:
        """A syncer kept across syncs, as the drainer keeps its own (its matcher caches the
        library list)."""
        return SceneSyncer(
            settings=attrs.evolve(self.settings, **overrides),
            plex=self.client,
            stash=self.stash,
            queue=self.queue,
            wall_now=lambda: 1_700_000_000.0,
        )

    def requests_since(self, start: int) -> list[str]:
        """Every request the fake Plex got after the first `start`, as "METHOD path"."""
        return [f"{r.method} {r.path}" for r in self.plex.requests[start:]]


@asynccontextmanager
async def open_rig(tmp_path: Path, tag_mode: TagMode) -> AsyncIterator[Rig]:
    plex = FakePlex(token=TOKEN, tag_mode=tag_mode)
    section = plex.add_section("Movies", ["/media/movies"])
    settings = Settings(
        plex_url="http://plex:32400",
        plex_token=Secret(TOKEN),
        data_dir=tmp_path,
        path_map=(PathMapping(stash_prefix="/stash/media", plex_prefix="/media"),),
    )
    with JobQueue(tmp_path) as queue:
        holder: list[Rig] = []
        transport = httpx.MockTransport(lambda request: holder[0].handle(request))
        async with httpx.AsyncClient(transport=transport) as http:
            client = PlexClient(
                http, base_url=settings.plex_url, token=settings.plex_token,
                client_id="test-client", connect_timeout=1.0, read_timeout=1.0,
            )  # fmt: skip
            holder.append(Rig(plex, StubStash(), queue, client, section, settings))
            yield holder[0]
