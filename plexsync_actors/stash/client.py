"""Async client for Stash's GraphQL API, wrapping one injected `httpx.AsyncClient`.

Every failure leaves this module as `StashUnavailable` (one sentence, never a credential), so
callers never see httpx types. The queries it sends live in `queries`.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import urllib.parse
from collections.abc import AsyncGenerator
from typing import Any

import attrs
import httpx

from plexsync_actors import PLUGIN_ID
from plexsync_actors.errors import StashSceneError, StashUnavailable
from plexsync_actors.secret import safe_origin
from plexsync_actors.stash.answers import (
    auth_refused_message,
    graphql_failure_message,
    plugin_settings_from_answer,
    stash_version_from_answer,
)
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.stash.models import Image, PluginConfig, Scene, SceneChange, SceneIdPage
from plexsync_actors.stash.queries import (
    API_KEY_QUERY,
    ENTITY_NAME_QUERIES,
    FIND_SCENE_QUERY,
    FIND_SCENES_QUERY,
    SCENE_CHANGES_QUERY,
    SCENE_IDS_QUERY,
    plugin_settings_query,
)

logger = logging.getLogger(__name__)

# Scene ids a page: 2,000 ids are some 30 KB of JSON, and queueing them holds the queue's write
# lock for tens of milliseconds. Stash takes any per_page since v0.20.0 (it capped it at 1000
# before; PlexSync needs v0.26.0) and loads a page's scenes in batches of its own.
ID_PAGE_SIZE = 2000


class StashClient:
    """Reads scenes and settings from Stash.

    Authenticates with the session cookie when there is one; when Stash refuses it with 401 and
    `conn.api_key` is set, switches to the `ApiKey` header for the rest of its life (the cookie of
    a password-protected Stash expires after about an hour).
    """

    def __init__(self, http: httpx.AsyncClient, conn: StashConnection) -> None:
        self._http = http
        self._conn = conn
        self._origin = safe_origin(conn.base_url)
        self._cookie_headers = attrs.evolve(conn, api_key=None).auth_headers()
        self._use_api_key = bool(conn.api_key) and not self._cookie_headers

    @property
    def using_api_key(self) -> bool:
        """True once requests carry the API key instead of the session cookie."""
        return self._use_api_key

    async def find_scene(self, scene_id: int) -> Scene | None:
        """The scene with `scene_id`, or None when Stash has no such scene.

        StashSceneError when Stash answers this scene in a shape PlexSync cannot read: that
        fails this scene's job, not the drain (Stash itself is up)."""
        data = await self._query(FIND_SCENE_QUERY, {"id": str(scene_id)})
        raw = data.get("findScene")
        return None if raw is None else _scene_from_json(raw)

    async def scene_id_pages(
        self, *, updated_since: datetime.datetime | None = None, page_size: int = ID_PAGE_SIZE
    ) -> AsyncGenerator[SceneIdPage, None]:
        """The ids of every scene (or those updated after `updated_since`), a page at a time,
        lowest id first, each page with the count Stash reports at that moment.

        `updated_since` must be timezone-aware. Stash compares `updated_at` as *strings in the
        Stash server's local time*, so it is sent as "YYYY-MM-DD HH:MM:SS" in this machine's
        local time: right when PlexSync runs on the Stash machine (as a plugin it always does),
        off by the zone difference otherwise, and around a DST change. The bound is inclusive of
        its whole second. Some changes (play count, renaming a tag or performer) do not touch
        `updated_at` and are not found this way.

        Pages are sorted by id, which a save during the walk does not change, and new scenes
        come last: neither moves a scene across a page boundary. A scene deleted during the walk
        does, and one later scene can then be missed. Close the generator when stopping early
        (`async with contextlib.aclosing(client.scene_id_pages()) as pages:`).
        """
        pages = self._pages(SCENE_IDS_QUERY, _updated_since_filter(updated_since), page_size)
        async with contextlib.aclosing(pages):
            async for count, scenes in pages:
                yield SceneIdPage(count=count, ids=_scene_ids(scenes))

    async def scene_changes(
        self, *, updated_since: datetime.datetime | None, page_size: int = ID_PAGE_SIZE
    ) -> list[SceneChange]:
        """Every scene updated after `updated_since` (all when None), with Stash's `updated_at`;
        Sorted by id, as `scene_id_pages` (a save during the walk moves no scene)."""
        found: list[SceneChange] = []
        pages = self._pages(SCENE_CHANGES_QUERY, _updated_since_filter(updated_since), page_size)
        async with contextlib.aclosing(pages):
            async for _, scenes in pages:
                found.extend(_changes(scenes))
        return found

    async def _pages(
        self, query: str, scene_filter: dict[str, object] | None, page_size: int
    ) -> AsyncGenerator[tuple[int, list[Any]], None]:
        """Every page of `query`'s `findScenes`, sorted by id: the count Stash reports with
        each page, and the page's scenes as answered."""
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        page = 1
        while True:
            page_filter = {"page": page, "per_page": page_size, "sort": "id", "direction": "ASC"}
            data = await self._query(query, {"filter": page_filter, "scene_filter": scene_filter})
            count, scenes = _scenes_page(data)
            yield count, scenes
            if len(scenes) < page_size or page * page_size >= count:
                return
            page += 1

    async def newest_change(self) -> str | None:
        """Stash's `updated_at` of the scene it changed last (None with no scenes)."""
        page_filter = {"page": 1, "per_page": 1, "sort": "updated_at", "direction": "DESC"}
        data = await self._query(SCENE_CHANGES_QUERY, {"filter": page_filter, "scene_filter": None})
        _, scenes = _scenes_page(data)
        changes = _changes(scenes)
        return changes[0].updated_at if changes else None

    async def scenes_showing(
        self, kind: str, entity_id: int, *, after_id: int, page_size: int
    ) -> SceneIdPage:
        """One page of the scenes that have the tag, performer or studio `entity_id` (only that
        one: a parent tag's children are not looked at), ids above `after_id`, lowest first;
        its count is of every such scene above `after_id`. A walk that goes on from the last id
        of each page misses no scene and repeats none, whatever changes meanwhile."""
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        criterion: dict[str, object] = {"value": [str(entity_id)], "modifier": "INCLUDES"}
        if kind != "performer":  # tags and studios are hierarchical: depth 0 is this one only
            criterion["depth"] = 0
        scene_filter = {
            _ENTITY_FILTERS[kind]: criterion,
            "id": {"value": after_id, "modifier": "GREATER_THAN"},
        }
        page_filter = {"page": 1, "per_page": page_size, "sort": "id", "direction": "ASC"}
        data = await self._query(
            SCENE_IDS_QUERY, {"filter": page_filter, "scene_filter": scene_filter}
        )
        count, scenes = _scenes_page(data)
        return SceneIdPage(count=count, ids=_scene_ids(scenes))

    async def entity_name(self, kind: str, entity_id: int) -> str | None:
        """The name of the tag, performer or studio `entity_id`; None when Stash has none."""
        data = await self._query(ENTITY_NAME_QUERIES[kind], {"id": str(entity_id)})
        found = data.get(f"find{kind.title()}")
        if found is None:
            return None
        name = found.get("name") if isinstance(found, dict) else None
        if not isinstance(name, str):
            raise StashUnavailable(f"Stash answered find{kind.title()} without a name.")
        return name

    async def recent_scenes(self, limit: int) -> list[Scene]:
        """The `limit` most recently updated scenes, newest first."""
        page = {"page": 1, "per_page": limit, "sort": "updated_at", "direction": "DESC"}
        data = await self._query(FIND_SCENES_QUERY, {"filter": page, "scene_filter": None})
        _, found = _scenes_page(data)
        return [_scene_from_json(raw) for raw in found]

    async def plugin_config(self, plugin_id: str = PLUGIN_ID) -> PluginConfig:
        """The settings the user saved for `plugin_id` (Stash omits unset keys) and the version
        Stash reports, read in one request."""
        answer = await self._post_graphql(plugin_settings_query(plugin_id), {})
        return PluginConfig(
            settings=plugin_settings_from_answer(answer, plugin_id),
            stash_version=stash_version_from_answer(answer),
        )

    async def plugin_settings(self, plugin_id: str = PLUGIN_ID) -> dict[str, object]:
        """The settings the user saved for `plugin_id` (`{}` if none)."""
        return (await self.plugin_config(plugin_id)).settings

    async def fetch_api_key(self) -> str | None:
        """Stash's API key, or None when the user has not generated one."""
        data = await self._query(API_KEY_QUERY, {})
        try:
            api_key = data["configuration"]["general"]["apiKey"]
        except (KeyError, TypeError) as exc:
            raise StashUnavailable("Stash answered the API key query without a key.") from exc
        return api_key if isinstance(api_key, str) and api_key else None

    async def fetch_screenshot(self, url: str) -> Image | None:
        """The screenshot at `url` (a scene's `screenshot_url`), or None when Stash has none.

        Fetched from the connection Stash gave the plugin, with its credentials, whatever origin
        the URL names: with `external_host` set, Stash writes that origin into every scene's
        `paths.screenshot`, and the plugin may not reach it (nor should it send credentials
        there). Only the URL's `/scene/…` path and its query are kept.
        """
        response = await self._send("GET", self._rebased(url), scene_request=True)
        status = response.status_code
        if status == 404 or (400 <= status < 500 and status not in (401, 403)):
            # A scene without a usable screenshot: sync the rest, skip the poster.
            return None
        if status != 200:
            where = response.headers.get("location", "")
            raise StashSceneError(
                f"Stash answered HTTP {status} for a scene screenshot"
                + (f" (a redirect to {where[:200]!r})" if where else "")
                + "; PlexSync tries this scene again later."
            )
        content_type = response.headers.get("content-type", "")
        return Image(data=response.content, content_type=content_type)

    def _rebased(self, url: str) -> str:
        """`url`'s path (from its `/scene/` part: a proxy prefix is dropped) and query, on the
        base URL of the connection Stash gave the plugin."""
        parts = urllib.parse.urlsplit(url)
        path = parts.path
        at = path.rfind("/scene/")
        if at > 0:
            path = path[at:]
        if not path.startswith("/"):
            raise StashUnavailable("Stash gave a screenshot URL that is not valid.")
        return self._conn.base_url + path + (f"?{parts.query}" if parts.query else "")

    async def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = await self._post_graphql(query, variables)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise StashUnavailable("Stash answered a query without data.")
        return data

    async def _post_graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one query; the decoded answer, which is 200, a JSON object and has no errors."""
        response = await self._send(
            "POST", self._conn.graphql_url, json={"query": query, "variables": variables}
        )
        try:
            answer = response.json()
        except ValueError as exc:
            raise StashUnavailable(
                f"Stash answered HTTP {response.status_code} with a body that is not JSON."
            ) from exc
        if response.status_code != 200 or not isinstance(answer, dict) or answer.get("errors"):
            raise StashUnavailable(graphql_failure_message(response.status_code, answer))
        return answer

    async def _send(
        self, method: str, url: str, *, json: object = None, scene_request: bool = False
    ) -> httpx.Response:
        """One request, retried once with the API key when Stash refuses the cookie.

        `scene_request`: a 5xx is about that scene's file (StashSceneError), not Stash's."""
        while True:
            api_key_used = self._use_api_key
            headers = {"Accept": "application/json"} if json is not None else {}
            headers.update(self._conn.auth_headers() if api_key_used else self._cookie_headers)
            response = await self._request(method, url, json=json, headers=headers)
            status = _refusal_status(response)
            if status is None:
                break
            if status != 401 or api_key_used or not self._conn.api_key:
                raise StashUnavailable(auth_refused_message(status, api_key_used=api_key_used))
            self._use_api_key = True
            logger.info("Stash refused the session cookie, so PlexSync now uses the API key.")
        if response.status_code >= 500 and scene_request:
            raise StashSceneError(
                f"Stash answered HTTP {response.status_code} for one scene's file; PlexSync "
                "tries this scene again later."
            )
        if response.status_code >= 500:
            raise StashUnavailable(
                f"Stash answered HTTP {response.status_code} (a server error); "
                "check Stash's log and try again."
            )
        return response

    async def _request(
        self, method: str, url: str, *, json: object, headers: dict[str, str]
    ) -> httpx.Response:
        try:
            return await self._http.request(
                method, url, json=json, headers=headers, follow_redirects=False
            )
        except httpx.TimeoutException as exc:
            raise StashUnavailable(
                f"Stash at {self._origin} did not answer in time ({type(exc).__name__}); "
                "check that Stash is running and not overloaded."
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise StashUnavailable(
                f"Could not reach Stash at {self._origin} ({type(exc).__name__}); "
                "check that Stash is running."
            ) from exc


_ENTITY_FILTERS = {"tag": "tags", "performer": "performers", "studio": "studios"}


def _refusal_status(response: httpx.Response) -> int | None:
    """401/403 when Stash refused the credentials, else None.

    Stash answers an unauthenticated request for a page without a file extension (such as
    `/scene/1/screenshot`) with a redirect to its login page rather than 401.
    """
    if response.status_code in (401, 403):
        return response.status_code
    if response.is_redirect and "/login" in response.headers.get("Location", ""):
        return 401
    return None


def _updated_since_filter(since: datetime.datetime | None) -> dict[str, object] | None:
    if since is None:
        return None
    return {"updated_at": {"value": stash_local_time(since), "modifier": "GREATER_THAN"}}


def stash_local_time(moment: datetime.datetime) -> str:
    """`moment` as Stash compares timestamps in filters: "YYYY-MM-DD HH:MM:SS", local time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("updated_since must be a timezone-aware datetime")
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _scenes_page(data: dict[str, Any]) -> tuple[int, list[Any]]:
    try:
        result = data["findScenes"]
        count = int(result["count"])
        scenes = result["scenes"]
        if not isinstance(scenes, list):
            raise TypeError("scenes is not a list")
    except (KeyError, TypeError, ValueError) as exc:
        raise StashUnavailable(
            "Stash answered findScenes in a shape PlexSync cannot read."
        ) from exc
    return count, scenes


def _changes(scenes: list[Any]) -> list[SceneChange]:
    """A page's (id, updated_at) pairs; an entry without both readable is left out."""
    found = []
    for raw in scenes:
        try:
            updated = raw["updated_at"]
            if not isinstance(updated, str) or not updated:
                raise TypeError("no updated_at")
            found.append(SceneChange(id=int(raw["id"]), updated_at=updated))
        except (KeyError, TypeError, ValueError):
            logger.warning("Stash answered a scene without a readable id or time; left out.")
    return found


def _scene_ids(scenes: list[Any]) -> tuple[int, ...]:
    """The ids of a page; an entry without a readable id is left out with a warning."""
    ids = []
    for raw in scenes:
        try:
            ids.append(int(raw["id"]))
        except (KeyError, TypeError, ValueError):
            logger.warning("Stash answered a scene without a readable id; it is left out.")
    return tuple(ids)


def _scene_from_json(raw: Any) -> Scene:
    """Map a GraphQL Scene (as selected by `_SCENE_FRAGMENT`) onto `models.Scene`."""
    try:
        studio = raw.get("studio")
        paths = raw.get("paths") or {}
        performers = raw.get("performers") or ()
        tags = raw.get("tags") or ()
        return Scene(
            id=int(raw["id"]),
            title=_optional_str(raw.get("title")),
            details=_optional_str(raw.get("details")),
            date=_optional_str(raw.get("date")),
            studio=_optional_str(studio["name"]) if studio else None,
            performers=tuple(str(p["name"]) for p in performers),
            tags=tuple(str(t["name"]) for t in tags),
            files=tuple(str(f["path"]) for f in raw.get("files") or ()),
            screenshot_url=_optional_str(paths.get("screenshot")),
            updated_at=_optional_str(raw.get("updated_at")),
            entities=(
                *_entities("tag", tags),
                *_entities("performer", performers),
                *_entities("studio", [studio] if studio else []),
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        scene = raw.get("id") if isinstance(raw, dict) else None
        raise StashSceneError(
            f"Stash answered scene {str(scene)[:40] if scene is not None else '(no id)'} in a "
            "shape PlexSync cannot read."
        ) from exc


def _entities(kind: str, found: Any) -> tuple[tuple[str, int, str], ...]:
    """(kind, id, name) of each entity; one without a readable id is left out (a fan-out then
    does not find the scene through it, but a sync never fails for it)."""
    out = []
    for raw in found:
        try:
            out.append((kind, int(raw["id"]), str(raw["name"])))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(out)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
