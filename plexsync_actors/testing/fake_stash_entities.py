"""The fake Stash's tags, performers and studios: objects with stable ids, as in Stash's tables.

Scenes keep showing entity *names* (`FakeScene.tags` …) so tests read naturally; `EntityStore`
gives each (kind, name) an id when first seen and keeps every scene consistent when an entity is
renamed, merged or deleted, answering with the `hookContext` Stash would hand a plugin for it.
Callers hold `FakeStash.lock` for every method here except the count resolvers of `render`.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import graphql
from graphql.utilities import coerce_input_value

if TYPE_CHECKING:
    from plexsync_actors.testing.fake_stash_graphql import FakeScene

KINDS = ("tag", "performer", "studio")
_TYPE_NAMES = {"tag": "Tag", "performer": "Performer", "studio": "Studio"}
# Legacy keys of Stash's hand-written `models.PerformerUpdateInput` (pkg/models/performer.go)
# that the schema dropped: Go still marshals them, as null, into every hook's input.
_GO_ONLY_KEYS = {"performer": ("height", "aliases")}
# Fields that are Go *value* structs there (`CustomFieldsInput`): never null, only their keys are.
_GO_VALUE_STRUCTS = {"performer": ("custom_fields",)}
# From v0.27.0 (gqlgen >= 0.17.27) generated input models tag nullable fields `omitempty`;
# `TagUpdateInput` is generated, the performer and studio inputs are hand-written without it.
_OMITEMPTY_SINCE = (0, 27, 0)
# Update fields whose input shape is not the answer's: the fake does not echo them back.
_NOT_ECHOED = frozenset({"stash_ids", "custom_fields", "image"})

Hook = dict[str, Any]
Clock = Callable[[], datetime.datetime]
Timestamp = Callable[[datetime.datetime], str]


@dataclasses.dataclass
class FakeEntity:
    """One tag, performer or studio; `fields` holds what `update_entity` set (description …)."""

    kind: str
    id: int
    name: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    rendered: dict[str, Any] | None = None  # cached GraphQL answer, dropped on every change


class EntityStore:
    """The entity tables of a fake Stash, and the scene rewrites their changes imply."""

    def __init__(self, scenes: dict[int, FakeScene], lock: threading.Lock) -> None:
        self._scenes = scenes
        self._lock = lock
        self._by_name: dict[tuple[str, str], FakeEntity] = {}
        self._by_id: dict[tuple[str, int], FakeEntity] = {}
        # One sequence per table, never reused after a delete (SQLite AUTOINCREMENT).
        self._last_id = dict.fromkeys(KINDS, 0)

    def register(self, kind: str, names: Iterable[str | None], now: datetime.datetime) -> None:
        """Give every new name of `kind` the next id of its table."""
        _check_kind(kind)
        for name in names:
            if name is not None and (kind, name) not in self._by_name:
                self._last_id[kind] += 1
                entity = FakeEntity(kind, self._last_id[kind], name, now, now)
                self._by_name[kind, name] = self._by_id[kind, entity.id] = entity

    def register_scene(self, now: datetime.datetime, **fields: Any) -> None:
        """Number the entities a scene's `studio`, `performers` and `tags` name, as they are
        stored: ids must not depend on the order scenes are rendered in."""
        self.register("studio", [fields.get("studio")], now)
        for kind in ("performer", "tag"):
            self.register(kind, fields.get(f"{kind}s", ()), now)

    def find(self, kind: str, name: str) -> FakeEntity:
        """The entity of that name; KeyError when there is none."""
        _check_kind(kind)
        return self._by_name[kind, name]

    def get(self, kind: str, entity_id: int) -> FakeEntity | None:
        _check_kind(kind)
        return self._by_id.get((kind, entity_id))

    def update(self, kind: str, name: str, sent: dict[str, Any], now: datetime.datetime) -> None:
        """Apply an update (a rename when `sent` has another name) to the entity and scenes;
        like Stash's renames it leaves every scene's `updated_at` alone."""
        entity = self.find(kind, name)
        new_name = sent.get("name", name)
        if not isinstance(new_name, str) or not new_name:
            raise ValueError(f"a {kind} needs a name, not {new_name!r}")
        if new_name != name:
            if (kind, new_name) in self._by_name:
                raise ValueError(f"{kind} with name {new_name!r} already exists")
            del self._by_name[kind, name]
            self._by_name[kind, new_name] = entity
            entity.name = new_name
            self._rewrite_scenes(kind, {name}, new_name)
        entity.fields.update((k, v) for k, v in sent.items() if k != "name")
        entity.updated_at = now
        entity.rendered = None

    def merge_tags(self, sources: list[str], destination: str) -> Hook:
        """Stash's `tagsMerge`: scenes get the destination instead; the sources' names and
        aliases become its aliases (`TagStore.Merge`, which leaves scenes' `updated_at` alone)."""
        target = self.find("tag", destination)
        merged = {name: self.find("tag", name) for name in sources}  # a repeat merges once
        if destination in merged:
            raise ValueError("cannot merge where source == destination")
        aliases = list(target.fields.get("aliases") or [])
        for entity in merged.values():
            aliases += [entity.name, *(entity.fields.get("aliases") or ())]
            self._forget(entity)
        target.fields["aliases"] = aliases
        target.rendered = None
        self._rewrite_scenes("tag", set(merged), destination)
        return merge_hook(target.id, [str(merged[name].id) for name in sources])

    def delete(self, kind: str, name: str) -> Hook:
        """The entity ceases to exist and scenes lose it (a studio becomes null), as the
        foreign keys' ON DELETE CASCADE / SET NULL do: no scene's `updated_at` moves."""
        entity = self.find(kind, name)
        self._forget(entity)
        self._rewrite_scenes(kind, {name}, None)
        return destroy_hook(kind, entity.id)

    def render(
        self, kind: str, name: str, schema: graphql.GraphQLSchema, timestamp: Timestamp, now: Clock
    ) -> dict[str, Any]:
        """The entity as Stash's resolvers answer it (`timestamp` renders a `Time`); a name
        put on a scene behind `FakeStash`'s back is registered on the way."""
        entity = self._by_name.get((kind, name))
        if entity is None:
            self.register(kind, [name], now())
            entity = self._by_name[kind, name]
        if entity.rendered is None:
            entity.rendered = self._answer(entity, schema, timestamp)
        return entity.rendered

    def ids_to_names(self, kind: str, ids: Iterable[str] | None) -> list[str | None]:
        """The names of entity ids as a filter sends them; None for an id that names nothing."""
        return [
            entity.name if (entity := self.get(kind, _int_or_zero(raw))) else None
            for raw in ids or ()
        ]

    def _answer(
        self, entity: FakeEntity, schema: graphql.GraphQLSchema, timestamp: Timestamp
    ) -> dict[str, Any]:
        object_type = schema.get_type(_TYPE_NAMES[entity.kind])
        assert isinstance(object_type, graphql.GraphQLObjectType)
        answer = dict(_defaults(schema, object_type.name))
        output_fields = object_type.fields
        answer.update(
            (key, value)
            for key, value in entity.fields.items()
            if key in output_fields and key not in _NOT_ECHOED and not key.endswith(("_id", "_ids"))
        )
        answer.update(
            id=str(entity.id), name=entity.name, created_at=timestamp(entity.created_at),
            updated_at=timestamp(entity.updated_at), scene_count=self._scene_counter(entity),
        )  # fmt: skip
        return answer

    def _scene_counter(self, entity: FakeEntity) -> Callable[..., int]:
        """`scene_count(depth:)`, counted when a query asks (outside the root's lock)."""
        shows = _shows(entity.kind)

        def scene_count(info: object, depth: int | None = None) -> int:
            with self._lock:
                return sum(entity.name in shows(s) for s in self._scenes.values())

        return scene_count

    def _forget(self, entity: FakeEntity) -> None:
        del self._by_name[entity.kind, entity.name]
        del self._by_id[entity.kind, entity.id]

    def _rewrite_scenes(self, kind: str, old: set[str], new: str | None) -> None:
        """Every scene showing a name in `old` shows `new` instead (once, where the first old
        name was, unless it shows `new` already); `new=None` drops them."""
        for scene in self._scenes.values():
            if kind == "studio":
                if scene.studio in old:
                    scene.studio = new
                continue
            names: tuple[str, ...] = getattr(scene, f"{kind}s")
            if old.isdisjoint(names):
                continue
            replacement = () if new is None or new in names else (new,)
            kept: list[str] = []
            for shown in names:
                if shown not in old:
                    kept.append(shown)
                elif replacement:
                    kept += replacement
                    replacement = ()
            setattr(scene, f"{kind}s", tuple(kept))


# -- hookContext ------------------------------------------------------------------------------


def update_hook(
    schema: graphql.GraphQLSchema,
    version: tuple[int, int, int],
    kind: str,
    entity_id: int,
    sent: dict[str, Any],
) -> Hook:
    """What `<Kind>Update` hands `ExecutePostHooks`: the entity's id (a JSON number), the
    decoded input struct and `translator.getFields()`, the keys sent, "id" among them (Stash
    lists them in Go's random map order; the fake keeps "id" first, then the order given)."""
    input_type = schema.get_type(f"{_TYPE_NAMES[kind]}UpdateInput")
    assert isinstance(input_type, graphql.GraphQLInputObjectType)
    values = {"id": str(entity_id), **sent}
    unknown = set(values) - set(input_type.fields)
    if unknown:
        raise TypeError(f"{input_type.name} has no field(s) {sorted(unknown)}")
    _check_input(values, input_type)
    omitempty = kind == "tag" and version >= _OMITEMPTY_SINCE
    decoded: dict[str, Any] = {}
    for key, field in input_type.fields.items():
        value = values.get(key)
        if key in _GO_VALUE_STRUCTS.get(kind, ()):
            struct = graphql.get_named_type(field.type)
            assert isinstance(struct, graphql.GraphQLInputObjectType)
            value = {**dict.fromkeys(struct.fields), **(value or {})}
        if omitempty and not graphql.is_non_null_type(field.type) and value in (None, []):
            continue
        decoded[key] = value
    decoded.update(dict.fromkeys(_GO_ONLY_KEYS.get(kind, ())))
    return {
        "id": entity_id,
        "type": f"{_TYPE_NAMES[kind]}.Update.Post",
        "input": decoded,
        "inputFields": list(values),
    }


def merge_hook(destination_id: int, source_ids: list[str]) -> Hook:
    """`TagsMerge` runs `Tag.Merge.Post` for the destination, with its input and no fields."""
    return {
        "id": destination_id,
        "type": "Tag.Merge.Post",
        "input": {"source": source_ids, "destination": str(destination_id)},
    }


def destroy_hook(kind: str, entity_id: int) -> Hook:
    """`<Kind>Destroy` runs `<Kind>.Destroy.Post` with its `{id}` input and no fields."""
    return {
        "id": entity_id,
        "type": f"{_TYPE_NAMES[kind]}.Destroy.Post",
        "input": {"id": str(entity_id)},
    }


# -- scene_filter ----------------------------------------------------------------------------


def entity_test(
    kind: str, criterion: dict[str, Any], names: list[str | None], excluded: list[str | None]
) -> Callable[[FakeScene], bool]:
    """A scene filter on `tags`, `performers` or `studios`, as Stash's SQL builders read it
    (pkg/sqlite/criterion_handlers.go); `names`/`excluded` are `value`/`excludes` resolved.

    The fake has no tag or studio hierarchy, so every `depth` acts as 0."""
    shows, modifier = _shows(kind), criterion["modifier"]
    if kind == "studio" and modifier in ("EQUALS", "NOT_EQUALS"):
        modifier = "INCLUDES_ALL" if modifier == "EQUALS" else "EXCLUDES"  # studioCriterionHandler
    if modifier == "EQUALS" and criterion.get("depth") not in (None, 0):
        raise ValueError("depth is not supported for equals modifier")  # tags, as Stash
    if modifier == "IS_NULL":
        return lambda scene: not shows(scene)
    if modifier == "NOT_NULL":
        return lambda scene: bool(shows(scene))
    if modifier == "EXCLUDES":
        modifier, names, excluded = "INCLUDES_ALL", [], excluded + names
    if modifier not in ("INCLUDES", "INCLUDES_ALL", "EQUALS"):
        raise ValueError(f"the fake Stash does not support modifier {modifier} on {kind}s")
    wanted, unwanted = [n for n in names if n is not None], set(excluded) - {None}

    def test(scene: FakeScene) -> bool:
        shown = shows(scene)
        if not unwanted.isdisjoint(shown):
            return False
        if not names:
            return True
        matched = {name for name in wanted if name in shown}
        if modifier == "INCLUDES":
            return bool(matched)
        # "count(distinct id) IS len(value)": a repeated or unknown id never matches.
        exact = modifier != "EQUALS" or len(shown) == len(names)
        return len(matched) == len(names) and exact

    return test


def id_test(criterion: dict[str, Any]) -> Callable[[FakeScene], bool]:
    """`scene_filter.id` as `getIntWhereClause`: a missing `value2` is 0."""
    value, upper, modifier = criterion["value"], criterion.get("value2") or 0, criterion["modifier"]
    tests: dict[str, Callable[[int], bool]] = {
        "EQUALS": lambda n: n == value,
        "NOT_EQUALS": lambda n: n != value,
        "GREATER_THAN": lambda n: n > value,
        "LESS_THAN": lambda n: n < value,
        "BETWEEN": lambda n: value <= n <= upper,
        "NOT_BETWEEN": lambda n: not value <= n <= upper,
        "IS_NULL": lambda n: False,
        "NOT_NULL": lambda n: True,
    }
    if modifier not in tests:
        raise ValueError(f"the fake Stash does not support modifier {modifier} on id")
    compare = tests[modifier]
    return lambda scene: compare(scene.id)


# -- helpers ---------------------------------------------------------------------------------


def _check_input(values: dict[str, Any], input_type: graphql.GraphQLInputObjectType) -> None:
    """ValueError for an input gqlgen would refuse to decode (a string for a Boolean …)."""
    try:
        coerced = coerce_input_value(values, input_type)
    except graphql.GraphQLError as exc:  # graphql-core 3.2 raises; 3.3 answers Undefined
        raise ValueError(f"Stash refuses this {input_type.name}: {exc.message}") from exc
    if coerced is graphql.Undefined:
        raise ValueError(f"Stash refuses this {input_type.name}: {values!r}")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"the fake Stash has no entity kind {kind!r}: one of {', '.join(KINDS)}")


def _shows(kind: str) -> Callable[[FakeScene], tuple[str, ...]]:
    """The names of `kind` a scene shows."""
    if kind == "studio":
        return lambda scene: (scene.studio,) if scene.studio is not None else ()
    attribute = f"{kind}s"
    return lambda scene: getattr(scene, attribute)


def _int_or_zero(raw: str) -> int:
    """An id as SQLite compares it with an integer column: text that is no number matches none."""
    return int(raw) if raw.isdigit() else 0


@functools.lru_cache(maxsize=64)
def _defaults(schema: graphql.GraphQLSchema, type_name: str) -> dict[str, Any]:
    """A valid answer for every field of a Stash object type: null, or for a non-null field
    an empty list, false, 0, {} (Map); object fields are lists or nullable in these types."""
    object_type = schema.get_type(type_name)
    assert isinstance(object_type, graphql.GraphQLObjectType)
    zero = {"Boolean": False, "Int": 0, "Float": 0.0, "Map": {}, "String": "", "ID": ""}
    answer: dict[str, Any] = {}
    for name, field in object_type.fields.items():
        if not graphql.is_non_null_type(field.type):
            answer[name] = None
        elif graphql.is_list_type(graphql.get_nullable_type(field.type)):
            answer[name] = []
        else:
            answer[name] = zero.get(graphql.get_named_type(field.type).name)
    return answer
