"""The fake Stash's tags, performers and studios: stable ids, the changes Stash's users make to
them (rename, update, merge, delete) and the `hookContext` each hands a plugin, the scene
filters on them, and the test knobs `delays` and `graphql_calls`."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator
from typing import Any

import graphql
import httpx
import pytest
from clock_rig import T0, SteppingClock

from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.fake_stash_graphql import load_stash_schema

SCENES = """
query($f: SceneFilterType, $find: FindFilterType) {
  findScenes(scene_filter: $f, filter: $find) {
    count
    scenes {
      id updated_at studio { id name } tags { id name } performers { id name }
    }
  }
}
"""
ENTITY = """
query($id: ID!) {
  findTag(id: $id) { id name aliases description scene_count created_at }
  findPerformer(id: $id) { id name details alias_list favorite }
  findStudio(id: $id) { id name details urls }
}
"""
ALL_BY_ID = {"sort": "id", "direction": "ASC", "per_page": -1}


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture
def fake(clock: SteppingClock) -> Iterator[FakeStash]:
    with FakeStash(clock=clock) as stash:
        yield stash


def query(http: httpx.Client, fake: FakeStash, text: str, **variables: Any) -> Any:
    """The `data` of a query the fake must accept and answer without errors."""
    response = http.post(f"{fake.url}/graphql", json={"query": text, "variables": variables})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "errors" not in answer, answer
    assert fake.invalid_queries == []
    return answer["data"]


def errors(http: httpx.Client, fake: FakeStash, text: str, **variables: Any) -> list[str]:
    response = http.post(f"{fake.url}/graphql", json={"query": text, "variables": variables})
    return [error["message"] for error in response.json().get("errors", [])]


def scenes(
    http: httpx.Client, fake: FakeStash, find: dict[str, Any] = ALL_BY_ID, **scene_filter: Any
) -> dict[int, Any]:
    """Every matching scene as rendered, by id."""
    found = query(http, fake, SCENES, f=scene_filter, find=find)["findScenes"]["scenes"]
    return {int(scene["id"]): scene for scene in found}


def matching(http: httpx.Client, fake: FakeStash, **scene_filter: Any) -> list[int]:
    return list(scenes(http, fake, **scene_filter))


def names(scene: dict[str, Any], field: str) -> list[str]:
    return [entity["name"] for entity in scene[field]]


# -- identity ---------------------------------------------------------------------------------


def test_each_table_numbers_names_when_a_scene_first_names_them_not_when_rendered(
    fake: FakeStash, http: httpx.Client
) -> None:
    first = fake.add_scene(tags=["b", "a"], performers=["p"])
    second = fake.add_scene(studio="S", tags=["c"])
    fake.update_scene(first, tags=["b", "d"], studio="T")

    assert [fake.entity_id("tag", n) for n in "badc"] == [1, 2, 4, 3]
    assert (fake.entity_id("studio", "S"), fake.entity_id("studio", "T")) == (1, 2)
    assert fake.entity_id("performer", "p") == 1
    assert fake.entity_name("tag", 4) == "d"
    assert fake.entity_name("tag", 99) is None
    with pytest.raises(KeyError):
        fake.entity_id("tag", "never named")
    with pytest.raises(ValueError):
        fake.entity_id("gallery", "b")
    # The second scene renders first: ids must not follow the order of rendering.
    rendered = scenes(http, fake, {**ALL_BY_ID, "direction": "DESC"})
    assert rendered[second]["studio"] == {"id": "1", "name": "S"}
    assert rendered[first]["tags"] == [{"id": "1", "name": "b"}, {"id": "4", "name": "d"}]
    assert rendered[first]["performers"] == [{"id": "1", "name": "p"}]


def test_find_tag_performer_and_studio_answer_the_entity_or_null(
    fake: FakeStash, http: httpx.Client
) -> None:
    fake.add_scene(studio="Studio", tags=["tag"], performers=["Performer"])
    fake.add_scene(tags=["tag"])

    found = query(http, fake, ENTITY, id="1")

    assert found["findTag"]["name"] == "tag"
    assert found["findTag"]["scene_count"] == 2
    assert found["findTag"]["created_at"].startswith("2024-05-01T")
    assert found["findPerformer"] == {
        "id": "1", "name": "Performer", "details": None, "alias_list": [], "favorite": False,
    }  # fmt: skip
    assert found["findStudio"] == {"id": "1", "name": "Studio", "details": None, "urls": []}
    assert query(http, fake, ENTITY, id="2") == {
        "findTag": None,
        "findPerformer": None,
        "findStudio": None,
    }


# -- rename and update --------------------------------------------------------------------------


def test_a_rename_keeps_the_id_and_moves_the_name_on_every_scene_but_no_updated_at(
    fake: FakeStash, http: httpx.Client, clock: SteppingClock
) -> None:
    first = fake.add_scene(studio="Old Studio", tags=["old", "other"], performers=["Ann"])
    second = fake.add_scene(tags=["other", "old"], performers=["Bob", "Ann"])
    before = scenes(http, fake)
    tag_id = fake.entity_id("tag", "old")
    clock.now = T0 + datetime.timedelta(hours=1)

    hook = fake.rename_entity("tag", "old", "new")
    studio_hook = fake.rename_entity("studio", "Old Studio", "New Studio")
    performer_hook = fake.rename_entity("performer", "Ann", "Anne")

    after = scenes(http, fake)
    assert names(after[first], "tags") == ["new", "other"]
    assert names(after[second], "tags") == ["other", "new"]
    assert after[second]["tags"][1]["id"] == before[second]["tags"][1]["id"] == str(tag_id)
    assert after[first]["studio"] == {"id": before[first]["studio"]["id"], "name": "New Studio"}
    assert names(after[second], "performers") == ["Bob", "Anne"]
    assert [s["updated_at"] for s in after.values()] == [s["updated_at"] for s in before.values()]
    assert fake.scene(first).updated_at == T0
    assert fake.scene(second).tags == ("other", "new")
    assert fake.entity_id("tag", "new") == tag_id
    with pytest.raises(KeyError):
        fake.entity_id("tag", "old")
    assert hook == {
        "id": tag_id,
        "type": "Tag.Update.Post",
        "input": {"id": str(tag_id), "name": "new"},
        "inputFields": ["id", "name"],
    }
    assert (studio_hook["id"], studio_hook["type"]) == (1, "Studio.Update.Post")
    assert studio_hook["input"]["name"] == "New Studio"
    assert studio_hook["input"]["details"] is None  # StudioUpdateInput has no omitempty
    assert (performer_hook["type"], performer_hook["inputFields"]) == (
        "Performer.Update.Post", ["id", "name"],
    )  # fmt: skip


def test_a_rename_onto_a_name_in_use_is_refused_and_changes_nothing(fake: FakeStash) -> None:
    scene_id = fake.add_scene(tags=["a", "b"])
    with pytest.raises(ValueError, match="already exists"):
        fake.rename_entity("tag", "a", "b")
    assert fake.scene(scene_id).tags == ("a", "b")
    assert (fake.entity_id("tag", "a"), fake.entity_id("tag", "b")) == (1, 2)
    fake.rename_entity("tag", "a", "a")  # a save that keeps the name is no clash
    assert fake.entity_name("tag", 1) == "a"


def test_an_update_that_is_no_rename_changes_no_scene_and_lists_only_what_was_sent(
    fake: FakeStash, http: httpx.Client, clock: SteppingClock
) -> None:
    scene_id = fake.add_scene(studio="S", performers=["P"])
    clock.now = T0 + datetime.timedelta(hours=1)

    hook = fake.update_entity("performer", "P", details="bio", favorite=True)
    fake.update_entity("studio", "S", details="about")

    # PerformerUpdateInput is hand-written in Go without omitempty: every key, unsent ones
    # null, the custom_fields struct with null members, and legacy keys the schema dropped.
    assert hook["id"] == 1
    assert hook["type"] == "Performer.Update.Post"
    assert hook["inputFields"] == ["id", "details", "favorite"]
    sent = {"id": "1", "details": "bio", "favorite": True}
    assert {k: v for k, v in hook["input"].items() if v is not None} == {
        **sent, "custom_fields": {"full": None, "partial": None, "remove": None},
    }  # fmt: skip
    input_type = fake_schema_input(fake, "PerformerUpdateInput")
    assert set(hook["input"]) == set(input_type.fields) | {"height", "aliases"}
    assert fake.scene(scene_id).updated_at == T0
    found = query(http, fake, ENTITY, id="1")
    assert (found["findPerformer"]["details"], found["findPerformer"]["favorite"]) == ("bio", True)
    assert found["findStudio"]["details"] == "about"
    with pytest.raises(TypeError):
        fake.update_entity("performer", "P", rating=5)
    with pytest.raises(ValueError, match="refuses"):
        fake.update_entity("performer", "P", favorite="yes")
    assert query(http, fake, ENTITY, id="1")["findPerformer"]["favorite"] is True


def fake_schema_input(fake: FakeStash, name: str) -> graphql.GraphQLInputObjectType:
    input_type = load_stash_schema(fake.schema_dir).get_type(name)
    assert isinstance(input_type, graphql.GraphQLInputObjectType)
    return input_type


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        # gqlgen >= 0.17.27 (Stash v0.27 on) tags nullable input fields omitempty: unsent
        # keys, and an empty list sent, are left out of the tag's hook input.
        ("head", {"id": "1", "description": "new words", "favorite": False}),
        ("v0.26.2", {"id": "1", "name": None, "description": "new words", "aliases": [],
                     "ignore_auto_tag": None, "favorite": False, "image": None,
                     "parent_ids": None, "child_ids": None}),
    ],
)  # fmt: skip
def test_a_tag_update_input_drops_unsent_fields_from_v0_27_and_nulls_them_before(
    clock: SteppingClock, schema: str, expected: dict[str, Any]
) -> None:
    with FakeStash(clock=clock, schema=schema) as fake:
        fake.add_scene(tags=["t"])
        hook = fake.update_entity("tag", "t", description="new words", aliases=[], favorite=False)
    assert hook == {
        "id": 1,
        "type": "Tag.Update.Post",
        "input": expected,
        "inputFields": ["id", "description", "aliases", "favorite"],
    }


# -- merge and delete ---------------------------------------------------------------------------


def test_merging_tags_puts_the_destination_in_place_of_the_sources_on_every_scene(
    fake: FakeStash, http: httpx.Client, clock: SteppingClock
) -> None:
    a = fake.add_scene(tags=["keep", "x"])
    b = fake.add_scene(tags=["x", "dest", "keep"])
    c = fake.add_scene(tags=["keep"])
    d = fake.add_scene(tags=["y", "x"])
    e = fake.add_scene(tags=["keep", "x", "other", "dest"])
    x, y, dest = (fake.entity_id("tag", n) for n in ("x", "y", "dest"))
    before = scenes(http, fake)
    clock.now = T0 + datetime.timedelta(hours=1)

    hook = fake.merge_tags(["x", "y"], "dest")

    after = scenes(http, fake)
    assert {n: names(after[n], "tags") for n in (a, b, c, d, e)} == {
        a: ["keep", "dest"], b: ["dest", "keep"], c: ["keep"], d: ["dest"],
        e: ["keep", "other", "dest"],  # a scene that had the destination keeps it in place
    }  # fmt: skip
    assert {tag["id"] for tag in after[d]["tags"]} == {str(dest)}
    # TagStore.Merge rewrites scenes_tags only: no scene's updated_at moves.
    assert [s["updated_at"] for s in after.values()] == [s["updated_at"] for s in before.values()]
    assert hook == {
        "id": dest,
        "type": "Tag.Merge.Post",
        "input": {"source": [str(x), str(y)], "destination": str(dest)},
    }
    assert query(http, fake, ENTITY, id=str(x))["findTag"] is None
    assert fake.entity_name("tag", y) is None
    assert query(http, fake, ENTITY, id=str(dest))["findTag"]["aliases"] == ["x", "y"]
    with pytest.raises(ValueError):
        fake.merge_tags(["keep", "dest"], "dest")
    with pytest.raises(KeyError):
        fake.merge_tags(["x"], "dest")


@pytest.mark.parametrize(
    ("kind", "hook_type"),
    [("tag", "Tag.Destroy.Post"), ("performer", "Performer.Destroy.Post"),
     ("studio", "Studio.Destroy.Post")],
)  # fmt: skip
def test_a_deleted_entity_leaves_every_scene_and_is_found_no_more(
    fake: FakeStash, http: httpx.Client, clock: SteppingClock, kind: str, hook_type: str
) -> None:
    first = fake.add_scene(studio="gone", tags=["gone", "kept"], performers=["kept", "gone"])
    second = fake.add_scene(studio="gone")
    gone = fake.entity_id(kind, "gone")
    before = scenes(http, fake)
    clock.now = T0 + datetime.timedelta(hours=1)

    hook = fake.delete_entity(kind, "gone")

    after = scenes(http, fake)
    assert hook == {"id": gone, "type": hook_type, "input": {"id": str(gone)}}
    if kind == "studio":
        assert after[first]["studio"] is None and after[second]["studio"] is None
    else:
        assert names(after[first], f"{kind}s") == ["kept"]
        assert after[first]["studio"]["name"] == "gone"
    assert [s["updated_at"] for s in after.values()] == [s["updated_at"] for s in before.values()]
    field = {"tag": "findTag", "performer": "findPerformer", "studio": "findStudio"}[kind]
    assert query(http, fake, ENTITY, id=str(gone))[field] is None
    fake.add_scene(studio="gone", tags=["gone"], performers=["gone"])
    assert fake.entity_id(kind, "gone") > gone  # a new entity: ids are never reused


# -- scene_filter ---------------------------------------------------------------------------------


@pytest.fixture
def tagged(fake: FakeStash) -> FakeStash:
    """Scenes 1-5 with tags / performers / studio: a b / a / b c / (none) / c."""
    rows = ((["a", "b"], "A"), (["a"], "B"), (["b", "c"], "A"), ([], None), (["c"], "C"))
    for tags, studio in rows:
        fake.add_scene(tags=tags, performers=tags, studio=studio)
    return fake


def ids_of(fake: FakeStash, kind: str, names: str) -> list[str]:
    return [str(fake.entity_id(kind, name)) for name in names]


@pytest.mark.parametrize(
    ("modifier", "value", "excludes", "expected"),
    [
        ("INCLUDES", "ab", "", [1, 2, 3]),
        ("INCLUDES", "a", "b", [2]),
        ("INCLUDES_ALL", "ab", "", [1]),
        ("INCLUDES_ALL", "bc", "", [3]),
        ("EXCLUDES", "a", "", [3, 4, 5]),
        ("EXCLUDES", "a", "c", [4]),
        ("INCLUDES", "", "", [1, 2, 3, 4, 5]),
        ("IS_NULL", "", "", [4]),
        ("NOT_NULL", "", "", [1, 2, 3, 5]),
        ("EQUALS", "a", "", [2]),
    ],
)
@pytest.mark.parametrize("kind", ["tag", "performer"])
def test_tag_and_performer_filters_follow_stash_modifiers(
    tagged: FakeStash, http: httpx.Client, kind: str, modifier: str, value: str,
    excludes: str, expected: list[int],
) -> None:  # fmt: skip
    criterion: dict[str, Any] = {"value": ids_of(tagged, kind, value), "modifier": modifier}
    if excludes:
        criterion["excludes"] = ids_of(tagged, kind, excludes)
    if kind == "tag":  # no hierarchy in the fake: any depth acts as 0 (Stash refuses EQUALS's)
        criterion["depth"] = 0 if modifier == "EQUALS" else -1
    assert matching(http, tagged, **{f"{kind}s": criterion}) == expected


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        ("INCLUDES", "AB", [1, 2, 3]),
        ("INCLUDES_ALL", "A", [1, 3]),
        ("INCLUDES_ALL", "AB", []),  # a scene has one studio
        ("EXCLUDES", "A", [2, 4, 5]),  # a scene without a studio is not excluded
        ("IS_NULL", "", [4]),
        ("NOT_NULL", "", [1, 2, 3, 5]),
    ],
)
def test_studio_filter_follows_stash_modifiers(
    tagged: FakeStash, http: httpx.Client, modifier: str, value: str, expected: list[int]
) -> None:
    criterion = {"value": ids_of(tagged, "studio", value), "modifier": modifier, "depth": 0}
    assert matching(http, tagged, studios=criterion) == expected


def test_an_id_that_names_no_entity_matches_no_scene(tagged: FakeStash, http: httpx.Client) -> None:
    assert matching(http, tagged, tags={"value": ["99"], "modifier": "INCLUDES"}) == []
    deleted = ids_of(tagged, "tag", "a")
    tagged.delete_entity("tag", "a")
    assert matching(http, tagged, tags={"value": deleted, "modifier": "INCLUDES"}) == []
    excluded = matching(http, tagged, tags={"value": deleted, "modifier": "EXCLUDES"})
    assert excluded == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("modifier", "value2", "expected"),
    [
        ("EQUALS", None, [3]),
        ("NOT_EQUALS", None, [1, 2, 4, 5]),
        ("GREATER_THAN", None, [4, 5]),
        ("LESS_THAN", None, [1, 2]),
        ("BETWEEN", 4, [2, 3, 4]),
        ("NOT_BETWEEN", 4, [1, 5]),
    ],
)
def test_id_filter_compares_like_stash_int_criteria(
    tagged: FakeStash, http: httpx.Client, modifier: str, value2: int | None, expected: list[int]
) -> None:
    low = 2 if value2 is not None else 3
    criterion = {"value": low, "value2": value2, "modifier": modifier}
    assert matching(http, tagged, id=criterion) == expected


def test_criteria_are_anded_and_pages_follow_the_id_order(
    fake: FakeStash, http: httpx.Client
) -> None:
    for n in range(1, 31):
        fake.add_scene(tags=["even" if n % 2 == 0 else "odd"], studio="S" if n % 3 else None)
    scene_filter = {
        "tags": {"value": ids_of(fake, "tag", ["even"]), "modifier": "INCLUDES"},
        "studios": {"value": [], "modifier": "NOT_NULL"},
        "id": {"value": 10, "modifier": "GREATER_THAN"},
    }
    pages = []
    for page in (1, 2, 3):
        find = {"sort": "id", "direction": "ASC", "per_page": 3, "page": page}
        result = query(http, fake, SCENES, f=scene_filter, find=find)["findScenes"]
        pages.append([int(scene["id"]) for scene in result["scenes"]])
        assert result["count"] == 6
    assert pages == [[14, 16, 20], [22, 26, 28], []]


def test_filters_and_modifiers_the_fake_lacks_are_refused_not_ignored(
    tagged: FakeStash, http: httpx.Client
) -> None:
    text = "query($f: SceneFilterType) { findScenes(scene_filter: $f) { count } }"
    equals_deep = {"value": ["1"], "modifier": "EQUALS", "depth": 1}
    assert errors(http, tagged, text, f={"tags": equals_deep})
    assert errors(http, tagged, text, f={"rating100": {"value": 1, "modifier": "EQUALS"}})
    assert errors(http, tagged, text, f={"tags": {"value": ["1"], "modifier": "NOT_EQUALS"}})
    assert errors(http, tagged, text, f={"id": {"value": 1, "modifier": "INCLUDES"}})


# -- delays and call counts -----------------------------------------------------------------------


def test_graphql_calls_count_each_root_field_resolved_and_no_rejected_query(
    fake: FakeStash, http: httpx.Client
) -> None:
    fake.add_scene()
    query(http, fake, "{ version { version } findScene(id: 1) { id } b: findScene(id: 2) { id } }")
    http.post(f"{fake.url}/graphql", json={"query": "{ findScene(id: 1) { nope } }"})
    fake.invalid_queries.clear()

    def hammer() -> None:
        with httpx.Client(timeout=10.0) as own:
            for _ in range(20):
                query(own, fake, "{ findScenes { count } }")

    threads = [threading.Thread(target=hammer) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert fake.graphql_calls == {"version": 1, "findScene": 2, "findScenes": 100}


def test_a_delay_stalls_only_its_root_field(fake: FakeStash, http: httpx.Client) -> None:
    fake.add_scene()
    fake.delays["findScenes"] = 1.0
    finished = threading.Event()

    def slow() -> None:
        with httpx.Client(timeout=10.0) as own:
            query(own, fake, "{ findScenes { count } }")
        finished.set()

    started = time.monotonic()
    thread = threading.Thread(target=slow)
    thread.start()
    assert query(http, fake, "{ findScene(id: 1) { id } }") == {"findScene": {"id": "1"}}
    assert not finished.is_set()  # the other field answered while findScenes slept
    thread.join()
    assert time.monotonic() - started >= 1.0
    assert fake.graphql_calls["findScenes"] == 1
