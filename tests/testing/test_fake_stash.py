"""The fake Stash itself: it must reject what Stash rejects and authenticate as Stash does."""

from __future__ import annotations

import datetime
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from clock_rig import T0, SteppingClock

from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.fake_stash_graphql import load_stash_schema, query_errors
from plexsync_actors.testing.harness import wait_for

COOKIE = ("session", "cookie-value")
FIND_SCENE = "query($id: ID) { findScene(id: $id) { id title paths { screenshot } } }"
FIND_SCENES = """
query($filter: FindFilterType, $scene_filter: SceneFilterType, $ids: [ID!]) {
  findScenes(filter: $filter, scene_filter: $scene_filter, ids: $ids) {
    count
    scenes { id updated_at }
  }
}
"""


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture
def fake(clock: SteppingClock) -> Iterator[FakeStash]:
    with FakeStash(plugin_settings={"plex_url": "http://plex"}, api_key="key", clock=clock) as s:
        yield s


def post(
    http: httpx.Client,
    fake: FakeStash,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {"query": query, "variables": variables or {}}
    return http.post(f"{fake.url}/graphql", json=body, headers=headers or {})


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "errors" not in answer, answer
    return answer["data"]


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query { findScene(id: 1) { id no_such_field } }", None),
        ("query { findScene(id: 1) { id ", None),
        ("query { findScenes(filter: {per_page: 1}) }", None),
        ("query { findScene(nope: 1) { id } }", None),
        ("query($f: FindFilterType) { findScenes(filter: $f) { count } }", {"f": {"page": "x"}}),
        ("query($id: ID!) { findScene(id: $id) { id } }", {}),
    ],
    ids=["unknown-field", "syntax", "missing-selection", "unknown-arg", "bad-var", "missing-var"],
)
def test_fake_rejects_and_records_queries_stash_would_reject(
    fake: FakeStash, http: httpx.Client, query: str, variables: dict[str, Any] | None
) -> None:
    response = post(http, fake, query, variables)

    assert response.status_code == 422
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["message"]
    assert fake.invalid_queries == [query]
    assert query_errors(load_stash_schema(), query, variables) != []


def test_fake_rejects_a_body_that_is_not_graphql_json(fake: FakeStash, http: httpx.Client) -> None:
    response = http.post(f"{fake.url}/graphql", content=b"not json")
    assert response.status_code == 400
    assert fake.invalid_queries == ["not json"]


def test_fake_answers_valid_queries_and_records_requests(
    fake: FakeStash, http: httpx.Client
) -> None:
    scene_id = fake.add_scene(title="hello")

    answer = data(post(http, fake, FIND_SCENE, {"id": str(scene_id)}))

    assert answer == {
        "findScene": {
            "id": str(scene_id),
            "title": "hello",
            "paths": {"screenshot": f"{fake.url}/scene/{scene_id}/screenshot?t=1"},
        }
    }
    assert fake.invalid_queries == []
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/graphql")]


# -- scenes -----------------------------------------------------------------------------------


def test_find_scenes_pages_sorts_and_counts_like_stash(
    fake: FakeStash, http: httpx.Client, clock: SteppingClock
) -> None:
    for n in range(5):
        clock.now = T0 + datetime.timedelta(minutes=10 - n)  # later ids are older
        fake.add_scene(title=f"s{n}")

    def ids(find: dict[str, Any], **extra: Any) -> tuple[int, list[int]]:
        result = data(post(http, fake, FIND_SCENES, {"filter": find, **extra}))["findScenes"]
        return result["count"], [int(s["id"]) for s in result["scenes"]]

    by_update = {"sort": "updated_at", "direction": "ASC"}
    assert ids({**by_update, "page": 1, "per_page": 2}) == (5, [5, 4])
    assert ids({**by_update, "page": 3, "per_page": 2}) == (5, [1])
    assert ids({**by_update, "page": 4, "per_page": 2}) == (5, [])
    assert ids({"sort": "id", "direction": "DESC", "per_page": -1}) == (5, [5, 4, 3, 2, 1])
    assert ids({"sort": "id"}, ids=["2", "4"]) == (2, [2, 4])


def test_find_scenes_pages_have_no_upper_size_as_since_stash_v0_20(
    fake: FakeStash, http: httpx.Client
) -> None:
    for _ in range(1001):
        fake.add_scene()
    find = {"sort": "id", "direction": "ASC", "page": 1, "per_page": 1001}
    result = data(post(http, fake, FIND_SCENES, {"filter": find}))["findScenes"]
    assert len(result["scenes"]) == result["count"] == 1001


def test_updated_at_filter_compares_stash_local_time_text(
    fake: FakeStash, http: httpx.Client, clock: SteppingClock
) -> None:
    clock.now = T0 + datetime.timedelta(microseconds=500_000)
    scene_id = fake.add_scene()
    local = T0.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    later = (T0 + datetime.timedelta(seconds=1)).astimezone().strftime("%Y-%m-%d %H:%M:%S")

    def matching(value: str) -> list[int]:
        criterion = {"updated_at": {"value": value, "modifier": "GREATER_THAN"}}
        result = data(post(http, fake, FIND_SCENES, {"scene_filter": criterion}))["findScenes"]
        return [int(s["id"]) for s in result["scenes"]]

    assert matching(local) == [scene_id]  # "…:00.5+hh:mm" > "…:00": same second included
    assert matching(later) == []


def test_update_scene_bumps_updated_at_and_screenshot_version(
    fake: FakeStash, http: httpx.Client, clock: SteppingClock
) -> None:
    scene_id = fake.add_scene(title="a", screenshot=b"one")
    first_url = fake.screenshot_url(scene_id)
    clock.now = T0 + datetime.timedelta(hours=1)

    fake.update_scene(scene_id, title="b")
    assert fake.screenshot_url(scene_id) == first_url
    fake.update_scene(scene_id, screenshot=b"two")

    assert fake.scene(scene_id).updated_at == clock.now
    assert fake.scene(scene_id).title == fake.scene(scene_id)["title"] == "b"
    assert fake.screenshot_url(scene_id) != first_url
    assert http.get(fake.screenshot_url(scene_id)).content == b"two"
    with pytest.raises(TypeError):
        fake.update_scene(scene_id, rating=5)


def test_deleted_scene_is_not_found(fake: FakeStash, http: httpx.Client) -> None:
    scene_id = fake.add_scene()
    fake.delete_scene(scene_id)
    assert data(post(http, fake, FIND_SCENE, {"id": str(scene_id)})) == {"findScene": None}
    assert http.get(f"{fake.url}/scene/{scene_id}/screenshot?t=1").status_code == 404


def test_screenshot_is_served_with_its_sniffed_type_or_the_placeholder_svg(
    fake: FakeStash, http: httpx.Client
) -> None:
    jpeg, png = b"\xff\xd8\xff\xe0jpeg", b"\x89PNG\r\n\x1a\npng"
    with_jpeg, with_png = fake.add_scene(screenshot=jpeg), fake.add_scene(screenshot=png)
    without = fake.add_scene(screenshot=None)
    response = http.get(fake.screenshot_url(with_jpeg))
    assert (response.status_code, response.content) == (200, jpeg)
    assert response.headers["content-type"] == "image/jpeg"
    assert http.get(fake.screenshot_url(with_png)).headers["content-type"] == "image/png"
    # Stash answers a scene without a cover with 200 and its placeholder SVG, never 404.
    placeholder = http.get(fake.screenshot_url(without))
    assert placeholder.status_code == 200 and placeholder.content.startswith(b"<svg")
    assert placeholder.headers["content-type"] == "image/svg+xml"


def test_external_host_is_the_origin_of_every_url_stash_hands_out(
    fake: FakeStash, http: httpx.Client
) -> None:
    fake.external_host = "https://stash.example.org"
    scene_id = fake.add_scene()
    answer = data(post(http, fake, FIND_SCENE, {"id": str(scene_id)}))
    shot = answer["findScene"]["paths"]["screenshot"]
    assert shot.startswith(f"https://stash.example.org/scene/{scene_id}/screenshot?t=")
    assert fake.screenshot_url(scene_id) == shot


def test_configuration_answers_plugin_settings_and_api_key(
    fake: FakeStash, http: httpx.Client
) -> None:
    query = "query($i: [ID!]) { configuration { plugins(include: $i) general { apiKey } } }"
    assert data(post(http, fake, query, {"i": ["PlexSync"]})) == {
        "configuration": {
            "plugins": {"PlexSync": {"plex_url": "http://plex"}},
            "general": {"apiKey": "key"},
        }
    }
    assert data(post(http, fake, query, {"i": ["Other"]}))["configuration"]["plugins"] == {}
    fake.plugin_settings = {}
    assert data(post(http, fake, query))["configuration"]["plugins"] == {}


# -- authentication ---------------------------------------------------------------------------


@pytest.fixture
def locked(clock: SteppingClock) -> Iterator[FakeStash]:
    with FakeStash(api_key="key", require_auth=True, cookie=COOKIE, clock=clock) as s:
        yield s


def test_protected_fake_refuses_graphql_without_credentials_like_stash(
    locked: FakeStash, http: httpx.Client
) -> None:
    response = post(http, locked, FIND_SCENE, {"id": "1"})
    assert (response.status_code, response.content) == (401, b"")
    assert response.headers["www-authenticate"] == "FormBased"
    assert locked.invalid_queries == []


def test_protected_fake_accepts_cookie_until_it_expires_and_api_key_always(
    locked: FakeStash, http: httpx.Client
) -> None:
    cookie = {"Cookie": f"{COOKIE[0]}={COOKIE[1]}"}
    assert post(http, locked, FIND_SCENE, {"id": "1"}, cookie).status_code == 200
    assert (
        post(http, locked, FIND_SCENE, {"id": "1"}, {"Cookie": "session=other"}).status_code == 401
    )

    locked.expire_cookie()

    assert post(http, locked, FIND_SCENE, {"id": "1"}, cookie).status_code == 401
    assert post(http, locked, FIND_SCENE, {"id": "1"}, {"ApiKey": "key"}).status_code == 200
    assert post(http, locked, FIND_SCENE, {"id": "1"}, {"ApiKey": "nope"}).status_code == 401


def test_wrong_api_key_is_refused_even_without_a_password(
    fake: FakeStash, http: httpx.Client
) -> None:
    assert post(http, fake, FIND_SCENE, {"id": "1"}).status_code == 200
    assert post(http, fake, FIND_SCENE, {"id": "1"}, {"ApiKey": "nope"}).status_code == 401


def test_protected_fake_redirects_anonymous_screenshot_requests_to_login(
    locked: FakeStash, http: httpx.Client
) -> None:
    scene_id = locked.add_scene(screenshot=b"img")
    response = http.get(locked.screenshot_url(scene_id))
    assert response.status_code == 302
    assert response.headers["location"].startswith("/login?returnURL=")
    assert http.get(locked.screenshot_url(scene_id), headers={"ApiKey": "key"}).content == b"img"


def test_server_connection_matches_what_stash_sends_plugins(locked: FakeStash) -> None:
    connection = locked.server_connection()
    assert connection == {
        "Scheme": "http",
        "Host": "127.0.0.1",
        "Port": locked.port,
        "SessionCookie": {
            "Name": "session",
            "Value": "cookie-value",
            "Path": "",
            "Domain": "",
            "Expires": "0001-01-01T00:00:00Z",
            "MaxAge": 0,
            "Secure": False,
            "HttpOnly": False,
            "SameSite": 0,
            "Raw": "",
            "RawExpires": "",
            "Unparsed": None,
        },
        "Dir": "",
        "PluginDir": "",
    }
    json.dumps(connection)


def test_server_connection_has_null_cookie_without_a_password(fake: FakeStash) -> None:
    assert fake.server_connection()["SessionCookie"] is None


# -- availability -----------------------------------------------------------------------------


def test_set_down_refuses_connections_and_comes_back_on_the_same_port(
    fake: FakeStash, http: httpx.Client
) -> None:
    port = fake.port
    assert post(http, fake, FIND_SCENE, {"id": "1"}).status_code == 200

    fake.set_down(True)
    with pytest.raises(httpx.ConnectError):
        post(http, fake, FIND_SCENE, {"id": "1"})

    fake.set_down(False)
    assert fake.port == port
    assert post(http, fake, FIND_SCENE, {"id": "1"}).status_code == 200


def test_fake_needs_starting_before_it_has_a_url() -> None:
    with pytest.raises(RuntimeError):
        _ = FakeStash().url


def test_a_request_cut_off_mid_body_is_dropped_not_counted_as_an_invalid_query(
    fake: FakeStash,
) -> None:
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        head = b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
        sock.sendall(head + b'{"query": "{ vers')  # then the process is killed
    with httpx.Client(timeout=5.0) as http:  # the fake still answers the next request
        assert post(http, fake, "{ version { version } }").status_code == 200
    assert not wait_for(lambda: bool(fake.invalid_queries), 0.5)  # its thread had time
