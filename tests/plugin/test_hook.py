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
