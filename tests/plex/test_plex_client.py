"""PlexClient at the boundary: what goes on the wire, and how every Plex fault is reported."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from plexsync_actors.errors import (
    PlexError,
    PlexNotFound,
    PlexPermanentError,
    PlexServerDown,
    PlexTemporaryError,
    PlexUnauthorized,
)
from plexsync_actors.plex.client import PlexClient, encode_query
from plexsync_actors.plex.models import PlexItem
from plexsync_actors.secret import Secret
from plexsync_actors.testing.fake_plex import FakePlex

TOKEN = "tok-unit-SECRET-77"
CLIENT_ID = "plexsync-test-client-id"
FILM = "/media/movies/a/film.mp4"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def fake() -> FakePlex:
    plex = FakePlex(token=TOKEN)
    section = plex.add_section("Movies", ["/media/movies"])
    plex.add_movie(
        section,
        FILM,
        title="Film",
        genres=["g1", "g2", "g3", "g4"],
        actors=["a1", "a2", "a3", "a4", "a5"],
        collections=["c1"],
        year=2020,
        originally_available_at="2020-01-02",
    )
    plex.add_movie(section, "/media/movies/a/other.mp4", title="Other")
    return plex


@asynccontextmanager
async def client_for(
    handler: Handler, *, token: str = TOKEN, read_timeout: float = 2.0
) -> AsyncIterator[PlexClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        yield PlexClient(
            http,
            base_url="http://plex:32400/",
            token=Secret(token),
            client_id=CLIENT_ID,
            connect_timeout=1.0,
            read_timeout=read_timeout,
        )


def raising(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return handler


def answering(status: int, body: bytes = b"") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body)

    return handler


def item_1000() -> PlexItem:
    return PlexItem(rating_key="1000", section_id="1")


# -- what goes on the wire --------------------------------------------------------------------


async def test_token_travels_only_in_the_header_with_json_and_client_id(fake: FakePlex) -> None:
    async with client_for(fake.handle) as plex:
        await plex.sections()
        await plex.list_items("1", file=FILM)
        await plex.metadata("1000", "1")
        await plex.edit(item_1000(), [("title.value", "New")])
        await plex.upload_poster("1000", b"img")
    assert len(fake.requests) == 5
    for request in fake.requests:
        assert request.headers["x-plex-token"] == TOKEN
        assert request.headers["accept"] == "application/json"
        assert request.headers["x-plex-client-identifier"] == CLIENT_ID
        assert request.headers["x-plex-product"] == "PlexSync"
    assert not fake.token_seen_in_urls()


async def test_identity_probe_sends_no_token_and_reads_version(fake: FakePlex) -> None:
    async with client_for(fake.handle) as plex:
        identity = await plex.identity()
    assert (identity.version, identity.machine_id) == (fake.version, fake.machine_id)
    assert identity.latency_ms >= 0
    assert fake.requests[-1].path == "/identity"
    assert "x-plex-token" not in fake.requests[-1].headers


async def test_edit_query_keeps_keys_raw_and_percent_encodes_values(fake: FakePlex) -> None:
    params = [
        ("title.value", "Tom & Jerry + Friends"),
        ("title.locked", "1"),
        ("genre[0].tag.tag", "a b"),
        ("genre[1].tag.tag", "x=y/z"),
    ]
    async with client_for(fake.handle) as plex:
        await plex.edit(item_1000(), params)
    put = fake.requests[-1]
    assert (put.method, put.path) == ("PUT", "/library/sections/1/all")
    assert put.query == (
        "type=1&id=1000&title.value=Tom%20%26%20Jerry%20%2B%20Friends&title.locked=1"
        "&genre[0].tag.tag=a%20b&genre[1].tag.tag=x%3Dy%2Fz"
    )
    item = fake.item(1000)
    assert item.title == "Tom & Jerry + Friends"  # the plus reaches PMS as a plus
    assert item.genres == ["a b", "x=y/z"]
    assert "title" in item.locked


def test_encode_query_is_the_python_plexapi_encoding() -> None:
    assert encode_query([("a[0].b", "1 2"), ("c", "&+%é")]) == "a[0].b=1%202&c=%26%2B%25%C3%A9"


async def test_file_filter_is_sent_fully_encoded(fake: FakePlex) -> None:
    async with client_for(fake.handle) as plex:
        await plex.list_items("1", file="/media/movies/a b/film.mp4")
    assert fake.requests[-1].query == "type=1&file=%2Fmedia%2Fmovies%2Fa%20b%2Ffilm.mp4"


# -- reading -----------------------------------------------------------------------------------


async def test_sections_carry_kind_and_locations(fake: FakePlex) -> None:
    fake.add_section("Shows", ["/media/tv", "/media/tv2"], kind="show")
    async with client_for(fake.handle) as plex:
        sections = await plex.sections()
    assert [(s.id, s.title, s.kind, s.locations) for s in sections] == [
        ("1", "Movies", "movie", ("/media/movies",)),
        ("2", "Shows", "show", ("/media/tv", "/media/tv2")),
    ]


async def test_listing_is_loose_and_truncated_but_metadata_is_complete(fake: FakePlex) -> None:
    fake.item(1000).locked.add("title")
    async with client_for(fake.handle) as plex:
        listed = await plex.list_items("1", file=FILM)
        full = await plex.metadata("1000", "1")
    assert {i.rating_key for i in listed} == {"1000", "1001"}  # folder match, not file match
    first = next(i for i in listed if i.rating_key == "1000")
    assert first.genres == ("g1", "g2") and len(first.actors) == 3
    assert full.genres == ("g1", "g2", "g3", "g4")
    assert full.actors == ("a1", "a2", "a3", "a4", "a5")
    assert full.collections == ("c1",)
    assert full.files == (FILM,)
    assert (full.year, full.originally_available_at) == (2020, "2020-01-02")
    assert full.locked == frozenset({"title"})
    assert (full.section_id, full.title) == ("1", "Film")


async def test_title_filter_lists_matching_items(fake: FakePlex) -> None:
    async with client_for(fake.handle) as plex:
        found = await plex.list_items("1", title="oth")
    assert [i.rating_key for i in found] == ["1001"]


async def test_poster_upload_sends_the_bytes(fake: FakePlex) -> None:
    async with client_for(fake.handle) as plex:
        await plex.upload_poster("1000", b"\x89PNG-bytes")
    assert fake.item(1000).posters == [b"\x89PNG-bytes"]
    assert fake.requests[-1].path == "/library/metadata/1000/posters"


# -- error mapping -----------------------------------------------------------------------------


async def test_server_down_is_plex_server_down(fake: FakePlex) -> None:
    fake.set_down(True)
    async with client_for(fake.handle) as plex:
        with pytest.raises(PlexServerDown) as info:
            await plex.identity()
        with pytest.raises(PlexServerDown):
            await plex.edit(item_1000(), [("title.value", "x")])
    assert info.value.status is None
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("exc_type", "expected"),
    [
        (httpx.ConnectError, PlexServerDown),
        (httpx.ConnectTimeout, PlexServerDown),
        (httpx.ReadTimeout, PlexTemporaryError),
        (httpx.WriteTimeout, PlexTemporaryError),
        (httpx.RemoteProtocolError, PlexTemporaryError),
        (httpx.ReadError, PlexTemporaryError),
        (httpx.UnsupportedProtocol, PlexServerDown),
    ],
)
async def test_transport_errors_map_to_project_errors(
    exc_type: type[httpx.TransportError], expected: type[PlexError]
) -> None:
    async with client_for(raising(exc_type)) as plex:
        with pytest.raises(expected) as info:
            await plex.sections()
    assert type(info.value) is expected
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("status", "expected"), [(500, PlexTemporaryError), (503, PlexTemporaryError)]
)
async def test_5xx_is_temporary_even_for_identity(
    fake: FakePlex, status: int, expected: type[PlexError]
) -> None:
    fake.set_status_fault(status)
    async with client_for(fake.handle) as plex:
        with pytest.raises(expected) as info:
            await plex.identity()
        with pytest.raises(expected):
            await plex.edit(item_1000(), [("title.value", "x")])
    assert info.value.status == status


async def test_starting_up_400_is_temporary_while_identity_answers(fake: FakePlex) -> None:
    fake.set_starting_up(True)
    async with client_for(fake.handle) as plex:
        await plex.identity()
        with pytest.raises(PlexTemporaryError) as info:
            await plex.edit(item_1000(), [("title.value", "x")])
        with pytest.raises(PlexTemporaryError):
            await plex.sections()
    assert info.value.status == 400
    assert fake.item(1000).title == "Film"


async def test_wrong_token_is_unauthorized_and_names_the_setting(fake: FakePlex) -> None:
    async with client_for(fake.handle, token="revoked") as plex:
        with pytest.raises(PlexUnauthorized) as info:
            await plex.sections()
    assert info.value.status == 401
    assert "plex_token" in str(info.value)
    assert "revoked" not in str(info.value)


async def test_403_is_unauthorized(fake: FakePlex) -> None:
    fake.set_status_fault(403)
    async with client_for(fake.handle) as plex:
        with pytest.raises(PlexUnauthorized) as info:
            await plex.metadata("1000", "1")
    assert info.value.status == 403


async def test_404_is_not_found(fake: FakePlex) -> None:
    async with client_for(fake.handle) as plex:
        with pytest.raises(PlexNotFound) as info:
            await plex.metadata("4242", "1")
        with pytest.raises(PlexNotFound):
            await plex.list_items("9", file=FILM)
    assert info.value.status == 404


async def test_empty_metadata_answer_is_not_found() -> None:
    async with client_for(answering(200, b'{"MediaContainer": {"size": 0}}')) as plex:
        with pytest.raises(PlexNotFound):
            await plex.metadata("1000", "1")


@pytest.mark.parametrize("status", [400, 405, 409, 422, 429])
async def test_other_4xx_is_permanent(fake: FakePlex, status: int) -> None:
    fake.set_status_fault(status)
    async with client_for(fake.handle) as plex:
        with pytest.raises(PlexPermanentError) as info:
            await plex.edit(item_1000(), [("title.value", "x")])
    assert info.value.status == status


async def test_edit_refused_by_plex_is_permanent(fake: FakePlex) -> None:
    async with client_for(fake.handle) as plex:
        with pytest.raises(PlexPermanentError):
            await plex.edit(item_1000(), [("originallyAvailableAt.value", "May 2024")])


async def test_hang_past_the_read_timeout_is_temporary(fake: FakePlex) -> None:
    fake.set_hang(True)
    async with client_for(fake.handle, read_timeout=0.05) as plex:
        with pytest.raises(PlexTemporaryError) as info:
            await plex.edit(item_1000(), [("title.value", "x")])
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert fake.item(1000).title == "Film"


async def test_unusable_plex_url_is_server_down_naming_the_setting() -> None:
    async with httpx.AsyncClient() as http:
        plex = PlexClient(
            http, base_url="http://[::1", token=Secret(TOKEN), client_id=CLIENT_ID,
            connect_timeout=1.0, read_timeout=1.0,
        )  # fmt: skip
        with pytest.raises(PlexServerDown, match="plex_url"):
            await plex.identity()


async def test_redirect_is_not_taken_for_success() -> None:
    redirect = httpx.Response(301, headers={"Location": "https://plex.example:32400/"})
    async with client_for(lambda request: redirect) as plex:
        with pytest.raises(PlexPermanentError, match="plex_url") as info:
            await plex.edit(item_1000(), [("title.value", "x")])
    assert info.value.status == 301


async def test_answer_that_is_not_json_is_temporary() -> None:
    async with client_for(answering(200, b"<html>proxy login</html>")) as plex:
        with pytest.raises(PlexTemporaryError):
            await plex.sections()
