"""The fake Plex answers like a real PMS: auth, formats, listings, edits, posters and faults."""

from __future__ import annotations

import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer

TOKEN = "tok-fake-0123"
JSON = {"Accept": "application/json"}


@pytest.fixture
def plex() -> FakePlex:
    return FakePlex(token=TOKEN, machine_id="machine-1", version="1.41.2.0")


@pytest.fixture
def client(plex: FakePlex) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=httpx.MockTransport(plex.handle),
        base_url="http://plex:32400",
        headers={"X-Plex-Token": TOKEN, **JSON},
        timeout=0.2,
    ) as http:
        yield http


def q(value: str) -> str:
    """Quote a value the python-plexapi way."""
    return quote(value, safe="")


def a_movie(plex: FakePlex, **fields: object) -> int:
    section = plex.add_section("Movies", ["/media/movies"])
    return plex.add_movie(section, "/media/movies/a/film.mp4", **fields)  # type: ignore[arg-type]


# -- auth and formats ----------------------------------------------------------------------


def test_identity_needs_no_token_and_answers_json_under_media_container(plex: FakePlex) -> None:
    response = httpx.Client(transport=httpx.MockTransport(plex.handle)).get(
        "http://plex/identity", headers=JSON
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "MediaContainer": {
            "size": 0,
            "claimed": True,
            "machineIdentifier": "machine-1",
            "version": "1.41.2.0",
        }
    }


def test_answers_are_xml_unless_json_is_asked_for(plex: FakePlex) -> None:
    response = httpx.Client(transport=httpx.MockTransport(plex.handle)).get("http://plex/identity")
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "MediaContainer"
    assert root.attrib == {
        "size": "0",
        "claimed": "1",
        "machineIdentifier": "machine-1",
        "version": "1.41.2.0",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/library/sections"),
        ("GET", "/library/sections/1/all"),
        ("GET", "/library/metadata/1000"),
        ("PUT", "/library/metadata/1000?title.value=x"),
        ("POST", "/library/metadata/1000/posters"),
        ("GET", "/no/such/path"),
    ],
)
def test_every_endpoint_but_identity_needs_the_token(
    plex: FakePlex, method: str, path: str
) -> None:
    a_movie(plex)
    anonymous = httpx.Client(transport=httpx.MockTransport(plex.handle), base_url="http://plex")
    assert anonymous.request(method, path).status_code == 401
    wrong = anonymous.request(method, path, headers={"X-Plex-Token": "nope"})
    assert wrong.status_code == 401
    assert plex.item(1000).title == "film"  # nothing was changed


def test_token_in_query_string_works_but_is_reported_as_leaked(plex: FakePlex) -> None:
    anonymous = httpx.Client(transport=httpx.MockTransport(plex.handle), base_url="http://plex")
    assert anonymous.get("/library/sections", headers=JSON).status_code == 401
    assert not plex.token_seen_in_urls()
    assert anonymous.get(f"/library/sections?X-Plex-Token={TOKEN}").status_code == 200
    assert plex.token_seen_in_urls()


def test_token_in_header_is_not_a_leak_and_requests_are_recorded_raw(
    plex: FakePlex, client: httpx.Client
) -> None:
    a_movie(plex)
    client.put("/library/metadata/1000?title.value=a%20b+c", headers={"X-Extra": "Yes"})
    assert not plex.token_seen_in_urls()
    recorded = plex.requests[-1]
    assert (recorded.method, recorded.path) == ("PUT", "/library/metadata/1000")
    assert recorded.query == "title.value=a%20b+c"
    assert recorded.params() == [("title.value", "a b+c")]
    assert recorded.headers["x-plex-token"] == TOKEN
    assert recorded.headers["x-extra"] == "Yes"


def test_unknown_paths_are_404_and_wrong_methods_405(plex: FakePlex, client: httpx.Client) -> None:
    a_movie(plex)
    assert client.get("/library/nothing").status_code == 404
    assert client.get("/library/sections/9/all").status_code == 404
    assert client.get("/library/metadata/4242").status_code == 404
    assert client.put("/library/metadata/4242?title.value=x").status_code == 404
    assert client.post("/library/metadata/4242/posters", content=b"img").status_code == 404
    refused = client.delete("/library/metadata/1000")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, PUT"


# -- reading the library -------------------------------------------------------------------


def test_sections_list_their_locations(plex: FakePlex, client: httpx.Client) -> None:
    plex.add_section("Movies", ["/media/movies", "/mnt/more"])
    plex.add_section("Shows", ["/media/tv"], kind="show")
    directories = client.get("/library/sections").json()["MediaContainer"]["Directory"]
    assert [(d["key"], d["title"], d["type"]) for d in directories] == [
        ("1", "Movies", "movie"),
        ("2", "Shows", "show"),
    ]
    assert [loc["path"] for loc in directories[0]["Location"]] == ["/media/movies", "/mnt/more"]


def test_listings_truncate_tags_but_full_metadata_has_them_all(
    plex: FakePlex, client: httpx.Client
) -> None:
    genres, actors, collections = ["g1", "g2", "g3"], ["a1", "a2", "a3", "a4"], ["c1", "c2", "c3"]
    key = a_movie(
        plex,
        title="Film",
        genres=genres,
        actors=actors,
        collections=collections,
        year=2024,
        originally_available_at="2024-05-06",
        studio="Studio",
        summary="About",
    )
    listed = client.get("/library/sections/1/all?type=1").json()["MediaContainer"]["Metadata"][0]
    assert [t["tag"] for t in listed["Genre"]] == ["g1", "g2"]
    assert [t["tag"] for t in listed["Role"]] == ["a1", "a2", "a3"]
    assert [t["tag"] for t in listed["Collection"]] == ["c1", "c2"]
    assert listed["ratingKey"] == str(key)
    assert listed["Media"][0]["Part"][0]["file"] == "/media/movies/a/film.mp4"

    full = client.get(f"/library/metadata/{key}").json()["MediaContainer"]["Metadata"][0]
    assert [t["tag"] for t in full["Genre"]] == genres
    assert [t["tag"] for t in full["Role"]] == actors
    assert [t["tag"] for t in full["Collection"]] == collections
    assert (full["title"], full["summary"], full["studio"]) == ("Film", "About", "Studio")
    assert (full["year"], full["originallyAvailableAt"]) == (2024, "2024-05-06")
    assert full["librarySectionID"] == 1
    assert "Field" not in full
    assert full["thumb"] == f"/library/metadata/{key}/thumb/{full['updatedAt']}"


def test_an_item_read_by_rating_key_names_its_library_and_files_and_a_removed_one_is_404(
    plex: FakePlex, client: httpx.Client
) -> None:
    plex.add_section("Movies", ["/media/movies"])
    other = plex.add_section("Other", ["/media/other"])
    gone = plex.add_movie(other, "/media/other/gone.mp4")
    key = plex.add_movie(other, ["/media/other/a.mp4", "/media/other/a-4k.mp4"])
    container = client.get(f"/library/metadata/{key}").json()["MediaContainer"]
    assert (container["librarySectionID"], container["librarySectionTitle"]) == (other, "Other")
    (item,) = container["Metadata"]
    assert (item["ratingKey"], item["librarySectionID"]) == (str(key), other)
    parts = [part["file"] for media in item["Media"] for part in media["Part"]]
    assert parts == ["/media/other/a.mp4", "/media/other/a-4k.mp4"]
    plex.remove_movie(gone)
    assert client.get(f"/library/metadata/{gone}").status_code == 404
    assert client.get("/library/metadata/999999").status_code == 404
    listed = client.get(f"/library/sections/{other}/all?type=1").json()["MediaContainer"]
    assert [m["ratingKey"] for m in listed["Metadata"]] == [str(key)]
    assert plex.add_movie(other, "/media/other/new.mp4") not in (gone, key)  # never reused


def test_xml_listing_has_the_same_shape(plex: FakePlex) -> None:
    a_movie(plex, genres=["g1", "g2", "g3"])
    xml_client = httpx.Client(
        transport=httpx.MockTransport(plex.handle), headers={"X-Plex-Token": TOKEN}
    )
    root = ET.fromstring(xml_client.get("http://plex/library/sections/1/all").content)
    (video,) = root.findall("Metadata")
    assert video.get("ratingKey") == "1000"
    assert [g.get("tag") for g in video.findall("Genre")] == ["g1", "g2"]
    assert video.find("Media/Part").get("file") == "/media/movies/a/film.mp4"  # type: ignore[union-attr]


def test_file_filter_matches_every_item_in_the_folder(plex: FakePlex, client: httpx.Client) -> None:
    section = plex.add_section("Movies", ["/media"])
    one = plex.add_movie(section, "/media/x/one.mp4")
    two = plex.add_movie(section, "/media/x/two.mp4")
    plex.add_movie(section, "/media/y/three.mp4")
    both = client.get(f"/library/sections/{section}/all?type=1&file={q('/media/x/one.mp4')}")
    keys = [m["ratingKey"] for m in both.json()["MediaContainer"]["Metadata"]]
    assert keys == [str(one), str(two)]
    none = client.get(f"/library/sections/{section}/all?file={q('/media/z/one.mp4')}")
    assert none.json()["MediaContainer"] == {
        "size": 0,
        "librarySectionID": section,
        "librarySectionTitle": "Movies",
    }


def test_file_filter_decodes_twice_so_percent_signs_break_it(
    plex: FakePlex, client: httpx.Client
) -> None:
    section = plex.add_section("Movies", ["/media"])
    plex.add_movie(section, "/media/100%41/film.mp4")
    found = client.get(f"/library/sections/{section}/all?file={q('/media/100%41/film.mp4')}")
    assert found.json()["MediaContainer"]["size"] == 0


def test_title_filter_is_a_case_insensitive_substring(plex: FakePlex, client: httpx.Client) -> None:
    section = plex.add_section("Movies", ["/media"])
    plex.add_movie(section, "/media/a.mp4", title="The Big Night")
    plex.add_movie(section, "/media/b.mp4", title="Other")
    found = client.get(f"/library/sections/{section}/all?type=1&title={q('big n')}")
    assert [m["title"] for m in found.json()["MediaContainer"]["Metadata"]] == ["The Big Night"]


def test_movie_without_title_is_named_after_its_file(plex: FakePlex) -> None:
    section = plex.add_section("Movies", ["D:\\Media"])
    key = plex.add_movie(section, ["D:\\Media\\My Film.mkv", "D:\\Media\\My Film 4k.mkv"])
    assert plex.item(key).title == "My Film"
    assert plex.item(key).files == ["D:\\Media\\My Film.mkv", "D:\\Media\\My Film 4k.mkv"]


# -- edits -----------------------------------------------------------------------------------


def test_put_sets_fields_and_locks_and_answers_empty_200(
    plex: FakePlex, client: httpx.Client
) -> None:
    key = a_movie(plex)
    query = (
        f"type=1&title.value={q('New & Title')}&title.locked=1&summary.value={q('Line')}"
        f"&studio.value=Acme&originallyAvailableAt.value=2023-01-02&year.value=2023"
        f"&originallyAvailableAt.locked=1"
    )
    response = client.put(f"/library/metadata/{key}?{query}")
    assert (response.status_code, response.content) == (200, b"")
    item = plex.item(key)
    assert (item.title, item.summary, item.studio) == ("New & Title", "Line", "Acme")
    assert (item.originally_available_at, item.year) == ("2023-01-02", 2023)
    assert item.locked == {"title", "originallyAvailableAt"}
    assert item.put_count == 1
    full = client.get(f"/library/metadata/{key}").json()["MediaContainer"]["Metadata"][0]
    assert full["Field"] == [
        {"name": "originallyAvailableAt", "locked": True},
        {"name": "title", "locked": True},
    ]
    client.put(f"/library/metadata/{key}?title.locked=0")
    assert plex.item(key).locked == {"originallyAvailableAt"}
    assert plex.item(key).put_count == 2


def test_put_through_section_all_edits_the_item_given_by_id(
    plex: FakePlex, client: httpx.Client
) -> None:
    key = a_movie(plex)
    assert client.put(f"/library/sections/1/all?type=1&id={key}&title.value=X").status_code == 200
    assert plex.item(key).title == "X"
    assert client.put("/library/sections/1/all?type=1&id=4242&title.value=Y").status_code == 404
    assert client.put("/library/sections/7/all?type=1&id=1000&title.value=Y").status_code == 404
    assert client.put("/library/sections/1/all?type=1&title.value=Y").status_code == 400
    assert plex.item(key).title == "X"
    assert plex.item(key).put_count == 1


def test_indexed_tags_replace_the_whole_list_in_index_order(
    plex: FakePlex, client: httpx.Client
) -> None:
    key = a_movie(plex, genres=["old1", "old2"], actors=["Ann"], collections=["Mine"])
    query = (
        f"genre[1].tag.tag={q('Sci Fi')}&genre[0].tag.tag=Drama&genre[2].tag.tag={q('R&B')}"
        f"&actor[0].tag.tag={q('Bob Ray')}&genre.locked=1"
    )
    assert client.put(f"/library/metadata/{key}?{query}").status_code == 200
    item = plex.item(key)
    assert item.genres == ["Drama", "Sci Fi", "R&B"]
    assert item.actors == ["Bob Ray"]
    assert item.collections == ["Mine"]  # not in the query: left alone
    assert item.locked == {"genre"}


def test_in_append_mode_indexed_tags_are_added_and_only_removals_remove(
    plex: FakePlex, client: httpx.Client
) -> None:
    plex.tag_mode = "append"
    key = a_movie(plex, genres=["old1", "old2"], actors=["Ann"])
    query = "genre[0].tag.tag=new&genre[1].tag.tag=old1&actor[0].tag.tag=Bob&genre.locked=1"
    assert client.put(f"/library/metadata/{key}?{query}").status_code == 200
    assert plex.item(key).genres == ["old1", "old2", "new"]
    assert plex.item(key).actors == ["Ann", "Bob"]
    removal = f"genre[0].tag.tag=new&genre[].tag.tag-={q(q('old2'))}"
    assert client.put(f"/library/metadata/{key}?{removal}").status_code == 200
    assert plex.item(key).genres == ["old1", "new"]


def test_every_edit_and_upload_moves_updated_at_and_the_image_urls(
    plex: FakePlex, client: httpx.Client
) -> None:
    key = a_movie(plex)

    def shown() -> tuple[int, str, str]:
        full = client.get(f"/library/metadata/{key}").json()["MediaContainer"]["Metadata"][0]
        return full["updatedAt"], full["thumb"], full["art"]

    before = shown()
    client.put(f"/library/metadata/{key}?title.value=film")  # the title it already has
    after_edit = shown()
    client.post(f"/library/metadata/{key}/posters", content=b"\xff\xd8jpeg")
    after_upload = shown()
    assert before[0] < after_edit[0] < after_upload[0]
    assert len({before[1], after_edit[1], after_upload[1]}) == 3
    assert len({before[2], after_edit[2], after_upload[2]}) == 3


def test_removal_syntax_removes_tags_named_twice_encoded(
    plex: FakePlex, client: httpx.Client
) -> None:
    key = a_movie(plex, collections=["Studio A", "x,y", "Keep"], genres=["a", "b"])
    names = ",".join(q(name) for name in ["Studio A", "x,y", "absent"])
    response = client.put(f"/library/metadata/{key}?collection[].tag.tag-={q(names)}")
    assert response.status_code == 200
    assert plex.item(key).collections == ["Keep"]
    assert plex.item(key).genres == ["a", "b"]


def test_plus_stays_a_plus(plex: FakePlex, client: httpx.Client) -> None:
    key = a_movie(plex)
    client.put(f"/library/metadata/{key}?title.value=C++%20Films&genre[0].tag.tag=a+b")
    assert plex.item(key).title == "C++ Films"
    assert plex.item(key).genres == ["a+b"]


def test_unreadable_date_is_refused_and_changes_nothing(
    plex: FakePlex, client: httpx.Client
) -> None:
    key = a_movie(plex)
    response = client.put(f"/library/metadata/{key}?title.value=X&originallyAvailableAt.value=2024")
    assert response.status_code == 400
    assert (plex.item(key).title, plex.item(key).put_count) == ("film", 0)


def test_poster_upload_is_kept_and_shows_as_thumb(plex: FakePlex, client: httpx.Client) -> None:
    key = a_movie(plex)
    assert (
        client.post(f"/library/metadata/{key}/posters", content=b"\xff\xd8jpeg").status_code == 200
    )
    assert client.post(f"/library/metadata/{key}/posters", content=b"png").status_code == 200
    assert plex.item(key).posters == [b"\xff\xd8jpeg", b"png"]
    full = client.get(f"/library/metadata/{key}").json()["MediaContainer"]["Metadata"][0]
    assert full["thumb"] == plex.item(key).thumb is not None
    assert client.post(f"/library/metadata/{key}/posters").status_code == 400


# -- faults through MockTransport ----------------------------------------------------------


def test_down_raises_connect_error_until_back_up(plex: FakePlex, client: httpx.Client) -> None:
    plex.set_down(True)
    with pytest.raises(httpx.ConnectError):
        client.get("/identity")
    assert plex.requests == []  # nothing reached the server
    plex.set_down(False)
    assert client.get("/identity").status_code == 200


def test_status_fault_answers_every_request_identity_included(
    plex: FakePlex, client: httpx.Client
) -> None:
    plex.set_status_fault(503)
    assert client.get("/identity").status_code == 503
    assert client.get("/library/sections").status_code == 503
    plex.set_status_fault(None)
    assert client.get("/library/sections").status_code == 200


def test_an_item_fault_refuses_that_item_only(plex: FakePlex, client: httpx.Client) -> None:
    bad, good = a_movie(plex), plex.add_movie(1, "/media/movies/b/other.mp4")
    plex.set_item_fault(bad, 503)
    assert client.get(f"/library/metadata/{bad}").status_code == 503
    assert client.put(f"/library/sections/1/all?type=1&id={bad}&title.value=X").status_code == 503
    assert client.get(f"/library/metadata/{good}").status_code == 200
    assert client.get("/library/sections/1/all?type=1").status_code == 200  # listings answer
    plex.set_item_fault(bad, None)
    assert client.get(f"/library/metadata/{bad}").status_code == 200


def test_starting_up_answers_identity_but_refuses_the_rest(
    plex: FakePlex, client: httpx.Client
) -> None:
    key = a_movie(plex)
    plex.set_starting_up(True)
    assert client.get("/identity").status_code == 200
    refused = client.put(f"/library/metadata/{key}?title.value=X")
    assert refused.status_code == 400
    assert refused.text == "the server is still starting up. Please retry later"
    assert plex.item(key).title == "film"
    plex.set_starting_up(False)
    assert client.put(f"/library/metadata/{key}?title.value=X").status_code == 200


def test_latency_delays_every_answer(plex: FakePlex, client: httpx.Client) -> None:
    plex.set_latency(0.1)
    start = time.monotonic()
    assert client.get("/identity").status_code == 200
    assert time.monotonic() - start >= 0.1


def test_latency_longer_than_the_read_timeout_is_a_read_timeout(
    plex: FakePlex, client: httpx.Client
) -> None:
    plex.set_latency(1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/identity", timeout=0.05)


def test_hang_raises_read_timeout_after_the_client_timeout(
    plex: FakePlex, client: httpx.Client
) -> None:
    plex.set_hang(True)
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.get("/identity", timeout=0.05)
    assert 0.05 <= time.monotonic() - start < 1
    plex.set_hang(False)
    assert client.get("/identity").status_code == 200


def test_hang_released_in_time_answers_late(plex: FakePlex, client: httpx.Client) -> None:
    plex.set_hang(True)
    threading.Timer(0.05, plex.set_hang, args=(False,)).start()
    assert client.get("/identity", timeout=2).status_code == 200


async def test_async_client_works_through_mock_transport(plex: FakePlex) -> None:
    key = a_movie(plex)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(plex.handle), headers={"X-Plex-Token": TOKEN}
    ) as http:
        response = await http.put(f"http://plex/library/metadata/{key}?title.value=Async")
    assert response.status_code == 200
    assert plex.item(key).title == "Async"


# -- the loopback server -------------------------------------------------------------------


@pytest.fixture
def server(plex: FakePlex) -> Iterator[FakePlexServer]:
    with FakePlexServer(plex) as running:
        yield running


@pytest.fixture
def http(server: FakePlexServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"X-Plex-Token": TOKEN, **JSON}, timeout=2
    ) as client:
        yield client


def test_loopback_server_answers_real_http_over_one_kept_alive_connection(
    plex: FakePlex, server: FakePlexServer, http: httpx.Client
) -> None:
    key = a_movie(plex)
    assert server.url.startswith("http://127.0.0.1:")
    assert http.get("/identity").json()["MediaContainer"]["machineIdentifier"] == "machine-1"
    assert http.put(f"/library/metadata/{key}?title.value={q('A B')}").status_code == 200
    assert http.post(f"/library/metadata/{key}/posters", content=b"img").status_code == 200
    assert http.get("/library/sections", headers={"X-Plex-Token": "bad"}).status_code == 401
    assert (plex.item(key).title, plex.item(key).posters) == ("A B", [b"img"])
    assert len(http._transport._pool.connections) == 1  # type: ignore[attr-defined]


def test_loopback_down_refuses_connections_then_comes_back_on_the_same_port(
    plex: FakePlex, server: FakePlexServer, http: httpx.Client
) -> None:
    url = server.url
    assert http.get("/identity").status_code == 200  # leaves a kept-alive connection
    plex.set_down(True)
    with pytest.raises(httpx.ConnectError):
        http.get("/identity")
    with socket.socket() as probe:
        host, port = url.removeprefix("http://").split(":")
        assert probe.connect_ex((host, int(port))) != 0
    plex.set_down(False)
    assert server.url == url
    assert http.get("/identity").status_code == 200


def test_loopback_status_fault_and_start_up(plex: FakePlex, http: httpx.Client) -> None:
    plex.set_status_fault(503)
    assert http.get("/identity").status_code == 503
    plex.set_status_fault(None)
    plex.set_starting_up(True)
    assert http.get("/identity").status_code == 200
    refused = http.get("/library/sections")
    assert (refused.status_code, refused.text) == (
        400,
        "the server is still starting up. Please retry later",
    )


def test_loopback_hang_times_out_and_stop_does_not_wait_for_it(plex: FakePlex) -> None:
    server = FakePlexServer(plex)
    server.start()
    plex.set_hang(True)
    with httpx.Client(base_url=server.url, timeout=0.05) as http, pytest.raises(httpx.ReadTimeout):
        http.get("/identity")
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1


def test_loopback_server_started_while_down_listens_once_up(plex: FakePlex) -> None:
    plex.set_down(True)
    with FakePlexServer(plex) as server, httpx.Client(base_url=server.url) as http:
        with pytest.raises(httpx.ConnectError):
            http.get("/identity")
        plex.set_down(False)
        assert http.get("/identity").status_code == 200


def test_loopback_url_needs_a_started_server(plex: FakePlex) -> None:
    with pytest.raises(RuntimeError):
        _ = FakePlexServer(plex).url
