"""End to end: the plugin started exactly as Stash starts it, against loopback fake servers."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from conftest import PLEX_TOKEN

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import (
    Plugin,
    drainer_pid,
    kill_drainer,
    process_alive,
    wait_for,
)

pytestmark = pytest.mark.slow


def library(plex: FakePlex, stash: FakeStash, count: int) -> dict[int, int]:
    """`count` scenes in Stash and their movies in Plex; returns scene id -> ratingKey."""
    section = plex.add_section("Movies", ["/media"])
    mapping = {}
    for n in range(1, count + 1):
        scene_id = stash.add_scene(
            title=f"Scene {n}",
            details=f"Details of scene {n}",
            date=f"2024-05-{(n % 28) + 1:02d}",
            studio=f"Studio {n % 3}",
            performers=(f"Performer {n}", "Common Performer"),
            tags=(f"tag-{n}", "shared", "third"),
            files=(f"/stash/media/scene{n}.mp4",),
        )
        mapping[scene_id] = plex.add_movie(section, f"/media/scene{n}.mp4", title=f"file{n}")
    return mapping


def in_sync(plex: FakePlex, stash: FakeStash, scene_id: int, rating_key: int) -> bool:
    scene = stash.scene(scene_id)
    item = plex.item(rating_key)
    return (
        item.title == scene["title"]
        and item.summary == scene["details"]
        and item.originally_available_at == scene["date"]
        and item.studio == scene["studio"]
        and sorted(item.genres) == sorted(scene["tags"])
        and sorted(item.actors) == sorted(scene["performers"])
    )


def all_in_sync(plex: FakePlex, stash: FakeStash, mapping: dict[int, int]) -> bool:
    return all(in_sync(plex, stash, s, r) for s, r in mapping.items())


def test_hooks_bring_five_scenes_into_plex_locked_and_tag_removal_follows(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 5)
    for scene_id in mapping:
        run = plugin.hook(scene_id)
        assert run.returncode == 0, run.stderr
        assert run.output == {"queued": scene_id}
    assert wait_for(lambda: all_in_sync(plex, fake_stash, mapping), 30)
    for rating_key in mapping.values():
        item = plex.item(rating_key)
        assert {
            "title",
            "summary",
            "originallyAvailableAt",
            "studio",
            "genre",
            "actor",
        } <= item.locked
        assert "Studio" in " ".join(item.collections)

    first = next(iter(mapping))
    fake_stash.update_scene(first, tags=("shared",))
    assert plugin.hook(first).returncode == 0
    assert wait_for(lambda: plex.item(mapping[first]).genres == ["shared"], 30)
    assert fake_stash.invalid_queries == []


def test_a_later_edit_reads_the_item_by_its_stored_key_and_lists_no_folder(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    ((scene_id, rating_key),) = library(plex, fake_stash, 1).items()
    assert plugin.hook(scene_id).returncode == 0
    assert wait_for(lambda: in_sync(plex, fake_stash, scene_id, rating_key), 30)
    start = len(plex.requests)
    fake_stash.update_scene(scene_id, title="Edited later")
    assert plugin.hook(scene_id).returncode == 0  # the drainer may have exited: kept on disk
    assert wait_for(lambda: plex.item(rating_key).title == "Edited later", 30)
    later = plex.requests[start:]
    assert [r for r in later if "file=" in r.query or "title=" in r.query] == []
    assert [r.method for r in later if r.path == f"/library/metadata/{rating_key}"] == ["GET"]


def test_forty_parallel_hooks_all_answer_and_all_reach_plex(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 40)
    procs = {scene_id: plugin.start_hook(scene_id) for scene_id in mapping}
    for scene_id, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert json.loads(out) == {"output": {"queued": scene_id}}
    assert wait_for(lambda: all_in_sync(plex, fake_stash, mapping), 60)


def test_drainer_killed_five_times_loses_nothing(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 150)
    plex.set_latency(0.01)  # every request takes a little while, so kills land mid-sync
    queued = plugin.task("all")
    assert queued.output == {"queued": 150}
    progress = [float(m) for level, m in queued.log_messages() if level == "p"]
    assert progress and progress == sorted(progress) and progress[-1] == 1.0
    rng = random.Random(7)
    for _ in range(5):
        assert wait_for(lambda: drainer_pid(data_dir) is not None, 20)
        time.sleep(rng.uniform(0.2, 0.8))
        kill_drainer(data_dir)
        (data_dir / "drainer.heartbeat").unlink(missing_ok=True)
        # The next save in Stash starts a fresh drainer.
        assert plugin.hook(rng.choice(list(mapping))).returncode == 0
    assert wait_for(lambda: all_in_sync(plex, fake_stash, mapping), 120)
    status = plugin.task("queue_status").output
    assert status["queue"]["pending"] == 0 and status["dlq"]["total"] == 0


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("this is not json", "not valid JSON"),
        ("{}", "args"),
        ('{"args": {"mode": "explode"}, "server_connection": {"Port": 1}}', "Unknown mode"),
        ('{"args": {"hookContext": {"type": "Scene.Update.Post"}}, "server_connection": {}}', "id"),
    ],
)
def test_bad_input_answers_one_error_and_keeps_queued_work(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    stdin: str,
    message: str,
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 1)
    ((scene_id, rating_key),) = mapping.items()
    fake_stash.plugin_settings["plex_url"] = ""  # the drainer cannot sync yet: the job waits
    assert plugin.hook(scene_id).returncode == 0
    run = plugin.run_raw(stdin)
    assert run.returncode != 0
    assert message in run.answer["error"]
    assert "Traceback" not in run.stdout
    fake_stash.plugin_settings["plex_url"] = fake_plex[1].url
    assert plugin.task("process_queue").output["remaining"] == 0
    assert in_sync(plex, fake_stash, scene_id, rating_key)


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"plex_url": None}, "plex_url"), ({"max_retries": "many"}, "max_retries")],
)
def test_invalid_settings_fail_tasks_clearly_but_hooks_still_queue(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    settings: dict[str, object],
    message: str,
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 1)
    ((scene_id, rating_key),) = mapping.items()
    good = dict(fake_stash.plugin_settings)
    for key, value in settings.items():
        if value is None:
            fake_stash.plugin_settings.pop(key)
        else:
            fake_stash.plugin_settings[key] = value
    assert plugin.hook(scene_id).output == {"queued": scene_id}
    run = plugin.task("queue_status")
    assert run.returncode != 0 and message in run.answer["error"]
    fake_stash.plugin_settings.clear()
    fake_stash.plugin_settings.update(good)
    assert plugin.task("process_queue").output["remaining"] == 0
    assert in_sync(plex, fake_stash, scene_id, rating_key)


def test_token_appears_in_no_log_no_file_and_no_url(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 3)
    fake_stash.plugin_settings["debug_logging"] = True
    runs = [plugin.hook(scene_id) for scene_id in mapping]
    assert wait_for(lambda: all_in_sync(plex, fake_stash, mapping), 30)
    runs.append(plugin.task("all"))
    runs.append(plugin.task("process_queue"))
    plex.set_status_fault(401)  # errors and their messages must not carry the token either
    first = next(iter(mapping))
    fake_stash.update_scene(first, title="changed")
    runs.append(plugin.hook(first))
    log_file = data_dir / "plexsync.log"
    assert wait_for(lambda: "PlexUnauthorized" in log_file.read_text(encoding="utf-8"), 30)
    runs.append(plugin.task("queue_status"))
    for run in runs:
        assert PLEX_TOKEN not in run.stdout and PLEX_TOKEN not in run.stderr
    kill_drainer(data_dir)
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert PLEX_TOKEN.encode() not in path.read_bytes(), path
    assert not plex.token_seen_in_urls()
    assert all(
        r.headers.get("x-plex-token") == PLEX_TOKEN for r in plex.requests if r.path != "/identity"
    )


def test_each_run_prints_exactly_one_json_object(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    library(plex, fake_stash, 2)
    for run in (plugin.hook(1), plugin.task("queue_status"), plugin.task("process_queue")):
        assert run.stdout.count("\n") == 1
        assert run.answer


def test_disabled_plugin_does_nothing(
    plugin: Plugin, fake_stash: FakeStash, data_dir: Path
) -> None:
    fake_stash.plugin_settings["enabled"] = False
    assert plugin.hook(1).output == "disabled"
    assert plugin.task("queue_status").output == "disabled"
    assert not (data_dir / "queue.sqlite3").exists()


def test_destroy_hook_drops_pending_work(
    plugin: Plugin, fake_stash: FakeStash, data_dir: Path
) -> None:
    fake_stash.plugin_settings["plex_url"] = ""  # keep the job waiting
    assert plugin.hook(5).output == {"queued": 5}
    assert plugin.hook(5, "Scene.Destroy.Post").output == {"dropped": 5}
    kill_drainer(data_dir)
    fake_stash.plugin_settings["plex_url"] = "http://127.0.0.1:9"
    assert plugin.task("queue_status").output["queue"]["pending"] == 0


def test_drainer_exits_when_idle(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 1)
    plugin.hook(next(iter(mapping)))
    assert wait_for(lambda: all_in_sync(plex, fake_stash, mapping), 30)
    pid = drainer_pid(data_dir)
    assert pid is not None
    assert wait_for(lambda: not process_alive(pid), 10)


def test_hook_with_an_unwritable_data_dir_answers_a_clear_error(
    plugin: Plugin, fake_stash: FakeStash, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    fake_stash.plugin_settings["data_dir"] = str(blocker / "data")  # unwritable even for root
    run = plugin.hook(1)
    assert run.returncode != 0
    assert "data_dir" in run.answer["error"] and "Traceback" not in run.stdout


def test_any_task_that_finds_ready_work_and_no_drainer_starts_one(
    plugin: Plugin,
    fake_plex: tuple[FakePlex, FakePlexServer],
    fake_stash: FakeStash,
    data_dir: Path,
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 2)
    with JobQueue(data_dir) as queue:  # queued by a hook whose drainer was killed since
        queue.enqueue_many(list(mapping), reason="hook", now=time.time())
    assert plugin.task("queue_status").output["drainer"]["running"] is False
    assert wait_for(lambda: all_in_sync(plex, fake_stash, mapping), 30)  # no save, no hook


def test_a_quiet_task_writes_no_info_line_and_leaves_the_news_for_the_next_task(
    plugin: Plugin, fake_plex: tuple[FakePlex, FakePlexServer], fake_stash: FakeStash
) -> None:
    plex, _ = fake_plex
    mapping = library(plex, fake_stash, 1)
    plugin.hook(next(iter(mapping)))
    assert wait_for(lambda: all_in_sync(plex, fake_stash, mapping), 30)
    quiet = plugin.task("queue_status", quiet="true")
    assert quiet.output["queue"]["pending"] == 0
    assert [level for level, _ in quiet.log_messages() if level in "id"] == []
    loud = plugin.task("queue_status")
    assert any(level == "i" for level, _ in loud.log_messages())
