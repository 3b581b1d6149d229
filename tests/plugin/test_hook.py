"""The hook fast path: where a save is queued when Stash cannot tell the settings."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plugin.entry import run_from_stash
from plexsync_actors.testing.fake_stash import FakeStash


@pytest.fixture
def stash(tmp_path: Path) -> Iterator[FakeStash]:
    custom = tmp_path / "custom-data"
    fake = FakeStash(plugin_settings={"data_dir": str(custom)}, stash_dir=str(tmp_path / "cfg"))
    with fake:
        yield fake


def hook(stash: FakeStash, scene: int, connection: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = {
        "server_connection": connection or stash.server_connection(),
        "args": {"hookContext": {"id": scene, "type": "Scene.Update.Post"}},
    }
    out = io.StringIO()
    run_from_stash(io.BytesIO(json.dumps(payload).encode()), out, io.StringIO())
    answer: dict[str, Any] = json.loads(out.getvalue())
    return answer


def test_without_settings_a_save_is_queued_where_they_last_put_the_queue(
    stash: FakeStash, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("plexsync_actors.plugin.hook.ensure_drainer", lambda *a, **k: False)
    assert hook(stash, 1) == {"output": {"queued": 1}}  # settings read: custom data_dir
    connection = stash.server_connection()
    stash.stop()  # Stash restarting: the next hook cannot read the settings
    assert hook(stash, 2, connection) == {"output": {"queued": 2}}
    with JobQueue(tmp_path / "custom-data") as queue:
        assert queue.pending_scene_ids() == {1, 2}  # both where the settings put the queue
    assert not (tmp_path / "cfg" / "plugin_data" / "PlexSync").exists()  # not the default


def test_without_settings_and_no_known_data_dir_the_save_is_refused_with_why(
    stash: FakeStash, tmp_path: Path
) -> None:
    connection = stash.server_connection()
    stash.stop()
    answer = hook(stash, 7, connection)
    assert "Scene 7 was not queued" in answer["error"] and "data_dir" in answer["error"]


def entity_hook(stash: FakeStash, context: dict[str, Any]) -> dict[str, Any]:
    payload = {"server_connection": stash.server_connection(), "args": {"hookContext": context}}
    out = io.StringIO()
    run_from_stash(io.BytesIO(json.dumps(payload).encode()), out, io.StringIO())
    answer: dict[str, Any] = json.loads(out.getvalue())
    return answer


@pytest.fixture
def drainers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []
    monkeypatch.setattr(
        "plexsync_actors.plugin.hook.ensure_drainer",
        lambda conn, data_dir, now: started.append(str(data_dir)) or True,
    )
    return started


def test_a_tag_rename_queues_one_fan_out_and_makes_sure_a_drainer_runs(
    stash: FakeStash, tmp_path: Path, drainers: list[str]
) -> None:
    context = {
        "id": 12,
        "type": "Tag.Update.Post",
        "input": {"id": "12", "name": "Outdoor", "description": None},
        "inputFields": ["id", "name"],
    }
    answer = entity_hook(stash, context)

    assert answer == {"output": {"fan_out": {"kind": "tag", "id": 12, "action": "rename"}}}
    with JobQueue(tmp_path / "custom-data") as queue:
        (waiting,) = queue.fan_outs()
        assert (waiting.kind, waiting.entity_id, waiting.action) == ("tag", 12, "rename")
        assert queue.pending_count() == 0  # the drainer finds the scenes, not the hook
    assert drainers == [str(tmp_path / "custom-data")]


def test_an_update_that_leaves_the_name_queues_nothing_and_asks_stash_nothing(
    stash: FakeStash, tmp_path: Path, drainers: list[str]
) -> None:
    context = {
        "id": 3,
        "type": "Performer.Update.Post",
        "input": {"id": "3", "details": "new bio", "name": None},
        "inputFields": ["id", "details", "image"],
    }
    assert entity_hook(stash, context) == {"output": {"fan_out": None}}
    assert stash.requests == [] and drainers == []
    assert not (tmp_path / "custom-data").exists()


def test_a_merge_keeps_its_sources_and_a_destroy_replaces_what_waited_for_the_entity(
    stash: FakeStash, tmp_path: Path, drainers: list[str]
) -> None:
    merge = {"id": 5, "type": "Tag.Merge.Post", "input": {"source": ["6", "7", "x"]}}
    rename = {"id": 5, "type": "Tag.Update.Post", "input": {}, "inputFields": ["name"]}
    assert entity_hook(stash, merge)["output"]["fan_out"]["action"] == "merge"
    assert entity_hook(stash, rename)["output"]["fan_out"]["action"] == "rename"
    with JobQueue(tmp_path / "custom-data") as queue:
        assert [(f.action, f.sources) for f in queue.fan_outs()] == [
            ("merge", (6, 7)),
            ("rename", ()),
        ]
    destroy = {"id": 5, "type": "Tag.Destroy.Post", "input": {"id": "5"}}
    assert entity_hook(stash, destroy)["output"]["fan_out"]["action"] == "destroy"
    with JobQueue(tmp_path / "custom-data") as queue:
        assert [f.action for f in queue.fan_outs()] == ["destroy"]


def test_an_entity_hook_without_a_usable_id_is_refused_with_why(
    stash: FakeStash, drainers: list[str]
) -> None:
    answer = entity_hook(stash, {"id": "twelve", "type": "Studio.Destroy.Post", "input": {}})
    assert "not a studio id" in answer["error"]


def test_an_entity_hook_while_switched_off_queues_nothing(
    stash: FakeStash, tmp_path: Path, drainers: list[str]
) -> None:
    stash.plugin_settings["enabled"] = False
    context = {"id": 2, "type": "Studio.Update.Post", "input": {}, "inputFields": ["name"]}
    assert entity_hook(stash, context) == {"output": "disabled"}
    assert drainers == []


def test_an_update_that_resends_the_name_every_synced_scene_shows_queues_nothing(
    stash: FakeStash, tmp_path: Path, drainers: list[str]
) -> None:
    with JobQueue(tmp_path / "custom-data") as queue:
        queue.save_synced(1, "2026-01-01T00:00:00Z", [("tag", 4, "Outdoor")])
        queue.save_synced(2, "2026-01-01T00:00:00Z", [("tag", 4, "Outdoor")])
    resent = {"id": 4, "type": "Tag.Update.Post", "input": {"id": "4", "name": "Outdoor"}}
    resent["inputFields"] = ["id", "name", "description"]
    assert entity_hook(stash, resent) == {"output": {"fan_out": None}}
    with JobQueue(tmp_path / "custom-data") as queue:
        queue.save_synced(2, "2026-01-01T00:00:00Z", [("tag", 4, "Outside")])  # not yet synced
    assert entity_hook(stash, resent)["output"]["fan_out"]["action"] == "rename"


def test_a_bulk_delete_queues_each_entity_its_hook_names(
    stash: FakeStash, tmp_path: Path, drainers: list[str]
) -> None:
    for entity in (8, 9):  # tagsDestroy runs the hook once per id, the whole list as input
        context = {"id": entity, "type": "Tag.Destroy.Post", "input": ["8", "9"]}
        assert entity_hook(stash, context)["output"]["fan_out"]["id"] == entity
    with JobQueue(tmp_path / "custom-data") as queue:
        assert [(f.entity_id, f.action) for f in queue.fan_outs()] == [
            (8, "destroy"),
            (9, "destroy"),
        ]
