"""Sync All and Sync Recent: pages of scene ids from Stash, each page queued in one transaction."""

from __future__ import annotations

import datetime
import io
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import graphql
import pytest

from plexsync_actors.errors import StashUnavailable
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plugin import queue_tasks
from plexsync_actors.plugin.context import TaskContext
from plexsync_actors.plugin.protocol import Progress
from plexsync_actors.settings import parse_settings
from plexsync_actors.stash.client import ID_PAGE_SIZE
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.fake_stash_graphql import RELEASES

UTC = datetime.timezone.utc


@pytest.fixture(autouse=True)
def no_drainer(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The data dirs a drainer would have been started for (none is started)."""
    started: list[Path] = []

    def ensure_drainer(_conn: object, data_dir: Path, *, now: float) -> bool:
        started.append(data_dir)
        return True

    monkeypatch.setattr(queue_tasks, "ensure_drainer", ensure_drainer)
    return started


@pytest.fixture
def stash() -> Iterator[FakeStash]:
    with FakeStash() as fake:
        yield fake
        assert fake.invalid_queries == []


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every `enqueue_batch` transaction, each checked to commit durably."""
    sizes: list[int] = []
    real = JobQueue.enqueue_batch

    def recording(self: JobQueue, scene_ids: Sequence[int], *, reason: str, now: float) -> int:
        assert self._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        sizes.append(len(scene_ids))
        return real(self, scene_ids, reason=reason, now=now)

    monkeypatch.setattr(JobQueue, "enqueue_batch", recording)
    return sizes


def context(fake: FakeStash, data_dir: Path, stream: io.StringIO | None = None) -> TaskContext:
    settings = parse_settings(
        {"plex_url": "http://plex:32400", "plex_token": "t", "data_dir": str(data_dir)},
        stash_dir=None,
    )
    return TaskContext(
        settings=settings,
        conn=StashConnection(base_url=fake.url),
        server_connection={},
        args={},
        progress=Progress(stream),
    )


def add_scenes(fake: FakeStash, count: int) -> list[int]:
    return [
        fake.add_scene(
            title=f"Scene {n}", studio="S", performers=("P",), tags=("t",), files=(f"/m/{n}.mp4",)
        )
        for n in range(count)
    ]


def scene_selections(fake: FakeStash) -> list[set[str]]:
    """For each findScenes query the fake received, the fields selected on its scenes
    (fragments expanded)."""
    found = []
    for request in fake.requests:
        if request.path != "/graphql":
            continue
        document = graphql.parse(json.loads(request.body)["query"])
        fragments = {
            d.name.value: d
            for d in document.definitions
            if isinstance(d, graphql.FragmentDefinitionNode)
        }
        operation = document.definitions[0]
        assert isinstance(operation, graphql.OperationDefinitionNode)
        for field in _fields(operation.selection_set, fragments):
            if field.name.value != "findScenes":
                continue
            for inner in _fields(field.selection_set, fragments):
                if inner.name.value == "scenes":
                    found.append({f.name.value for f in _fields(inner.selection_set, fragments)})
    return found


def _fields(
    selection_set: graphql.SelectionSetNode | None,
    fragments: dict[str, graphql.FragmentDefinitionNode],
) -> Iterator[graphql.FieldNode]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, graphql.FieldNode):
            yield selection
        elif isinstance(selection, graphql.FragmentSpreadNode):
            yield from _fields(fragments[selection.name.value].selection_set, fragments)
        elif isinstance(selection, graphql.InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)


def pending(data_dir: Path) -> set[int]:
    with JobQueue(data_dir) as queue:
        return queue.pending_scene_ids()


@pytest.mark.parametrize("schema", [*RELEASES, "head"])
async def test_sync_all_reads_only_scene_ids_with_queries_valid_on_every_stash_release(
    schema: str, tmp_path: Path, no_drainer: list[Path]
) -> None:
    with FakeStash(schema=schema) as fake:
        ids = add_scenes(fake, 3)

        assert await queue_tasks.sync_all(context(fake, tmp_path)) == {"queued": 3}

        assert fake.invalid_queries == []
        # Full scene data (title, files, tags …) is the drainer's read, one scene at a time.
        assert scene_selections(fake) == [{"id"}]
    assert pending(tmp_path) == set(ids)
    assert no_drainer == [tmp_path]


async def test_sync_recent_reads_only_ids_of_scenes_updated_in_the_last_day(
    tmp_path: Path,
) -> None:
    now = [datetime.datetime.now(UTC) - datetime.timedelta(hours=48)]
    with FakeStash(clock=lambda: now[0]) as fake:
        old, touched = add_scenes(fake, 2)
        now[0] = datetime.datetime.now(UTC)
        (new,) = add_scenes(fake, 1)
        fake.update_scene(touched, title="edited today")

        assert await queue_tasks.sync_recent(context(fake, tmp_path)) == {"queued": 2}

        assert fake.invalid_queries == []
        assert scene_selections(fake) == [{"id"}]
    assert pending(tmp_path) == {touched, new}
    assert old not in pending(tmp_path)


async def test_sync_all_queues_each_page_of_ids_in_one_durable_transaction(
    stash: FakeStash, tmp_path: Path, batches: list[int]
) -> None:
    ids = add_scenes(stash, ID_PAGE_SIZE + 500)
    stream = io.StringIO()

    assert await queue_tasks.sync_all(context(stash, tmp_path, stream)) == {"queued": len(ids)}

    assert batches == [ID_PAGE_SIZE, 500]
    assert pending(tmp_path) == set(ids)
    progress = [float(line[3:]) for line in stream.getvalue().splitlines()]
    assert progress == sorted(progress) and len(progress) >= 2 and progress[-1] == 1.0


async def test_sync_all_coalesces_with_pending_jobs_as_a_save_does(
    stash: FakeStash, tmp_path: Path
) -> None:
    ids = add_scenes(stash, 4)
    now = time.time()
    with JobQueue(tmp_path) as queue:
        queue.enqueue(ids[0], reason="hook", now=now)
        syncing = queue.lease_next(owner="drainer", now=now, lease_seconds=600)
        assert syncing is not None  # scene 1 is being synced while Sync All runs
        queue.enqueue(ids[1], reason="hook", now=now)
        poster = queue.lease_next(owner="drainer", now=now, lease_seconds=600)
        assert poster is not None  # scene 2 was synced, its poster retry waits a year
        assert queue.complete(poster, now=now, poster_retry_at=now + 365 * 86400)

    assert await queue_tasks.sync_all(context(stash, tmp_path)) == {"queued": 4}

    with JobQueue(tmp_path) as queue:
        assert queue.pending_count() == 4  # one job per scene, never a second
        assert queue.complete(syncing, now=now) is False  # Sync All's newer change is kept
        soon, taken = now + 3600, []
        while (job := queue.lease_next(owner="drainer", now=soon, lease_seconds=600)) is not None:
            taken.append((job.scene_id, job.reason))
    # The waiting poster retry became a full sync, ready now, as after a save.
    assert sorted(taken) == [(scene_id, "all") for scene_id in ids]


async def test_pages_read_before_stash_fails_stay_queued(
    stash: FakeStash, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_drainer: list[Path]
) -> None:
    ids = add_scenes(stash, ID_PAGE_SIZE + 1)
    answer = stash._graphql
    calls: list[bytes] = []

    def down_after_the_first_page(body: bytes) -> Any:
        calls.append(body)
        if len(calls) > 1:  # the second page: Stash drops the connection unanswered
            raise ConnectionResetError("Stash went away")
        return answer(body)

    monkeypatch.setattr(stash, "_graphql", down_after_the_first_page)

    with pytest.raises(StashUnavailable):
        await queue_tasks.sync_all(context(stash, tmp_path))

    assert pending(tmp_path) == set(ids[:ID_PAGE_SIZE])
