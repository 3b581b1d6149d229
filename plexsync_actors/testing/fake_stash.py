"""A fake Stash: a real loopback HTTP server that answers GraphQL the way Stash does.

Every query is parsed, validated and executed by graphql-core against the vendored copy of
Stash's real schema (`stash_schema/`); a query Stash would reject is answered with a GraphQL
error (HTTP 422, like gqlgen) and recorded in `invalid_queries`, so a test can assert that none
happened. Authentication, the screenshot route and `updated_at` filtering follow Stash's source:
see `FakeStash._respond`, `_stored_time` and `_Root.findScenes`.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hmac
import http.cookies
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import graphql
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from plexsync_actors.testing.loopback import TrackingHTTPServer

SCHEMA_DIR = Path(__file__).resolve().parent / "stash_schema"
PLUGIN_ID = "PlexSync"
DEFAULT_SCREENSHOT = b"\xff\xd8\xff\xe0fake-jpeg"
_SCREENSHOT_PATH = re.compile(r"^/scene/(\d+)/screenshot$")
_UPDATABLE = frozenset(
    {"title", "details", "date", "studio", "performers", "tags", "files", "screenshot"}
)


def schema_sdl(directory: Path = SCHEMA_DIR) -> str:
    """`schema.graphql` and every `types/*.graphql` of a Stash schema folder, concatenated."""
    files = [directory / "schema.graphql", *sorted((directory / "types").glob("*.graphql"))]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


@functools.lru_cache(maxsize=4)
def load_stash_schema(directory: Path = SCHEMA_DIR) -> graphql.GraphQLSchema:
    """Stash's schema as graphql-core objects (its files declare all their custom scalars)."""
    return graphql.build_schema(schema_sdl(directory))


def query_errors(
    schema: graphql.GraphQLSchema, query: str, variables: dict[str, Any] | None = None
) -> list[str]:
    """Why Stash would reject `query` (with `variables`, when given): empty when it is valid."""
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError as exc:
        return [exc.message]
    errors = graphql.validate(schema, document)
    if errors:
        return [error.message for error in errors]
    if variables is None:
        return []
    operation = get_operation_ast(document)
    if operation is None:
        return ["the document must hold exactly one operation"]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    return [error.message for error in coerced] if isinstance(coerced, list) else []


class RecordedRequest(NamedTuple):
    """One request the fake received; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclasses.dataclass
class FakeScene:
    """A scene as the fake stores it; `FakeStash.scene()` hands out copies for asserts."""

    id: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    title: str = ""
    details: str = ""
    date: str | None = None
    studio: str | None = None
    performers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    screenshot: bytes | None = DEFAULT_SCREENSHOT
    screenshot_version: int = 1

    def __getitem__(self, name: str) -> Any:
        """`scene["title"]` reads like `scene.title`, for tests that treat scenes as dicts."""
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)


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
    ) -> None:
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
        self._lock = threading.Lock()
        self._scenes: dict[int, FakeScene] = {}
        self._names: dict[tuple[str, str], int] = {}
        self._root = _Root(self)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeStash:
        """Listen (on the port of the previous run when restarted)."""
        if self._server is None:
            # Build the schema before serving: concurrent first requests would each build it.
            load_stash_schema()
            self._server = _Server(("127.0.0.1", self._port), self)
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
        with self._lock:
            new_id = scene_id if scene_id is not None else max(self._scenes, default=0) + 1
            if new_id in self._scenes:
                raise ValueError(f"scene {new_id} already exists")
            self._scenes[new_id] = FakeScene(
                id=new_id, created_at=now, updated_at=now, title=title, details=details,
                date=date, studio=studio, performers=tuple(performers), tags=tuple(tags),
                files=tuple(files), screenshot=screenshot,
            )  # fmt: skip
        return new_id

    def update_scene(self, scene_id: int, **fields: Any) -> None:
        """Change fields as a save in Stash does: `updated_at` moves to now.

        A new `screenshot` also changes the `?t=` of the scene's screenshot URL.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise TypeError(f"FakeStash scenes have no field(s) {sorted(unknown)}")
        now = self._clock()
        with self._lock:
            scene = self._scenes[scene_id]
            for name in ("performers", "tags", "files"):
                if name in fields:
                    fields[name] = tuple(fields[name])
            if "screenshot" in fields and fields["screenshot"] != scene.screenshot:
                scene.screenshot_version += 1
            for name, value in fields.items():
                setattr(scene, name, value)
            scene.updated_at = now

    def delete_scene(self, scene_id: int) -> None:
        with self._lock:
            del self._scenes[scene_id]

    def scene(self, scene_id: int) -> FakeScene:
        """A copy of the stored scene."""
        with self._lock:
            return dataclasses.replace(self._scenes[scene_id])

    def screenshot_url(self, scene_id: int) -> str:
        """What `paths.screenshot` says for the scene now."""
        with self._lock:
            version = self._scenes[scene_id].screenshot_version
        return f"{self.url}/scene/{scene_id}/screenshot?t={version}"

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

    def _respond(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Reply:
        self.requests.append(RecordedRequest(method, target, headers, body))
        path = urllib.parse.urlsplit(target).path
        auth = self._auth(headers)
        screenshot = _SCREENSHOT_PATH.match(path)
        if auth == "refused" or (auth == "anonymous" and path == "/graphql"):
            # Stash answers 401 with no body at all.
            return _Reply(401, b"", "", {"WWW-Authenticate": "FormBased"})
        if method == "POST" and path == "/graphql":
            return self._graphql(body)
        if method == "GET" and screenshot:
            if auth == "anonymous":
                login = "/login?" + urllib.parse.urlencode({"returnURL": target})
                return _Reply(302, b"", "text/html; charset=utf-8", {"Location": login})
            with self._lock:
                scene = self._scenes.get(int(screenshot.group(1)))
                image = scene.screenshot if scene else None
            if image is not None:
                return _Reply(200, image, "image/jpeg")
        return _Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _graphql(self, body: bytes) -> _Reply:
        try:
            payload = json.loads(body)
            query = payload["query"]
            variables = payload.get("variables") or {}
            operation_name = payload.get("operationName")
        except (ValueError, KeyError, TypeError, AttributeError):
            self.invalid_queries.append(body.decode("utf-8", "replace"))
            return _json_reply(400, _errors(["json body could not be decoded"], "BAD_REQUEST"))
        schema = load_stash_schema()
        try:
            document = graphql.parse(query)
        except graphql.GraphQLError as exc:
            self.invalid_queries.append(query)
            return _json_reply(422, _errors([exc.message], "GRAPHQL_PARSE_FAILED"))
        messages = [error.message for error in graphql.validate(schema, document)]
        operation = get_operation_ast(document, operation_name) if not messages else None
        if operation is None and not messages:
            messages = [f"operation {operation_name!r} not found"]
        if operation is not None:
            coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
            if isinstance(coerced, list):
                messages = [error.message for error in coerced]
        if messages:
            self.invalid_queries.append(query)
            return _json_reply(422, _errors(messages, "GRAPHQL_VALIDATION_FAILED"))
        result = graphql.execute_sync(
            schema, document, root_value=self._root, variable_values=variables,
            operation_name=operation_name,
        )  # fmt: skip
        return _json_reply(200, dict(result.formatted))

    # -- GraphQL answers ---------------------------------------------------------------------

    def _entity(self, kind: str, name: str) -> dict[str, object]:
        """A studio, tag or performer with a stable id per name (callers hold `_lock`)."""
        key = (kind, name)
        entity_id = self._names.setdefault(key, len(self._names) + 1)
        return {"id": str(entity_id), "name": name, "aliases": [], "urls": [], "stash_ids": []}

    def _render(self, scene: FakeScene) -> dict[str, object]:
        """The scene as Stash's resolvers would answer it (callers hold `_lock`)."""
        base = f"{self.url}/scene/{scene.id}"
        return {
            "id": str(scene.id), "title": scene.title, "code": "", "details": scene.details,
            "director": "", "url": None, "urls": [], "date": scene.date, "rating100": None,
            "organized": False, "o_counter": 0, "interactive": False, "interactive_speed": None,
            "captions": [], "created_at": _rfc3339(scene.created_at),
            "updated_at": _rfc3339(scene.updated_at), "last_played_at": None,
            "resume_time": 0.0, "play_duration": 0.0, "play_count": 0, "play_history": [],
            "o_history": [], "files": [_file(scene, n, p) for n, p in enumerate(scene.files)],
            "paths": {
                "screenshot": f"{base}/screenshot?t={scene.screenshot_version}",
                "preview": f"{base}/preview", "stream": f"{base}/stream", "webp": f"{base}/webp",
                "vtt": f"{base}_thumbs.vtt", "sprite": f"{base}_sprite.jpg",
                "funscript": f"{base}/funscript", "interactive_heatmap": None,
                "caption": f"{base}/caption",
            },
            "scene_markers": [], "galleries": [], "groups": [], "movies": [], "stash_ids": [],
            "sceneStreams": [],
            "studio": self._entity("studio", scene.studio) if scene.studio else None,
            "tags": [self._entity("tag", name) for name in scene.tags],
            "performers": [self._entity("performer", name) for name in scene.performers],
        }  # fmt: skip

    def _plugins(self, include: list[str] | None) -> dict[str, object]:
        # Stash stores (and returns) only plugins whose settings were saved at least once.
        settings = json.loads(json.dumps(self.plugin_settings))
        configs = {PLUGIN_ID: settings} if settings else {}
        return {k: v for k, v in configs.items() if include is None or k in include}


class _Root:
    """graphql-core root value: attribute names are Stash's query field names."""

    def __init__(self, fake: FakeStash) -> None:
        self._fake = fake

    def findScene(
        self, info: object, id: str | None = None, checksum: str | None = None
    ) -> dict[str, object] | None:
        if checksum is not None:
            raise ValueError("the fake Stash finds scenes by id only")
        scene_id = int(id) if id is not None else None
        with self._fake._lock:
            scene = self._fake._scenes.get(scene_id) if scene_id is not None else None
            return self._fake._render(scene) if scene else None

    def findScenes(
        self,
        info: object,
        scene_filter: dict[str, Any] | None = None,
        scene_ids: list[int] | None = None,
        ids: list[str] | None = None,
        filter: dict[str, Any] | None = None,
    ) -> dict[str, object]:
        find = filter or {}
        if find.get("q"):
            raise ValueError("the fake Stash does not support filter.q")
        with self._fake._lock:
            scenes = list(self._fake._scenes.values())
            wanted = ids if ids is not None else scene_ids
            if wanted is not None:
                id_set = {int(x) for x in wanted}
                scenes = [s for s in scenes if s.id in id_set]
            for field, criterion in (scene_filter or {}).items():
                scenes = [s for s in scenes if _matches(s, field, criterion)]
            scenes.sort(key=_sort_key(find.get("sort") or "title"))
            if find.get("direction") == "DESC":
                scenes.reverse()
            page = _page(scenes, find.get("page"), find.get("per_page"))
            return {
                "count": len(scenes), "duration": 0.0, "filesize": 0.0,
                "scenes": [self._fake._render(s) for s in page],
            }  # fmt: skip

    def configuration(self, info: object) -> dict[str, object]:
        fake = self._fake
        return {
            "general": {"apiKey": fake.api_key},
            "plugins": lambda info, include=None: fake._plugins(include),
            "ui": {},
        }


def _matches(scene: FakeScene, field: str, criterion: dict[str, Any]) -> bool:
    """Stash filters `updated_at` with SQL on the stored *text*: `updated_at > 'value'`."""
    if field not in ("updated_at", "created_at"):
        raise ValueError(f"the fake Stash does not support scene_filter.{field}")
    stored = _stored_time(getattr(scene, field))
    value, value2 = criterion["value"], criterion.get("value2")
    modifier = criterion["modifier"]
    tests: dict[str, Callable[[], bool]] = {
        "GREATER_THAN": lambda: stored > value,
        "LESS_THAN": lambda: stored < value,
        "EQUALS": lambda: stored == value,
        "NOT_EQUALS": lambda: stored != value,
        "NOT_NULL": lambda: True,
        "IS_NULL": lambda: False,
        "BETWEEN": lambda: value2 is not None and value <= stored <= value2,
        "NOT_BETWEEN": lambda: value2 is not None and not value <= stored <= value2,
    }
    if modifier not in tests:
        raise ValueError(f"the fake Stash does not support modifier {modifier} on {field}")
    return tests[modifier]()


def _sort_key(sort: str) -> Callable[[FakeScene], tuple[Any, ...]]:
    keys: dict[str, Callable[[FakeScene], tuple[Any, ...]]] = {
        "updated_at": lambda s: (s.updated_at, s.id),
        "created_at": lambda s: (s.created_at, s.id),
        "id": lambda s: (s.id,),
        "title": lambda s: (s.title.lower(), s.id),
    }
    if sort not in keys:
        raise ValueError(f"the fake Stash does not support sort {sort!r}")
    return keys[sort]


def _page(scenes: list[FakeScene], page: int | None, per_page: int | None) -> list[FakeScene]:
    """Stash's paging: 1-based pages, 25 per page by default, -1 = all, at most 1000."""
    size = 25 if per_page is None else min(per_page, 1000)
    if size < 0:
        return scenes
    start = (max(page or 1, 1) - 1) * size
    return scenes[start : start + size]


def _file(scene: FakeScene, index: int, path: str) -> dict[str, object]:
    return {
        "id": str(scene.id * 1000 + index), "path": path,
        "basename": re.split(r"[\\/]", path)[-1], "parent_folder_id": "1", "zip_file_id": None,
        "mod_time": _rfc3339(scene.created_at), "size": 0, "fingerprints": [],
        "fingerprint": lambda info, type: None, "format": "mp4", "width": 1920,
        "height": 1080, "duration": 60.0, "video_codec": "h264", "audio_codec": "aac",
        "frame_rate": 30.0, "bit_rate": 0, "created_at": _rfc3339(scene.created_at),
        "updated_at": _rfc3339(scene.updated_at),
    }  # fmt: skip


def _stored_time(moment: datetime.datetime) -> str:
    """How Stash's SQLite driver stores a time: local, "2006-01-02 15:04:05.999999999-07:00"."""
    local = moment.astimezone()
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S") + _fraction(local) + f"{offset[:3]}:{offset[3:]}"


def _rfc3339(moment: datetime.datetime) -> str:
    """How Stash renders a `Time`: Go's RFC3339Nano in the stored (local) offset."""
    local = moment.astimezone()
    offset = local.strftime("%z")
    zone = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(local) + zone


def _fraction(moment: datetime.datetime) -> str:
    return f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _errors(messages: list[str], code: str) -> dict[str, object]:
    errors = [{"message": m, "extensions": {"code": code}} for m in messages]
    return {"errors": errors, "data": None}


class _Reply(NamedTuple):
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = {}  # noqa: RUF012 - NamedTuple defaults are never mutated


def _json_reply(status: int, answer: dict[str, object]) -> _Reply:
    return _Reply(status, json.dumps(answer).encode(), "application/json")


class _Server(TrackingHTTPServer):
    def __init__(self, address: tuple[str, int], fake: FakeStash) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection ends by itself
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        assert isinstance(self.server, _Server)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.fake._respond(method, self.path, headers, body)
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # tests read `FakeStash.requests` instead of a log
