"""Fan-out expansion: an entity change becomes exactly the scene jobs Plex needs, resumably."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio

from plexsync_actors.errors import StashUnavailable
from plexsync_actors.persistence.fan_outs import status_line
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.settings import Settings
from plexsync_actors.stash.models import SceneIdPage
from plexsync_actors.sync import fan_out
from plexsync_actors.sync.fan_out import PAGE_SIZE, FanOutExpander

TAG = 7


class StubStash:
    """Scenes with the entities each shows; fails on the `fail_at`-th scene query."""

    def __init__(self, scenes: dict[int, set[tuple[str, int]]], names: dict[int, str]) -> None:
        self.scenes = scenes
        self.names = names
        self.queries = 0
        self.fail_at: int | None = None

    async def scenes_showing(
        self, kind: str, entity_id: int, *, after_id: int, page_size: int
    ) -> SceneIdPage:
        await trio.lowlevel.checkpoint()
        self.queries += 1
        if self.fail_at is not None and self.queries >= self.fail_at:
            raise StashUnavailable("Could not reach Stash (ConnectError).")
        ids = sorted(s for s, shown in self.scenes.items() if (kind, entity_id) in shown)
        above = [s for s in ids if s > after_id]
        return SceneIdPage(count=len(above), ids=tuple(above[:page_size]))

    async def entity_name(self, kind: str, entity_id: int) -> str | None:
        await trio.lowlevel.checkpoint()
        return self.names.get(entity_id)


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    with JobQueue(tmp_path) as opened:
        yield opened


def expander(stash: StubStash, queue: JobQueue, **settings: object) -> FanOutExpander:
    base = Settings(plex_url="http://plex", plex_token="t", data_dir=Path("unused"))
    chosen = attrs.evolve(base, **settings)
    return FanOutExpander(stash=stash, queue=queue, settings=chosen, wall_now=lambda: 100.0)


def synced(queue: JobQueue, scene_id: int, *entities: tuple[str, int, str]) -> None:
    queue.save_synced(scene_id, "2026-01-01T00:00:00Z", entities)


async def test_a_rename_queues_every_scene_with_the_tag_but_those_already_showing_the_name(
    queue: JobQueue,
) -> None:
    stash = StubStash({n: {("tag", TAG)} for n in range(1, 1201)}, {TAG: "Outdoors"})
    stash.scenes[5000] = {("tag", 8)}  # another tag: not looked at
    synced(queue, 3, ("tag", TAG, "Outdoor"))  # shows the old name: queued
    synced(queue, 4, ("tag", TAG, "Outdoors"))  # already the new name: left alone
    queue.add_fan_out("tag", TAG, "rename", now=1.0)

    await expander(stash, queue).expand_all()

    assert queue.pending_scene_ids() == set(range(1, 1201)) - {4}
    assert stash.queries == 3  # 1,200 scenes in pages of 500
    assert not queue.has_fan_outs()


async def test_a_merge_queues_the_destination_scenes_that_showed_a_source_or_lacked_it(
    queue: JobQueue,
) -> None:
    dest, source = TAG, 9
    stash = StubStash({n: {("tag", dest)} for n in (1, 2, 3, 4)}, {dest: "Outdoor"})
    synced(queue, 1, ("tag", dest, "Outdoor"))  # had the destination only: right in Plex
    synced(queue, 2, ("tag", source, "Outside"))  # had the source: now the destination
    synced(queue, 3, ("tag", dest, "Outdoor"), ("tag", source, "Outside"))  # both: drop one
    # scene 4 was never synced by a PlexSync that kept entities: queued to be safe
    queue.add_fan_out("tag", dest, "merge", sources=[source], now=1.0)

    await expander(stash, queue).expand_all()

    assert queue.pending_scene_ids() == {2, 3, 4}


async def test_a_delete_queues_the_scenes_whose_last_sync_showed_the_entity(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    stash = StubStash({}, {})  # Stash forgot the performer and which scenes had it
    synced(queue, 1, ("performer", 3, "Ann"), ("performer", 4, "Bo"))
    synced(queue, 2, ("performer", 4, "Bo"))
    queue.add_fan_out("performer", 3, "destroy", now=1.0)
    caplog.set_level(logging.INFO)

    await expander(stash, queue).expand_all()

    assert queue.pending_scene_ids() == {1}
    assert stash.queries == 0
    assert "Performer 'Ann' deleted: 1 scene queued for Plex." in caplog.messages


async def test_a_killed_expansion_resumes_after_the_last_page_it_committed(
    queue: JobQueue,
) -> None:
    stash = StubStash({n: {("tag", TAG)} for n in range(1, 2001)}, {TAG: "New"})
    queue.add_fan_out("tag", TAG, "rename", now=1.0)
    stash.fail_at = 3  # the third page's query never answers

    first = expander(stash, queue)
    with trio.fail_after(10):
        await first.expand_all()

    (waiting,) = queue.fan_outs()
    assert (waiting.seen, waiting.total, waiting.cursor) == (2 * PAGE_SIZE, 2000, 2 * PAGE_SIZE)
    assert status_line(waiting) == "Tag 'New' renamed: 1,000 of 2,000 scenes queued"
    assert queue.pending_scene_ids() == set(range(1, 1001))
    assert not first.has_work  # Stash failed: a drainer may exit meanwhile
    for scene_id in range(1, 1001):  # the first pages drained meanwhile
        queue.drop(scene_id)

    stash.fail_at, stash.queries = None, 0
    with trio.fail_after(10):
        await expander(stash, queue).expand_all()

    assert queue.pending_scene_ids() == set(range(1001, 2001))  # none twice, none missed
    assert stash.queries == 2
    assert not queue.has_fan_outs()


async def test_a_second_hook_while_a_fan_out_waits_restarts_it_without_duplicate_jobs(
    queue: JobQueue,
) -> None:
    stash = StubStash({n: {("tag", TAG)} for n in range(1, 11)}, {TAG: "B"})
    queue.add_fan_out("tag", TAG, "rename", now=1.0)
    queue.add_fan_out("tag", TAG, "rename", now=2.0)
    queue.enqueue(3, reason="Scene.Update.Post", now=1.0)

    await expander(stash, queue).expand_all()

    assert queue.pending_count() == 10  # one job a scene, the pending one coalesced
    assert queue.fan_outs() == []


async def test_a_change_to_something_plex_is_not_sent_queues_nothing(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    stash = StubStash({1: {("tag", TAG)}}, {TAG: "B"})
    queue.add_fan_out("tag", TAG, "rename", now=1.0)
    caplog.set_level(logging.INFO)

    await expander(stash, queue, sync_tags=False).expand_all()

    assert queue.pending_count() == 0 and not queue.has_fan_outs()
    assert stash.queries == 0
    assert any("nothing was queued" in m for m in caplog.messages)


async def test_after_stash_fails_the_expansion_waits_before_asking_again(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    stash = StubStash({1: {("tag", TAG)}}, {TAG: "B"})
    stash.fail_at = 1
    queue.add_fan_out("tag", TAG, "rename", now=1.0)
    running = expander(stash, queue)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(running.run)
        await trio.sleep(fan_out.RETRY_SECONDS - 1)
        assert stash.queries == 1 and not running.has_work
        stash.fail_at = None
        await trio.sleep(fan_out.POLL_SECONDS + 2)
        nursery.cancel_scope.cancel()

    assert queue.pending_scene_ids() == {1}
    assert not running.has_work
