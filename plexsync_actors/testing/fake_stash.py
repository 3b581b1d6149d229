"""A fake Stash: a real loopback HTTP server that answers GraphQL the way Stash does.

Queries are validated and executed against Stash's real schema by `fake_stash_graphql`; a query
Stash would reject is answered with a GraphQL error (HTTP 422, like gqlgen) and recorded in
`invalid_queries`, so a test can assert that none happened. Authentication and the screenshot
route follow Stash's source: see `FakeStash._respond`. Tags, performers and studios are objects
with stable ids (`fake_stash_entities`) that tests rename, merge and delete as Stash's users do.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import hmac
import http.cookies
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple

from plexsync_actors.testing.fake_stash_entities import EntityStore, Hook, update_hook
from plexsync_actors.testing.fake_stash_graphql import (
    DEFAULT_SCREENSHOT,
    HEAD_VERSION,
    PLACEHOLDER_SVG,
    FakeScene,
    StashRoot,
    answer_graphql,
    load_stash_schema,
    render_scene,
    rfc3339,
    schema_folder,
    sniff_image_type,
    version_tuple,
)
from plexsync_actors.testing.fake_stash_http import Reply, StashServer, json_reply

PLUGIN_ID = "PlexSync"
_SCREENSHOT_PATH = re.compile(r"^/scene/(\d+)/screenshot$")
_UPDATABLE = frozenset(
    {"title", "details", "date", "studio", "performers", "tags", "files", "screenshot"}
)


class RecordedRequest(NamedTuple):
    """One request the fake received; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class FakeStash:
    """A Stash GraphQL server on 127.0.0.1 for tests; use as a context manager."""

    def __init__(
        self,
        *,
        plugin_settings: dict[str, object] | None = None,
        api_key: str = "",
        require_auth: bool = False,
        cookie: tuple[str, str] = ("session", "stash-session-cookie"),
        stash_dir: str = "",
        plugin_dir: str = "",
        port: int = 0,
        clock: Callable[[], datetime.datetime] = _utc_now,
        schema: str = "head",
        version: str | None = None,
        external_host: str = "",
    ) -> None:
        """`schema` is the Stash release whose GraphQL schema the fake serves ("v0.26.2") or
        "head"; `version` what it reports as its version (by default, that release's).
        `external_host` plays Stash's setting of that name: the origin written into every URL
        Stash hands out (`paths.screenshot` …), which need not be reachable."""
        self.external_host = external_host.rstrip("/")
        self.schema_dir = schema_folder(schema)
        self.version = version or (HEAD_VERSION if schema == "head" else schema)
        self.plugin_settings: dict[str, object] = dict(plugin_settings or {})
        self.api_key = api_key
        self.require_auth = require_auth
        self.cookie = cookie
        self.stash_dir = stash_dir
        self.plugin_dir = plugin_dir
        self.requests: list[RecordedRequest] = []
        self.invalid_queries: list[str] = []
        self._port = port
        self._clock = clock
        self._cookie_expired = False
        self.lock = threading.Lock()
        self.scenes: dict[int, FakeScene] = {}
        self._top_scene_id = 0  # max(scenes), kept: recomputing it made adding n scenes O(n²)
        self.entities = EntityStore(self.scenes, self.lock)
        # Seconds to sleep before answering a root field, so a test can catch a run mid-way.
        self.delays: dict[str, float] = {}
        self.graphql_calls: collections.Counter[str] = collections.Counter()
        self._server: StashServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeStash:
        """Listen (on the port of the previous run when restarted)."""
        if self._server is None:
            # Build the schema before serving: concurrent first requests would each build it.
            load_stash_schema(self.schema_dir)
            self._server = StashServer(("127.0.0.1", self._port), self)
            self._port = self._server.server_address[1]
            # A short poll interval makes `stop` (which waits for the next poll) quick.
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.02,), name="fake-stash", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection: clients now get connection refused."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if thread is not None:
            thread.join()

    def set_down(self, down: bool) -> None:
        """Refuse connections (`True`) or listen again on the same port (`False`)."""
        if down:
            self.stop()
        else:
            self.start()

    def __enter__(self) -> FakeStash:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("FakeStash has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def public_url(self) -> str:
        """The origin of the URLs Stash hands out: `external_host` when set."""
        return self.external_host or self.url

    def server_connection(self) -> dict[str, object]:
        """The `server_connection` object Stash puts in a plugin's input."""
        name, value = self.cookie
        session_cookie = {
            "Name": name, "Value": value, "Path": "", "Domain": "",
            "Expires": "0001-01-01T00:00:00Z", "MaxAge": 0, "Secure": False, "HttpOnly": False,
            "SameSite": 0, "Raw": "", "RawExpires": "", "Unparsed": None,
        }  # fmt: skip
        return {
            "Scheme": "http",
            "Host": "127.0.0.1",
            "Port": self.port,
            "SessionCookie": session_cookie if self.require_auth else None,
            "Dir": self.stash_dir,
            "PluginDir": self.plugin_dir,
        }

    def expire_cookie(self) -> None:
        """From now on the session cookie is refused; the `ApiKey` header still works."""
        self._cookie_expired = True

    # -- scenes ------------------------------------------------------------------------------

    def add_scene(
        self,
        scene_id: int | None = None,
        *,
        title: str = "",
        details: str = "",
        date: str | None = None,
        studio: str | None = None,
        performers: Iterable[str] = (),
        tags: Iterable[str] = (),
        files: Iterable[str] = (),
        screenshot: bytes | None = DEFAULT_SCREENSHOT,
    ) -> int:
        """Create a scene (with the next free id unless given) and return its id."""
        now = self._clock()
        with self.lock:
            new_id = scene_id if scene_id is not None else self._top_scene_id + 1
            if scene_id is None and new_id in self.scenes:  # stored behind add_scene's back
                new_id = max(self.scenes) + 1
            if new_id in self.scenes:
                raise ValueError(f"scene {new_id} already exists")
            performers, tags = tuple(performers), tuple(tags)
            self.entities.register_scene(now, studio=studio, performers=performers, tags=tags)
            self.scenes[new_id] = FakeScene(
                id=new_id, created_at=now, updated_at=now, title=title, details=details,
                date=date, studio=studio, performers=performers, tags=tags,
                files=tuple(files), screenshot=screenshot,
            )  # fmt: skip
            self._top_scene_id = max(self._top_scene_id, new_id)
        return new_id

    def update_scene(self, scene_id: int, **fields: Any) -> None:
        """Change fields as a save in Stash does: `updated_at` moves to now.

        A new `screenshot` also changes the `?t=` of the scene's screenshot URL.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise TypeError(f"FakeStash scenes have no field(s) {sorted(unknown)}")
        now = self._clock()
        with self.lock:
            scene = self.scenes[scene_id]
            for name in ("performers", "tags", "files"):
                if name in fields:
                    fields[name] = tuple(fields[name])
            self.entities.register_scene(now, **fields)
            if "screenshot" in fields and fields["screenshot"] != scene.screenshot:
                scene.screenshot_version += 1
            for name, value in fields.items():
                setattr(scene, name, value)
            scene.updated_at = now

    def delete_scene(self, scene_id: int) -> None:
        with self.lock:
            del self.scenes[scene_id]
            if scene_id == self._top_scene_id:  # the next new scene takes the freed id again
                self._top_scene_id = max(self.scenes, default=0)

    def scene(self, scene_id: int) -> FakeScene:
        """A copy of the stored scene."""
        with self.lock:
            return dataclasses.replace(self.scenes[scene_id])

    def screenshot_url(self, scene_id: int) -> str:
        """What `paths.screenshot` says for the scene now."""
        with self.lock:
            version = self.scenes[scene_id].screenshot_version
        return f"{self.public_url}/scene/{scene_id}/screenshot?t={version}"

    # -- tags, performers, studios ----------------------------------------------------------

    def entity_id(self, kind: str, name: str) -> int:
        """The id of the "tag", "performer" or "studio" of that name; KeyError if there is none."""
        with self.lock:
            return self.entities.find(kind, name).id

    def entity_name(self, kind: str, entity_id: int) -> str | None:
        with self.lock:
            entity = self.entities.get(kind, entity_id)
            return entity.name if entity else None

    def rename_entity(self, kind: str, old_name: str, new_name: str) -> Hook:
        """Rename as Stash's edit form does: same id, every scene shows the new name, and no
        scene's `updated_at` moves. Returns the `hookContext` of `<Kind>.Update.Post`."""
        return self.update_entity(kind, old_name, name=new_name)

    def update_entity(self, kind: str, name: str, /, **fields: Any) -> Hook:
        """`tagUpdate` (etc.) sending `fields`, a `TagUpdateInput`'s keys; `name=` renames
        (ValueError if another entity has that name). Returns its `hookContext`."""
        now = self._clock()
        with self.lock:
            entity = self.entities.find(kind, name)
            schema = load_stash_schema(self.schema_dir)
            hook = update_hook(schema, version_tuple(self.version), kind, entity.id, fields)
            self.entities.update(kind, name, fields, now)
        return hook

    def merge_tags(self, sources: list[str], destination: str) -> Hook:
        """`tagsMerge`: scenes with a source tag get the destination instead (scenes'
        `updated_at` stays); the sources cease to exist. Returns `Tag.Merge.Post`'s context."""
        with self.lock:
            return self.entities.merge_tags(sources, destination)

    def delete_entity(self, kind: str, name: str) -> Hook:
        """`tagDestroy` (etc.): scenes lose the entity, their `updated_at` stays. Returns the
        `hookContext` of `<Kind>.Destroy.Post`."""
        with self.lock:
            return self.entities.delete(kind, name)

    def find_entity(self, kind: str, raw_id: str) -> dict[str, object] | None:
        """`findTag(id)` (etc.): the entity as Stash answers it, or None."""
        with self.lock:
            entity = self.entities.get(kind, int(raw_id))
            return self._entity(kind, entity.name) if entity else None

    def root_field_called(self, field: str) -> None:
        """Count a GraphQL root field and sleep the delay a test set for it."""
        with self.lock:
            self.graphql_calls[field] += 1
            delay = self.delays.get(field, 0.0)
        if delay > 0:
            time.sleep(delay)  # on the request's own server thread: the test stalls one reply

    # -- HTTP --------------------------------------------------------------------------------

    def _auth(self, headers: dict[str, str]) -> str:
        """Classify a request as Stash does: "ok", "refused" (wrong API key) or "anonymous"."""
        api_key = headers.get("apikey", "")
        if api_key:
            valid = bool(self.api_key) and _same(api_key, self.api_key)
            return "ok" if valid else "refused"
        if not self.require_auth:
            return "ok"
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except http.cookies.CookieError:
            return "anonymous"
        name, value = self.cookie
        morsel = jar.get(name)
        if morsel is None or self._cookie_expired or not _same(morsel.value, value):
            return "anonymous"
        return "ok"

    def _respond(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        self.requests.append(RecordedRequest(method, target, headers, body))
        path = urllib.parse.urlsplit(target).path
        auth = self._auth(headers)
        screenshot = _SCREENSHOT_PATH.match(path)
        if auth == "refused" or (auth == "anonymous" and path == "/graphql"):
            # Stash answers 401 with no body at all.
            return Reply(401, b"", "", {"WWW-Authenticate": "FormBased"})
        if method == "POST" and path == "/graphql":
            return self._graphql(body)
        if method == "GET" and screenshot:
            if auth == "anonymous":
                login = "/login?" + urllib.parse.urlencode({"returnURL": target})
                return Reply(302, b"", "text/html; charset=utf-8", {"Location": login})
            with self.lock:
                scene = self.scenes.get(int(screenshot.group(1)))
                # Stash serves its placeholder SVG, with 200, for a scene without a cover.
                image = None if scene is None else scene.screenshot or PLACEHOLDER_SVG
            if image is not None:
                return Reply(200, image, sniff_image_type(image))
        return Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _graphql(self, body: bytes) -> Reply:
        schema = load_stash_schema(self.schema_dir)
        status, answer = answer_graphql(body, StashRoot(self), self.invalid_queries, schema)
        return json_reply(status, answer)

    # -- GraphQL answers ---------------------------------------------------------------------

    def render(self, scene: FakeScene) -> dict[str, object]:
        """The scene as Stash's resolvers would answer it (callers hold `lock`)."""
        return render_scene(scene, self.public_url, self._entity)

    def _entity(self, kind: str, name: str) -> dict[str, object]:
        """A studio, tag or performer as Stash answers it (callers hold `lock`)."""
        schema = load_stash_schema(self.schema_dir)
        return self.entities.render(kind, name, schema, rfc3339, self._clock)

    def plugins(self, include: list[str] | None) -> dict[str, object]:
        # Stash stores (and returns) only plugins whose settings were saved at least once.
        settings = json.loads(json.dumps(self.plugin_settings))
        if version_tuple(self.version) < (0, 26, 0):
            # Before v0.26.0 Stash's config layer (viper) hands keys back in camelCase.
            settings = {_camel(key): value for key, value in settings.items()}
        configs = {PLUGIN_ID: settings} if settings else {}
        return {k: v for k, v in configs.items() if include is None or k in include}


def _camel(key: str) -> str:
    first, *rest = key.split("_")
    return first + "".join(part.title() for part in rest)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
