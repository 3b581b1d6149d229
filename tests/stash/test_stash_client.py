"""StashClient and the stdlib settings reader, against the real-schema FakeStash over loopback."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import attrs
import graphql
import httpx
import pytest

from plexsync_actors.errors import StashSceneError, StashTooOld, StashUnavailable
from plexsync_actors.stash.answers import require_supported_stash
from plexsync_actors.stash.client import ID_PAGE_SIZE, StashClient, stash_local_time
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.stash.models import Image, Scene
from plexsync_actors.stash.queries import ALL_QUERIES, SCENE_IDS_QUERY
from plexsync_actors.stash.settings_fetch import fetch_plugin_settings_sync
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.fake_stash_graphql import (
    RELEASES,
    SCHEMA_DIR,
    load_stash_schema,
    query_errors,
    schema_folder,
)

SHARED_SCHEMA_DIR = Path(__file__).resolve().parents[3] / "shared" / "stash-graphql"
UTC = datetime.timezone.utc
API_KEY = "the-api-key"
COOKIE = ("session", "the-session-cookie")
T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class SteppingClock:
    """A wall clock the test moves by hand, so `updated_at` values are exact."""

    def __init__(self, start: datetime.datetime) -> None:
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(T0)


@pytest.fixture
def fake(clock: SteppingClock) -> Iterator[FakeStash]:
    with FakeStash(
        plugin_settings={"plex_url": "http://plex:32400", "max_tags": 50},
        api_key=API_KEY,
        require_auth=True,
        cookie=COOKIE,
        clock=clock,
    ) as server:
        yield server
        assert server.invalid_queries == []


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def connection(fake: FakeStash, *, api_key: str | None = None) -> StashConnection:
    name, value = COOKIE
    return StashConnection(base_url=fake.url, cookie_name=name, cookie_value=value, api_key=api_key)


def scene_ids_requests(fake: FakeStash) -> list[dict[str, Any]]:
    bodies = [json.loads(r.body) for r in fake.requests if r.path == "/graphql"]
    return [b["variables"] for b in bodies if b["query"] == SCENE_IDS_QUERY]


async def walk(client: StashClient, **kwargs: Any) -> list[int]:
    """Every id `scene_id_pages` yields, in order."""
    async with aclosing(client.scene_id_pages(**kwargs)) as pages:
        return [scene_id async for page in pages for scene_id in page.ids]


# -- queries against the real schema ----------------------------------------------------------


@pytest.mark.parametrize("query", ALL_QUERIES, ids=lambda q: q.split("(")[0].split()[1])
def test_query_validates_against_vendored_stash_schema(query: str) -> None:
    assert query_errors(load_stash_schema(SCHEMA_DIR), query) == []


@pytest.mark.parametrize("release", [*RELEASES, "head"])
@pytest.mark.parametrize("query", ALL_QUERIES, ids=lambda q: q.split("(")[0].split()[1])
def test_query_validates_against_every_vendored_stash_release(query: str, release: str) -> None:
    """v0.24.3 to v0.30.1 and the head (v0.24 types `plugins(include:)` as [String!])."""
    assert query_errors(load_stash_schema(schema_folder(release)), query) == []


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("v0.25.1", False),
        ("v0.24.3", False),
        ("v0.26.0", True),
        ("v0.26.2-12-gabc1234", True),
        ("0.30.1", True),
        (None, True),  # a build that names no version gets the benefit of the doubt
        ("", True),
    ],
)
def test_stash_older_than_v0_26_0_is_one_sentence_naming_both_versions(
    version: str | None, supported: bool
) -> None:
    if supported:
        require_supported_stash(version)
        return
    with pytest.raises(StashTooOld) as info:
        require_supported_stash(version)
    assert f"this Stash is {version}" in str(info.value) and "v0.26.0 or newer" in str(info.value)


@pytest.mark.skipif(not SHARED_SCHEMA_DIR.is_dir(), reason="../shared/stash-graphql is absent")
@pytest.mark.parametrize("query", ALL_QUERIES, ids=lambda q: q.split("(")[0].split()[1])
def test_query_validates_against_shared_stash_schema(query: str) -> None:
    assert query_errors(load_stash_schema(SHARED_SCHEMA_DIR), query) == []


@pytest.mark.skipif(not SHARED_SCHEMA_DIR.is_dir(), reason="../shared/stash-graphql is absent")
def test_vendored_schemas_are_byte_identical_to_the_shared_copies() -> None:
    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.graphql"))
        }

    pairs = [(SHARED_SCHEMA_DIR, SCHEMA_DIR)] + [
        (SHARED_SCHEMA_DIR.parent / "stash-graphql-versions" / tag, schema_folder(tag))
        for tag in RELEASES
    ]
    for source, copy in pairs:
        shared, vendored = files(source), files(copy)
        assert sorted(vendored) == sorted(shared), copy
        assert [name for name in shared if shared[name] != vendored[name]] == [], copy
    found = sorted(p.name for p in (SHARED_SCHEMA_DIR.parent / "stash-graphql-versions").glob("v*"))
    assert found == list(RELEASES)  # every release in ../shared is vendored


def test_queries_are_rejected_when_they_break_the_schema() -> None:
    # Guards the guard: the validation above really can fail.
    schema = load_stash_schema(SCHEMA_DIR)
    assert query_errors(schema, "query { findScene(id: 1) { no_such_field } }") != []
    assert isinstance(schema.query_type, graphql.GraphQLObjectType)


# -- reading scenes ---------------------------------------------------------------------------


async def test_find_scene_maps_every_synced_field(fake: FakeStash, http: httpx.AsyncClient) -> None:
    scene_id = fake.add_scene(
        title="A Title",
        details="Some details",
        date="2024-05",
        studio="Studio One",
        performers=["Ann", "Bo"],
        tags=["tag1", "tag2"],
        files=["/media/a.mp4", "/media/b.mkv"],
    )

    scene = await StashClient(http, connection(fake)).find_scene(scene_id)

    assert scene is not None and scene.updated_at is not None
    assert attrs.evolve(scene, updated_at=None) == Scene(
        id=scene_id,
        title="A Title",
        details="Some details",
        date="2024-05",
        studio="Studio One",
        performers=("Ann", "Bo"),
        tags=("tag1", "tag2"),
        files=("/media/a.mp4", "/media/b.mkv"),
        screenshot_url=fake.screenshot_url(scene_id),
        entities=(
            ("tag", fake.entity_id("tag", "tag1"), "tag1"),
            ("tag", fake.entity_id("tag", "tag2"), "tag2"),
            ("performer", fake.entity_id("performer", "Ann"), "Ann"),
            ("performer", fake.entity_id("performer", "Bo"), "Bo"),
            ("studio", fake.entity_id("studio", "Studio One"), "Studio One"),
        ),
    )
    assert datetime.datetime.fromisoformat(scene.updated_at.replace("Z", "+00:00")) == T0


async def test_find_scene_returns_none_for_an_unknown_id(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    assert await StashClient(http, connection(fake)).find_scene(404) is None


async def test_scene_id_pages_walk_three_pages_by_id_with_the_count_on_each(
    fake: FakeStash, http: httpx.AsyncClient, clock: SteppingClock
) -> None:
    ids = []
    for n in range(7):
        ids.append(fake.add_scene(title=f"scene {n}"))
        clock.advance(seconds=1)
    fake.update_scene(ids[0], title="touched last")  # a save moves no scene in an id walk

    client = StashClient(http, connection(fake))
    async with aclosing(client.scene_id_pages(page_size=3)) as walked:
        pages = [page async for page in walked]

    assert [page.ids for page in pages] == [tuple(ids[0:3]), tuple(ids[3:6]), (ids[6],)]
    assert [page.count for page in pages] == [7, 7, 7]
    sent = [v["filter"] for v in scene_ids_requests(fake)]
    assert sent == [{"page": n, "per_page": 3, "sort": "id", "direction": "ASC"} for n in (1, 2, 3)]


async def test_scene_id_pages_take_thousands_of_ids_a_page(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    for _ in range(ID_PAGE_SIZE + 1):
        fake.add_scene()

    seen = await walk(StashClient(http, connection(fake)))

    assert seen == list(range(1, ID_PAGE_SIZE + 2))
    assert [v["filter"]["per_page"] for v in scene_ids_requests(fake)] == [ID_PAGE_SIZE] * 2
    assert ID_PAGE_SIZE >= 1000  # Stash answers a page of ids cheaply: few round trips


async def test_scene_id_pages_with_updated_since_yield_only_later_updates(
    fake: FakeStash, http: httpx.AsyncClient, clock: SteppingClock
) -> None:
    old = fake.add_scene(title="old")
    clock.advance(hours=2)
    new = fake.add_scene(title="new")
    clock.advance(hours=2)
    fake.update_scene(old, title="old, edited")
    client = StashClient(http, connection(fake))
    since = T0 + datetime.timedelta(hours=1)

    async with aclosing(client.scene_id_pages(updated_since=since)) as pages:
        found = [page async for page in pages]

    assert [page.ids for page in found] == [(old, new)]
    assert found[0].count == 2
    assert await walk(client) == [old, new]
    sent = scene_ids_requests(fake)[0]["scene_filter"]
    assert sent == {"updated_at": {"value": stash_local_time(since), "modifier": "GREATER_THAN"}}


async def test_updated_since_includes_updates_within_the_same_second(
    fake: FakeStash, http: httpx.AsyncClient, clock: SteppingClock
) -> None:
    # Stash compares "YYYY-MM-DD HH:MM:SS.fff+zz:zz" text with our whole-second bound.
    clock.advance(seconds=10, microseconds=200_000)
    scene_id = fake.add_scene(title="same second")
    since = T0 + datetime.timedelta(seconds=10, microseconds=900_000)
    client = StashClient(http, connection(fake))

    assert await walk(client, updated_since=since) == [scene_id]


def test_updated_since_is_formatted_as_local_wall_time() -> None:
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    expected = moment.astimezone().replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    assert stash_local_time(moment) == expected


def test_updated_since_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        stash_local_time(datetime.datetime(2024, 1, 1))  # noqa: DTZ001


@pytest.mark.slow
def test_updated_since_filter_works_when_local_time_is_not_utc() -> None:
    # A child process with a UTC+5:30 local zone (POSIX TZ needs no tz database).
    script = textwrap.dedent(
        """
        import datetime, httpx, trio
        from plexsync_actors.stash.connection import StashConnection
        from plexsync_actors.stash.client import StashClient, stash_local_time
        from plexsync_actors.testing.fake_stash import FakeStash
        UTC = datetime.timezone.utc
        now = [datetime.datetime(2024, 5, 1, 20, 0, tzinfo=UTC)]
        async def main():
            with FakeStash(clock=lambda: now[0]) as fake:
                fake.add_scene(title="before")
                now[0] += datetime.timedelta(hours=1)
                later = fake.add_scene(title="after")
                since = datetime.datetime(2024, 5, 1, 20, 30, tzinfo=UTC)
                async with httpx.AsyncClient() as http:
                    client = StashClient(http, StashConnection(base_url=fake.url))
                    pages = client.scene_id_pages(updated_since=since)
                    seen = [i async for page in pages for i in page.ids]
                assert seen == [later], seen
                assert stash_local_time(since) == "2024-05-02 02:00:00"
                assert fake.invalid_queries == []
        trio.run(main)
        """
    )
    env = {**os.environ, "TZ": "IST-5:30"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


async def test_page_size_must_be_positive(fake: FakeStash, http: httpx.AsyncClient) -> None:
    client = StashClient(http, connection(fake))
    with pytest.raises(ValueError, match="page_size"):
        await walk(client, page_size=0)


# -- settings, API key, screenshots -----------------------------------------------------------


async def test_plugin_settings_returns_what_the_user_saved(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    client = StashClient(http, connection(fake))
    assert await client.plugin_settings() == {"plex_url": "http://plex:32400", "max_tags": 50}
    fake.plugin_settings.clear()
    assert await client.plugin_settings() == {}
    assert await client.plugin_settings("OtherPlugin") == {}


async def test_fetch_api_key_returns_the_key_or_none(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    client = StashClient(http, connection(fake))
    assert await client.fetch_api_key() == API_KEY
    fake.api_key = ""
    assert await client.fetch_api_key() is None


async def test_fetch_screenshot_returns_bytes_or_none_when_missing(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    jpeg = b"\xff\xd8\xff\xe0jpeg-1"
    with_image = fake.add_scene(screenshot=jpeg)
    without = fake.add_scene(screenshot=None)
    client = StashClient(http, connection(fake))

    assert await client.fetch_screenshot(fake.screenshot_url(with_image)) == Image(
        data=jpeg, content_type="image/jpeg"
    )
    placeholder = await client.fetch_screenshot(fake.screenshot_url(without))
    assert placeholder is not None and placeholder.content_type == "image/svg+xml"
    found = await client.fetch_screenshot(f"/scene/{with_image}/screenshot")
    assert found is not None and found.data == jpeg
    assert await client.fetch_screenshot(f"/scene/{with_image + 99}/screenshot") is None


# -- authentication ---------------------------------------------------------------------------


async def test_client_falls_back_to_the_api_key_after_the_cookie_expires(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    scene_id = fake.add_scene(title="x", screenshot=b"img")
    client = StashClient(http, connection(fake, api_key=API_KEY))
    assert await client.find_scene(scene_id) is not None
    assert not client.using_api_key
    assert "cookie" in fake.requests[-1].headers

    fake.expire_cookie()

    assert await client.plugin_settings() != {}
    assert client.using_api_key
    assert fake.requests[-1].headers.get("apikey") == API_KEY
    assert "cookie" not in fake.requests[-1].headers
    shot = await client.fetch_screenshot(fake.screenshot_url(scene_id))
    assert shot is not None and shot.data == b"img"


async def test_screenshot_login_redirect_also_triggers_the_api_key_fallback(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    scene_id = fake.add_scene(screenshot=b"img")
    client = StashClient(http, connection(fake, api_key=API_KEY))
    fake.expire_cookie()

    shot = await client.fetch_screenshot(fake.screenshot_url(scene_id))
    assert shot is not None and shot.data == b"img"
    assert [r.path.split("?")[0] for r in fake.requests] == [f"/scene/{scene_id}/screenshot"] * 2


async def test_expired_cookie_without_api_key_raises_stash_unavailable_without_secrets(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    fake.expire_cookie()
    with pytest.raises(StashUnavailable, match="401") as caught:
        await StashClient(http, connection(fake)).find_scene(1)
    assert COOKIE[1] not in str(caught.value)


async def test_wrong_api_key_raises_stash_unavailable_without_secrets(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    conn = StashConnection(base_url=fake.url, api_key="wrong-key")
    with pytest.raises(StashUnavailable, match="API key") as caught:
        await StashClient(http, conn).plugin_settings()
    assert "wrong-key" not in str(caught.value)


async def test_client_without_cookie_uses_the_api_key_from_the_start(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    client = StashClient(http, StashConnection(base_url=fake.url, api_key=API_KEY))
    assert await client.fetch_api_key() == API_KEY
    assert client.using_api_key
    assert len(fake.requests) == 1


# -- Stash down and protocol failures ---------------------------------------------------------


async def test_stash_down_raises_stash_unavailable_and_recovers(
    fake: FakeStash, http: httpx.AsyncClient
) -> None:
    scene_id = fake.add_scene(title="x")
    client = StashClient(http, connection(fake))
    assert await client.find_scene(scene_id) is not None  # leaves a keep-alive connection

    fake.set_down(True)
    with pytest.raises(StashUnavailable, match="Could not reach Stash") as caught:
        await client.find_scene(scene_id)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)

    fake.set_down(False)
    assert await client.find_scene(scene_id) is not None


def mock_client(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler)


MOCK_CONN = StashConnection(
    base_url="http://stash:9999", cookie_name="session", cookie_value="secret-cookie"
)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b"boom", "HTTP 500"),
        (503, b"", "HTTP 503"),
        (200, b'{"errors": [{"message": "db locked"}], "data": null}', "db locked"),
        (422, b'{"errors": [{"message": "Cannot query field"}]}', "Cannot query field"),
        (200, b"<html>login</html>", "not JSON"),
        (403, b"", "HTTP 403"),
    ],
)
async def test_failed_answers_become_stash_unavailable(
    status: int, body: bytes, message: str
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    async with mock_client(transport) as http:
        with pytest.raises(StashUnavailable, match=message) as caught:
            await StashClient(http, MOCK_CONN).find_scene(1)
    assert "secret-cookie" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, b'{"data": {"findScene": {"id": "x"}}}', "scene x in a shape"),
        (200, b'{"data": {"findScene": {"title": "no id"}}}', "scene (no id)"),
    ],
)
async def test_a_scene_stash_answers_unreadably_fails_that_scene_not_the_drain(
    status: int, body: bytes, message: str
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    async with mock_client(transport) as http:
        with pytest.raises(StashSceneError, match=re.escape(message)):
            await StashClient(http, MOCK_CONN).find_scene(1)


@pytest.mark.parametrize(
    ("status", "headers"), [(500, {}), (503, {}), (302, {"location": "/elsewhere"})]
)
async def test_a_screenshot_stash_fails_to_serve_fails_that_scene_not_the_drain(
    status: int, headers: dict[str, str]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers)

    async with mock_client(httpx.MockTransport(handler)) as http:
        with pytest.raises(StashSceneError, match=f"HTTP {status}"):
            await StashClient(http, MOCK_CONN).fetch_screenshot("/scene/1/screenshot?t=1")


async def test_timeout_becomes_stash_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with mock_client(httpx.MockTransport(handler)) as http:
        with pytest.raises(StashUnavailable, match="did not answer in time"):
            await StashClient(http, MOCK_CONN).plugin_settings()


async def test_screenshot_is_fetched_from_the_connection_with_its_credentials_whatever_origin(
) -> None:
    """With `external_host` set, Stash names an origin the plugin may not reach (or a proxy
    path): the path from `/scene/` and the query go to the connection Stash gave the plugin."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"img", headers={"content-type": "image/jpeg"})

    conn = StashConnection(
        base_url="http://stash:9999", cookie_name="session", cookie_value="c", api_key="k"
    )
    async with mock_client(httpx.MockTransport(handler)) as http:
        client = StashClient(http, conn)
        for url in (
            "https://stash.example.org/scene/1/screenshot?t=17",
            "https://example.org/stash/scene/1/screenshot?t=17",
            "http://stash:9999/scene/1/screenshot?t=17",
        ):
            shot = await client.fetch_screenshot(url)
            assert shot == Image(data=b"img", content_type="image/jpeg")
    assert [str(r.url) for r in seen] == ["http://stash:9999/scene/1/screenshot?t=17"] * 3
    assert all(r.headers["cookie"] == "session=c" for r in seen)


# -- the stdlib reader for hooks --------------------------------------------------------------


def test_sync_reader_returns_saved_settings(fake: FakeStash) -> None:
    name, value = COOKIE
    settings = fetch_plugin_settings_sync(fake.url, {"Cookie": f"{name}={value}"})
    assert settings == {"plex_url": "http://plex:32400", "max_tags": 50}
    assert fetch_plugin_settings_sync(fake.url, {"ApiKey": API_KEY}, "Other") == {}


def test_sync_reader_raises_stash_unavailable_when_refused_or_down(fake: FakeStash) -> None:
    with pytest.raises(StashUnavailable, match="401"):
        fetch_plugin_settings_sync(fake.url, {})
    url = fake.url
    fake.set_down(True)
    with pytest.raises(StashUnavailable, match="Could not reach Stash"):
        fetch_plugin_settings_sync(url, {"ApiKey": API_KEY}, timeout=2.0)
    with pytest.raises(StashUnavailable, match="not an http"):
        fetch_plugin_settings_sync("ftp://stash", {})


def test_sync_reader_imports_neither_httpx_trio_nor_attrs() -> None:
    script = (
        "import sys, plexsync_actors.stash.settings_fetch as s; s.fetch_plugin_settings_sync; "
        "heavy = {'httpx', 'trio', 'attrs', 'cattrs'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("release", [*RELEASES, "head"])
@pytest.mark.parametrize("kind", ["tag", "performer", "studio"])
async def test_scenes_showing_an_entity_walk_by_id_on_every_release(
    release: str, kind: str
) -> None:
    with FakeStash(schema=release) as fake:
        fields = {"tag": "tags", "performer": "performers"}.get(kind)
        for n in range(7):
            shown = "X" if n % 2 == 0 else "Y"
            fake.add_scene(**({fields: [shown]} if fields else {"studio": shown}))
        entity = fake.entity_id(kind, "X")
        async with httpx.AsyncClient(timeout=5.0) as http:
            client = StashClient(http, connection(fake))
            assert await client.entity_name(kind, entity) == "X"
            first = await client.scenes_showing(kind, entity, after_id=0, page_size=3)
            second = await client.scenes_showing(kind, entity, after_id=first.ids[-1], page_size=3)
            fake.delete_entity(kind, "X")
            assert await client.entity_name(kind, entity) is None
        assert fake.invalid_queries == []
    assert (first.ids, first.count) == ((1, 3, 5), 4)
    assert (second.ids, second.count) == ((7,), 1)
