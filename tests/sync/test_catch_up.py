"""The catch-up looks at what Stash changed since its watermark, against a real fake Stash."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from plexsync_actors.persistence.jobs import WATERMARK_KEY, JobQueue
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.sync.catch_up import MARGIN_SECONDS, catch_up, stash_time
from plexsync_actors.testing.fake_stash import FakeStash

T0 = datetime.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=datetime.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeStash]:
    with FakeStash(clock=clock) as server:
        yield server
        assert server.invalid_queries == []


@pytest.fixture
async def stash(fake: FakeStash) -> AsyncIterator[StashClient]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield StashClient(http, StashConnection(base_url=fake.url))


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    with JobQueue(tmp_path) as opened:
        yield opened


async def test_the_first_look_starts_at_stashs_newest_change_and_queues_nothing(
    fake: FakeStash, stash: StashClient, queue: JobQueue, clock: Clock
) -> None:
    fake.add_scene(title="old")
    clock.advance(5)
    newest = fake.add_scene(title="newer")
    found = await catch_up(stash, queue, now=0.0)
    assert found.queued == 0 and queue.pending_count() == 0
    watermark = queue.meta(WATERMARK_KEY)
    assert watermark is not None and stash_time(watermark) == fake.scene(newest).updated_at


async def test_changes_since_the_watermark_are_queued_once_and_the_watermark_follows(
    fake: FakeStash, stash: StashClient, queue: JobQueue, clock: Clock
) -> None:
    synced, pending, changed, _untouched = (fake.add_scene(title=t) for t in "abcd")
    await catch_up(stash, queue, now=0.0)  # the watermark starts here
    clock.advance(MARGIN_SECONDS * 3)  # beyond the margin: only what changes now is looked at
    for scene in (synced, pending, changed):
        fake.update_scene(scene, title="edited")  # no hook for any of them
    page = await stash.scene_changes(updated_since=None)
    times = {c.id: c.updated_at for c in page}
    queue.save_synced(synced, times[synced])  # the drainer synced this change already
    queue.enqueue(pending, reason="Scene.Update.Post", now=0.0)  # a hook queued this one
    found = await catch_up(stash, queue, now=1.0)
    assert found.queued == 1
    jobs = {job.scene_id: job for job in iter(lambda: queue.lease_next(
        owner="t", now=2.0, lease_seconds=60), None)}  # fmt: skip
    assert set(jobs) == {pending, changed}  # not `synced`, nor `still`
    assert jobs[pending].version == 1  # the hook's job was not bumped: synced once
    assert stash_time(found.watermark or "") == fake.scene(changed).updated_at
    assert (await catch_up(stash, queue, now=3.0)).queued == 0  # nothing new since
