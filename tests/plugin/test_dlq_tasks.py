"""Recover Outage Jobs picks dead letters by outage window and error type (DLQM-01/02)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plexsync_actors.core.outages import OutageLog, OutageRecord
from plexsync_actors.persistence.database import Failure
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.outage_state import OutageFiles
from plexsync_actors.plugin import dlq_tasks
from plexsync_actors.plugin.context import TaskContext
from plexsync_actors.plugin.protocol import Progress
from plexsync_actors.settings import parse_settings
from plexsync_actors.stash.connection import StashConnection

# An outage whose window is [100, 200] (first failure at 100, closed at 200).
OUTAGE = OutageRecord(id=1, first_failure_at=100.0, started_at=110.0, ended_at=200.0)


def dead(queue: JobQueue, scene: int, error_type: str, at: float) -> None:
    queue.enqueue(scene, reason="hook", now=at - 1)
    job = queue.lease_next(owner="t", now=at, lease_seconds=60)
    assert job is not None and job.scene_id == scene
    queue.dead_letter(job, Failure(error_type, "it failed", None, at, True))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(dlq_tasks, "ensure_drainer", lambda *args, **kwargs: False)
    OutageFiles(tmp_path, print).outages.save(OutageLog(records=(OUTAGE,), next_id=2))
    with JobQueue(tmp_path) as queue:
        dead(queue, 1, "PlexTemporaryError", 150.0)  # transient, inside the window
        dead(queue, 2, "PlexTemporaryError", 300.0)  # transient, after it
        dead(queue, 3, "PlexPermanentError", 150.0)  # inside, but not transient
        dead(queue, 4, "PlexServerDown", 100.0)  # transient, on the window's first instant
        dead(queue, 5, "PlexUnauthorized", 99.0)  # transient, just before it
    return tmp_path


async def recover(data_dir: Path, **args: Any) -> dict[str, Any]:
    settings = parse_settings(
        {"plex_url": "http://plex:32400", "plex_token": "t", "data_dir": str(data_dir)},
        stash_dir=None,
    )
    ctx = TaskContext(
        settings=settings,
        conn=StashConnection(base_url="http://stash:9999"),
        server_connection={},
        args=args,
        progress=Progress(None),
    )
    result: dict[str, Any] = await dlq_tasks.recover_outage_jobs(ctx)
    return result


def queued(data_dir: Path) -> set[int]:
    with JobQueue(data_dir) as queue:
        return queue.pending_scene_ids()


async def test_only_transient_dead_letters_inside_the_window_are_recovered(data_dir: Path) -> None:
    result = await recover(data_dir)
    assert (result["matched"], result["recovered"]) == (2, 2)
    assert queued(data_dir) == {1, 4}


async def test_error_types_all_takes_every_type_but_still_only_inside_the_window(
    data_dir: Path,
) -> None:
    result = await recover(data_dir, error_types="all")
    assert result["recovered"] == 3 and queued(data_dir) == {1, 3, 4}


async def test_a_preview_counts_and_changes_nothing(data_dir: Path) -> None:
    result = await recover(data_dir, dry_run="true")
    assert (result["matched"], result["recovered"]) == (2, 0) and queued(data_dir) == set()
