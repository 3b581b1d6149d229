"""The fake Stash's GraphQL side: Stash's real schema, its validation, and the resolvers.

Every query is parsed, validated and executed by graphql-core against a vendored copy of Stash's
real schema (`stash_schemas/<release>/`, or `head/`); `updated_at` filtering follows Stash's SQL
on stored text (`_time_test`, `_stored_time`), the tag, performer and studio filters its SQL
builders (`fake_stash_entities.entity_test`). The HTTP side and the scene store are
`fake_stash.FakeStash`.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import operator
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import graphql
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from plexsync_actors.testing.fake_stash_entities import entity_test, id_test

if TYPE_CHECKING:
    from plexsync_actors.testing.fake_stash import FakeStash

SCHEMAS_DIR = Path(__file__).resolve().parent / "stash_schemas"
SCHEMA_DIR = SCHEMAS_DIR / "head"  # the development head, as `../shared/stash-graphql`
# Every release vendored, oldest first; "head" is the development head after the newest one.
RELEASES: tuple[str, ...] = tuple(
    sorted(
        (p.name for p in SCHEMAS_DIR.iterdir() if p.name.startswith("v")),
        key=lambda tag: tuple(int(n) for n in tag[1:].split(".")),
    )
)
HEAD_VERSION = "v0.30.1-24-gcf3489e"  # what `version { version }` says on a head build


def schema_folder(schema: str) -> Path:
    """The vendored schema folder of a release tag ("v0.26.2") or "head"."""
    if schema != "head" and schema not in RELEASES:
        raise ValueError(f"no vendored Stash schema {schema!r}: one of head, {', '.join(RELEASES)}")
    return SCHEMAS_DIR / schema


def version_tuple(version: str) -> tuple[int, int, int]:
    """(0, 26, 2) for "v0.26.2" or a build after it ("v0.26.2-12-gabc")."""
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"not a Stash version: {version!r}")
    major, minor, patch = (int(n) for n in match.groups())
    return major, minor, patch
DEFAULT_SCREENSHOT = b"\xff\xd8\xff\xe0fake-jpeg"
# What Stash serves for a scene without a cover (its own is an icon; this one is ours).
PLACEHOLDER_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1280 720">'
    b'<circle cx="640" cy="360" r="120" fill="#888"/></svg>\n'
)


def schema_sdl(directory: Path = SCHEMA_DIR) -> str:
    """`schema.graphql` and every `types/*.graphql` of a Stash schema folder, concatenated."""
    files = [directory / "schema.graphql", *sorted((directory / "types").glob("*.graphql"))]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


@functools.lru_cache(maxsize=16)
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


def answer_graphql(
    body: bytes, root: object, invalid_queries: list[str], schema: graphql.GraphQLSchema
) -> tuple[int, dict[str, object]]:
    """Validate and run one GraphQL request body as gqlgen does: (HTTP status, JSON answer).

    A query Stash would reject is answered with an error and appended to `invalid_queries`."""
    try:
        payload = json.loads(body)
        query = payload["query"]
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName")
    except (ValueError, KeyError, TypeError, AttributeError):
        invalid_queries.append(body.decode("utf-8", "replace"))
        return 400, _errors(["json body could not be decoded"], "BAD_REQUEST")
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError as exc:
        invalid_queries.append(query)
        return 422, _errors([exc.message], "GRAPHQL_PARSE_FAILED")
    messages = [error.message for error in graphql.validate(schema, document)]
    operation = get_operation_ast(document, operation_name) if not messages else None
    if operation is None and not messages:
        messages = [f"operation {operation_name!r} not found"]
    if operation is not None:
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            messages = [error.message for error in coerced]
    if messages:
        invalid_queries.append(query)
        return 422, _errors(messages, "GRAPHQL_VALIDATION_FAILED")
    result = graphql.execute_sync(
        schema, document, root_value=root, variable_values=variables,
        operation_name=operation_name,
    )  # fmt: skip
    return 200, dict(result.formatted)


def sniff_image_type(data: bytes) -> str:
    """The content type Stash names for an image it serves: Go's `http.DetectContentType`,
    with text (an SVG) named `image/svg+xml` (Stash's `utils.ServeImage`)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:14] == b"WEBPVP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "image/svg+xml"


def render_scene(
    scene: FakeScene, url: str, entity: Callable[[str, str], dict[str, object]]
) -> dict[str, object]:
    """The scene as Stash's resolvers would answer it; `entity(kind, name)` gives a tag etc."""
    base = f"{url}/scene/{scene.id}"
    return {
        "id": str(scene.id), "title": scene.title, "code": "", "details": scene.details,
        "director": "", "url": None, "urls": [], "date": scene.date, "rating100": None,
        "organized": False, "o_counter": 0, "interactive": False, "interactive_speed": None,
        "captions": [], "created_at": rfc3339(scene.created_at),
        "updated_at": rfc3339(scene.updated_at), "last_played_at": None,
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
        "studio": entity("studio", scene.studio) if scene.studio else None,
        "tags": [entity("tag", name) for name in scene.tags],
        "performers": [entity("performer", name) for name in scene.performers],
    }  # fmt: skip


_Resolver = TypeVar("_Resolver", bound=Callable[..., Any])
_ENTITY_FILTERS = {"tags": "tag", "performers": "performer", "studios": "studio"}


def _root_field(resolver: _Resolver) -> _Resolver:
    """Count a root field in `FakeStash.graphql_calls` and sleep its `delays` before answering."""

    @functools.wraps(resolver)
    def counted(self: StashRoot, info: Any, **args: Any) -> Any:  # info: GraphQLResolveInfo
        self._fake.root_field_called(info.field_name)
        return resolver(self, info, **args)

    return cast(_Resolver, counted)


class StashRoot:
    """graphql-core root value: attribute names are Stash's query field names."""

    def __init__(self, fake: FakeStash) -> None:
        self._fake = fake

    @_root_field
    def findScene(
        self, info: object, id: str | None = None, checksum: str | None = None
    ) -> dict[str, object] | None:
        if checksum is not None:
            raise ValueError("the fake Stash finds scenes by id only")
        scene_id = int(id) if id is not None else None
        with self._fake.lock:
            scene = self._fake.scenes.get(scene_id) if scene_id is not None else None
            return self._fake.render(scene) if scene else None

    @_root_field
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
        with self._fake.lock:
            scenes = list(self._fake.scenes.values())
            wanted = ids if ids is not None else scene_ids
            if wanted is not None:
                id_set = {int(x) for x in wanted}
                scenes = [s for s in scenes if s.id in id_set]
            # Criteria are ANDed, as Stash's filterBuilder joins its where clauses.
            for field, criterion in (scene_filter or {}).items():
                if criterion is not None:
                    test = self._scene_test(field, criterion)
                    scenes = [s for s in scenes if test(s)]
            scenes.sort(key=_sort_key(find.get("sort") or "title"))
            if find.get("direction") == "DESC":
                scenes.reverse()
            page = _page(scenes, find.get("page"), find.get("per_page"))
            return {
                "count": len(scenes), "duration": 0.0, "filesize": 0.0,
                "scenes": [self._fake.render(s) for s in page],
            }  # fmt: skip

    @_root_field
    def findTag(self, info: object, id: str) -> dict[str, object] | None:
        return self._fake.find_entity("tag", id)

    @_root_field
    def findPerformer(self, info: object, id: str) -> dict[str, object] | None:
        return self._fake.find_entity("performer", id)

    @_root_field
    def findStudio(self, info: object, id: str) -> dict[str, object] | None:
        return self._fake.find_entity("studio", id)

    @_root_field
    def version(self, info: object) -> dict[str, object]:
        return {"version": self._fake.version, "hash": "cf3489e", "build_time": "2026-01-01"}

    @_root_field
    def configuration(self, info: object) -> dict[str, object]:
        fake = self._fake
        return {
            "general": {"apiKey": fake.api_key},
            "plugins": lambda info, include=None: fake.plugins(include),
            "ui": {},
        }

    def _scene_test(self, field: str, criterion: dict[str, Any]) -> Callable[[FakeScene], bool]:
        """One `scene_filter` criterion as a test of a scene (callers hold the lock)."""
        if field in ("updated_at", "created_at"):
            return _time_test(field, criterion)
        if field == "id":
            return id_test(criterion)
        kind = _ENTITY_FILTERS.get(field)
        if kind is None:
            raise ValueError(f"the fake Stash does not support scene_filter.{field}")
        entities = self._fake.entities
        names = entities.ids_to_names(kind, criterion.get("value"))
        excluded = entities.ids_to_names(kind, criterion.get("excludes"))
        return entity_test(kind, criterion, names, excluded)


def _time_test(field: str, criterion: dict[str, Any]) -> Callable[[FakeScene], bool]:
    """Stash filters `updated_at` with SQL on the stored *text*: `updated_at > 'value'`."""
    value, value2 = criterion["value"], criterion.get("value2")
    modifier = criterion["modifier"]
    tests: dict[str, Callable[[str], bool]] = {
        "GREATER_THAN": lambda stored: stored > value,
        "LESS_THAN": lambda stored: stored < value,
        "EQUALS": lambda stored: stored == value,
        "NOT_EQUALS": lambda stored: stored != value,
        "NOT_NULL": lambda stored: True,
        "IS_NULL": lambda stored: False,
        "BETWEEN": lambda stored: value2 is not None and value <= stored <= value2,
        "NOT_BETWEEN": lambda stored: value2 is not None and not value <= stored <= value2,
    }
    if modifier not in tests:
        raise ValueError(f"the fake Stash does not support modifier {modifier} on {field}")
    compare, moment, zone = tests[modifier], operator.attrgetter(field), time.tzname
    return lambda scene: compare(_stored_text(moment(scene), zone))


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
    """Stash's paging: 1-based pages, 25 per page by default, -1 = all, and no upper bound
    (Stash dropped its cap of 1000 in v0.20.0: `FindFilterType.GetPageSize`)."""
    size = 25 if per_page is None else per_page
    if size < 0:
        return scenes
    start = (max(page or 1, 1) - 1) * size
    return scenes[start : start + size]


def _file(scene: FakeScene, index: int, path: str) -> dict[str, object]:
    return {
        "id": str(scene.id * 1000 + index), "path": path,
        "basename": re.split(r"[\\/]", path)[-1], "parent_folder_id": "1", "zip_file_id": None,
        "mod_time": rfc3339(scene.created_at), "size": 0, "fingerprints": [],
        "fingerprint": lambda info, type: None, "format": "mp4", "width": 1920,
        "height": 1080, "duration": 60.0, "video_codec": "h264", "audio_codec": "aac",
        "frame_rate": 30.0, "bit_rate": 0, "created_at": rfc3339(scene.created_at),
        "updated_at": rfc3339(scene.updated_at),
    }  # fmt: skip


@functools.lru_cache(maxsize=1 << 18)
def _stored_text(moment: datetime.datetime, zone: tuple[str, str]) -> str:
    """`_stored_time`, remembered: filtering 100,000 scenes would format each one per page.
    `zone` (`time.tzname`) is in the key so a test that changes the local zone is not misled."""
    return _stored_time(moment)


def _stored_time(moment: datetime.datetime) -> str:
    """How Stash's SQLite driver stores a time: local, "2006-01-02 15:04:05.999999999-07:00"."""
    local = moment.astimezone()
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S") + _fraction(local) + f"{offset[:3]}:{offset[3:]}"


def rfc3339(moment: datetime.datetime) -> str:
    """How Stash renders a `Time`: Go's RFC3339Nano in the stored (local) offset."""
    local = moment.astimezone()
    offset = local.strftime("%z")
    zone = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(local) + zone


def _fraction(moment: datetime.datetime) -> str:
    return f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""


def _errors(messages: list[str], code: str) -> dict[str, object]:
    errors = [{"message": m, "extensions": {"code": code}} for m in messages]
    return {"errors": errors, "data": None}


