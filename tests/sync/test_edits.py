"""The edit plan: which Plex fields a scene changes, per the field rules of contract §7."""

from pathlib import Path
from typing import Any

import attrs

from plexsync_actors.plex.models import PlexItem
from plexsync_actors.secret import Secret
from plexsync_actors.settings import Settings
from plexsync_actors.stash.models import Scene
from plexsync_actors.sync.edits import plan_edit

SETTINGS = Settings(plex_url="http://plex", plex_token=Secret("t"), data_dir=Path("/tmp/x"))


def scene(**kw: Any) -> Scene:
    base: dict[str, Any] = {
        "id": 1,
        "title": "Title",
        "details": "Details",
        "date": "2024-05-01",
        "studio": "Studio",
        "performers": ("Ann", "Bob"),
        "tags": ("t1", "t2"),
        "files": ("/m/a.mp4",),
    }
    base.update(kw)
    return Scene(**base)


def synced_item(**kw: Any) -> PlexItem:
    base: dict[str, Any] = {
        "rating_key": "100",
        "section_id": "1",
        "title": "Title",
        "summary": "Details",
        "studio": "Studio",
        "originally_available_at": "2024-05-01",
        "year": 2024,
        "genres": ("t1", "t2"),
        "actors": ("Ann", "Bob"),
        "collections": ("Studio",),
        "files": ("/m/a.mp4",),
    }
    base.update(kw)
    return PlexItem(**base)


def params(plan: Any) -> dict[str, str]:
    return dict(plan.params)


def test_nothing_changed_means_no_edit() -> None:
    assert plan_edit(scene(), synced_item(), SETTINGS, {}).empty


def test_every_changed_field_is_sent_and_locked() -> None:
    plan = plan_edit(scene(title="New", details="More"), synced_item(), SETTINGS, {})
    p = params(plan)
    assert p["title.value"] == "New" and p["title.locked"] == "1"
    assert p["summary.value"] == "More" and p["summary.locked"] == "1"
    assert "studio.value" not in p


def test_tag_lists_are_sent_whole_so_removals_reach_plex() -> None:
    plan = plan_edit(scene(tags=("t1",), performers=("Ann", "Cy")), synced_item(), SETTINGS, {})
    p = params(plan)
    assert p["genre[0].tag.tag"] == "t1" and "genre[1].tag.tag" not in p
    assert (p["actor[0].tag.tag"], p["actor[1].tag.tag"]) == ("Ann", "Cy")
    assert p["genre.locked"] == "1" and p["actor.locked"] == "1"


def test_removing_every_tag_uses_the_removal_form() -> None:
    plan = plan_edit(scene(tags=()), synced_item(), SETTINGS, {})
    assert params(plan)["genre[].tag.tag-"] == "t1,t2"


def test_empty_title_never_blanks_plex_title() -> None:
    assert "title.value" not in params(plan_edit(scene(title=""), synced_item(), SETTINGS, {}))


def test_partial_date_sets_year_only() -> None:
    item = synced_item(originally_available_at="", year=None)
    p = params(plan_edit(scene(date="2021-03"), item, SETTINGS, {}))
    assert p["year.value"] == "2021" and "originallyAvailableAt.value" not in p
    p = params(plan_edit(scene(date="2020-02-03"), item, SETTINGS, {}))
    assert p["originallyAvailableAt.value"] == "2020-02-03" and p["year.value"] == "2020"


def test_max_tags_caps_genres() -> None:
    settings = attrs.evolve(SETTINGS, max_tags=2)
    p = params(plan_edit(scene(tags=("a", "b", "c")), synced_item(genres=()), settings, {}))
    assert "genre[1].tag.tag" in p and "genre[2].tag.tag" not in p


def test_field_toggles_leave_fields_alone() -> None:
    settings = attrs.evolve(SETTINGS, sync_tags=False, sync_summary=False)
    p = params(plan_edit(scene(tags=("x",), details="New"), synced_item(), settings, {}))
    assert not any(k.startswith(("genre", "summary")) for k in p)


def test_collection_change_keeps_the_users_own_collections() -> None:
    item = synced_item(collections=("Old Studio", "Favourites"))
    p = params(plan_edit(scene(studio="New Studio"), item, SETTINGS, {"collection": "Old Studio"}))
    sent = {v for k, v in p.items() if k.startswith("collection[") and k.endswith(".tag.tag")}
    assert sent == {"Favourites", "New Studio"}
    assert p["collection[].tag.tag-"] == "Old%20Studio"  # removed even if PMS appends


def test_what_plex_holds_beyond_the_wanted_list_is_removed_in_the_same_put() -> None:
    """Right whether PMS replaces or appends indexed tags: the list, plus explicit removals."""
    item = synced_item(genres=("t1", "t2", "Gone Tag"), actors=("Ann", "Bob", "Cy"))
    plan = plan_edit(scene(tags=("t1", "T2", "new")), item, SETTINGS, {})
    p = params(plan)
    assert [p[f"genre[{i}].tag.tag"] for i in range(3)] == ["t1", "T2", "new"]
    assert p["genre[].tag.tag-"] == "Gone%20Tag"  # t2 is T2: the same tag in Plex
    assert p["actor[].tag.tag-"] == "Cy" and "actor[0].tag.tag" in p
    assert "collection[].tag.tag-" not in p  # nothing beyond the wanted collections


def test_preserve_plex_edits_leaves_fields_edited_in_plex() -> None:
    settings = attrs.evolve(SETTINGS, preserve_plex_edits=True)
    item = synced_item(title="Edited in Plex")
    plan = plan_edit(scene(title="Stash title"), item, settings, {"title": "Old"})
    assert "title.value" not in params(plan)
    plan = plan_edit(
        scene(title="Stash title"), synced_item(title="Old"), settings, {"title": "Old"}
    )
    assert params(plan)["title.value"] == "Stash title"
