"""Can this Python run PlexSync? One sentence: the interpreter, what is wrong, the fix."""

from __future__ import annotations

import io
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plugin.entry import run_from_stash
from plexsync_actors.runtime import requirements


def test_this_python_with_its_dependencies_is_fit() -> None:
    assert requirements.problem(check_versions=True) is None


def test_a_python_older_than_3_10_names_itself_and_where_to_set_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 9, 18, "final", 0))
    sentence = requirements.problem(check_versions=False)
    assert sentence is not None and sys.executable in sentence and "3.9.18" in sentence
    assert "3.10 or newer" in sentence and "Python Executable Path" in sentence


def test_missing_modules_are_named_with_both_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    class Hiding:  # the finders of a Python without trio and cattrs
        def __init__(self, finder: Any) -> None:
            self.finder = finder

        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name in ("trio", "cattrs"):
                return None
            find = getattr(self.finder, "find_spec", None)
            return find(name, path, target) if find is not None else None

    monkeypatch.setattr(sys, "meta_path", [Hiding(f) for f in sys.meta_path])
    sentence = requirements.problem(check_versions=False)
    assert sentence is not None and "lacks trio, cattrs" in sentence
    assert "plugin source" in sentence and f'"{sys.executable}" -m pip install' in sentence


def test_too_old_dependencies_are_found_by_tasks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real = metadata.version

    def version(name: str) -> str:
        return "0.20.3" if name == "httpx" else real(name)

    monkeypatch.setattr(metadata, "version", version)
    assert requirements.problem(check_versions=False) is None  # the hook stays cheap
    sentence = requirements.problem(check_versions=True)
    assert sentence is not None and "httpx 0.20.3 (0.27 or newer needed)" in sentence


@pytest.mark.parametrize(("text", "release"), [("0.28.1", (0, 28, 1)), ("1.0rc1", (1, 0))])
def test_release_numbers_compare_as_numbers(text: str, release: tuple[int, ...]) -> None:
    assert requirements._release(text) == release


def run(payload: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_from_stash(io.BytesIO(json.dumps(payload).encode()), out, err)
    return code, json.loads(out.getvalue()), err.getvalue()


def test_an_unfit_python_still_queues_a_save_and_every_task_says_the_same_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 9, 18, "final", 0))
    connection = {"Port": 1, "Dir": str(tmp_path)}  # no Stash there: the last data dir is used
    (tmp_path / "plugin_data").mkdir()
    data_dir = tmp_path / "plugin_data" / "PlexSync"
    (tmp_path / "plugin_data" / "PlexSync.data_dir").write_text(str(data_dir))
    hook = {"hookContext": {"id": 5, "type": "Scene.Update.Post"}}
    code, answer, _ = run({"server_connection": connection, "args": hook})
    assert code != 0 and "3.10 or newer" in answer["error"] and "was queued" in answer["error"]
    with JobQueue(data_dir) as queue:
        assert queue.pending_scene_ids() == {5}
    code, task, err = run({"server_connection": connection, "args": {"mode": "queue_status"}})
    assert code != 0 and answer["error"].startswith(task["error"]) and "Traceback" not in err
