"""DrainActor under virtual time: retries, DLQ, idle exit, Stash outages, foreground stop."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
import trio.testing

from plexsync_actors.actors import drain
from plexsync_actors.actors.doorbell import Doorbell
from plexsync_actors.actors.drain import DrainActor, DrainPolicy
from plexsync_actors.core.retry import RetryPolicy
from plexsync_actors.errors import (
    PlexPermanentError,
    PlexServerDown,
    PlexTemporaryError,
    StashSceneError,
    StashUnavailable,
)
from plexsync_actors.messages.jobs import (
    JobFailed,
    JobHeldBack,
    JobOutcome,
    JobSucceeded,
    SyncResult,
)
from plexsync_actors.persistence.jobs import JobQueue

RETRY = RetryPolicy(
    max_retries=3,
    base_seconds=5,
    cap_seconds=80,
    notfound_max_retries=4,
    notfound_base_seconds=30,
    notfound_cap_seconds=600,
    skip_not_found=False,
)
EPOCH = 1_700_000_000.0


def wall() -> float:
    return EPOCH + trio.current_time()


class ScriptedSyncer:
    """Fails each scene with the scripted errors in order, then succeeds."""

    def __init__(self, script: dict[int, list[Exception]] | None = None) -> None:
        self.script = script or {}
        self.calls: list[tuple[int, float]] = []
        self.plex_answers = 0  # Plex answers every attempt but a PlexServerDown one

    async def sync(self, scene_id: int, *, poster_only: bool = False) -> SyncResult:
        self.calls.append((scene_id, trio.current_time()))
        await trio.sleep(0.01)
        errors = self.script.get(scene_id, [])
        if errors:
            error = errors.pop(0)
            if not isinstance(error, PlexServerDown):
                self.plex_answers += 1
            raise error
        self.plex_answers += 1
        return SyncResult(detail="synced")


async def run_actor(
    queue: JobQueue,
    syncer: ScriptedSyncer,
    *,
    idle_exit: float | None = 5.0,
    foreground: bool = False,
    during: Callable[[], None] | None = None,
) -> tuple[str, list[JobOutcome]]:
    send, receive = trio.open_memory_channel[JobOutcome](100)
    actor = DrainActor(
        queue=queue,
        syncer=syncer,
        policy=DrainPolicy(
            retry=RETRY, idle_exit_seconds=idle_exit, stop_when_nothing_ready=foreground
        ),
        wall_now=wall,
        outcomes=send,
    )
    outcomes: list[JobOutcome] = []

    async def collect() -> None:
        async for outcome in receive:
            outcomes.append(outcome)

    with trio.fail_after(24 * 3600):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect)
            if during is not None:
                nursery.start_soon(_later, during)
            reason = await actor.run()
    return reason, outcomes


async def _later(action: Callable[[], None]) -> None:
    await trio.sleep(2.0)
    action()


@pytest.fixture
def queue(tmp_path: Path):
    with JobQueue(tmp_path) as q:
        yield q


async def test_drains_every_queued_scene_then_exits_when_idle(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    for scene in (1, 2, 3):
        queue.enqueue(scene, reason="hook", now=wall())
    syncer = ScriptedSyncer()
    reason, outcomes = await run_actor(queue, syncer, idle_exit=5.0)
    assert sorted(o.scene_id for o in outcomes if isinstance(o, JobSucceeded)) == [1, 2, 3]
    assert "idle" in reason and trio.current_time() >= 5.0
    assert queue.pending_count() == 0


async def test_transient_errors_retry_with_backoff_then_dead_letter(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="hook", now=wall())
    syncer = ScriptedSyncer({1: [PlexTemporaryError("503", status=503) for _ in range(5)]})
    _, outcomes = await run_actor(queue, syncer)
    failures = [o for o in outcomes if isinstance(o, JobFailed)]
    assert len(failures) == RETRY.max_retries
    times = [t for _, t in syncer.calls]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Full jitter: each wait lies in [0, min(cap, base * 2**(n-1))] (plus the 10 ms sync).
    assert len(gaps) == RETRY.max_retries - 1
    for n, gap in enumerate(gaps, start=1):
        assert 0.01 <= gap <= min(RETRY.cap_seconds, RETRY.base_seconds * 2 ** (n - 1)) + 0.011
    [entry] = queue.dead_letters()
    assert entry.error_type == "PlexTemporaryError" and entry.attempts == 3
    assert queue.pending_count() == 0


async def test_server_down_waits_without_dead_lettering(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="hook", now=wall())
    syncer = ScriptedSyncer({1: [PlexServerDown("refused") for _ in range(10)]})
    _, outcomes = await run_actor(queue, syncer)
    assert sum(isinstance(o, JobFailed) for o in outcomes) == 10
    assert any(isinstance(o, JobSucceeded) for o in outcomes)
    assert queue.dead_letters() == []


async def test_permanent_error_goes_to_dlq_at_once(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="hook", now=wall())
    errors: list[Exception] = [PlexPermanentError("ambiguous")]
    _, outcomes = await run_actor(queue, ScriptedSyncer({1: errors}))
    assert len(outcomes) == 1 and isinstance(outcomes[0], JobFailed)
    [entry] = queue.dead_letters()
    assert entry.error_type == "PlexPermanentError" and entry.attempts == 1


async def test_stash_unavailable_stops_and_gives_the_job_back_uncharged(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="hook", now=wall())
    errors: list[Exception] = [StashUnavailable("Stash is down")]
    reason, outcomes = await run_actor(queue, ScriptedSyncer({1: errors}))
    assert "Stash is unavailable" in reason
    assert isinstance(outcomes[0], JobHeldBack)
    job = queue.lease_next(owner="t", now=wall(), lease_seconds=5)
    assert job is not None and job.attempts == 0


async def test_foreground_mode_stops_when_nothing_is_ready(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="hook", now=wall())
    queue.enqueue(2, reason="hook", now=wall())
    errors: list[Exception] = [PlexTemporaryError("503", status=503)]
    reason, outcomes = await run_actor(queue, ScriptedSyncer({2: errors}), foreground=True)
    assert "nothing left" in reason
    assert [type(o) for o in outcomes] == [JobSucceeded, JobFailed]
    assert queue.pending_count() == 1


async def test_job_queued_by_another_process_while_idle_is_picked_up(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    def hook() -> None:
        queue.enqueue(9, reason="hook", now=wall())

    _, outcomes = await run_actor(queue, ScriptedSyncer(), idle_exit=10.0, during=hook)
    assert [o.scene_id for o in outcomes] == [9]


async def test_an_hour_of_retries_runs_in_virtual_time(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="hook", now=wall())
    down: list[Exception] = [PlexServerDown("refused") for _ in range(60)]
    await run_actor(queue, ScriptedSyncer({1: down}))
    assert trio.current_time() > 60 * 5  # well over the base delay per attempt, in no real time


class CoverlessSyncer(ScriptedSyncer):
    """Stash serves its placeholder for scene 1 until `cover_after` sync calls have been made."""

    def __init__(self, cover_after: int | None = None) -> None:
        super().__init__()
        self.cover_after = cover_after
        self.poster_only: list[bool] = []

    async def sync(self, scene_id: int, *, poster_only: bool = False) -> SyncResult:
        await super().sync(scene_id)
        self.poster_only.append(poster_only)
        covered = self.cover_after is not None and len(self.calls) > self.cover_after
        return SyncResult(detail="synced", poster_pending=not covered)


async def test_a_scene_without_a_cover_gets_three_poster_retries_ten_minutes_apart(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="Scene.Create.Post", now=wall())
    syncer = CoverlessSyncer()
    await run_actor(queue, syncer, idle_exit=5.0)
    times = [t for _, t in syncer.calls]
    assert len(times) == 4  # the save, then three poster-only retries
    assert [round(b - a) for a, b in itertools.pairwise(times)] == [600, 600, 600]
    assert syncer.poster_only == [False, True, True, True]
    assert queue.pending_count() == 0 and queue.dead_letters() == []


async def test_poster_retries_stop_once_stash_has_the_cover(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="Scene.Create.Post", now=wall())
    syncer = CoverlessSyncer(cover_after=1)  # a scan generates the cover meanwhile, no hook
    await run_actor(queue, syncer, idle_exit=5.0)
    assert syncer.poster_only == [False, True] and queue.pending_count() == 0


async def test_a_save_takes_the_place_of_a_waiting_poster_retry(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    queue.enqueue(1, reason="Scene.Create.Post", now=wall())
    syncer = CoverlessSyncer(cover_after=1)

    def save_again() -> None:
        queue.enqueue(1, reason="Scene.Update.Post", now=wall())

    await run_actor(queue, syncer, idle_exit=5.0, during=save_again)  # saved at t = 2 s
    assert [round(t) for _, t in syncer.calls] == [0, 2]  # synced at once, not at 600 s
    assert syncer.poster_only == [False, False] and queue.pending_count() == 0


async def test_one_scene_stash_cannot_serve_is_retried_then_dead_lettered_and_the_rest_drain(
    queue: JobQueue, autojump_clock: trio.testing.MockClock
) -> None:
    for scene in (1, 2, 3):
        queue.enqueue(scene, reason="hook", now=wall())
    broken = [StashSceneError("Stash answered HTTP 500 for a scene screenshot") for _ in range(9)]
    syncer = ScriptedSyncer({1: broken})
    reason, outcomes = await run_actor(queue, syncer)
    assert "idle" in reason  # the drain did not stop: Stash itself is up
    assert sorted(o.scene_id for o in outcomes if isinstance(o, JobSucceeded)) == [2, 3]
    [entry] = queue.dead_letters()
    assert (entry.scene_id, entry.error_type, entry.attempts) == (1, "StashSceneError", 3)
    assert len(broken) == 9 - RETRY.max_retries


async def test_a_ring_wakes_an_idle_drain_before_its_poll(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drain, "POLL_SECONDS", 30.0)  # so a wake-up by the poll stands out
    bell, syncer = Doorbell(), ScriptedSyncer()
    send, receive = trio.open_memory_channel[JobOutcome](100)
    with JobQueue(tmp_path) as queue:
        actor = DrainActor(
            queue=queue,
            syncer=syncer,
            policy=DrainPolicy(retry=RETRY, idle_exit_seconds=100.0),
            wall_now=wall,
            outcomes=send,
            doorbell=bell,
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            await trio.sleep(5.0)  # the actor is idle, waiting
            queue.enqueue(7, reason="hook", now=wall())
            bell.ring()
            await trio.sleep(1.0)
            nursery.cancel_scope.cancel()
        receive.close()
    assert [scene for scene, _ in syncer.calls] == [7]
    assert syncer.calls[0][1] == pytest.approx(5.0, abs=0.01)  # not at the next poll (30 s)
