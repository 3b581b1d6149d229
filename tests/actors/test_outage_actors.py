"""The outage actors under virtual time: breaker, health probes, gate and ramp, outage record.

Real actors over real state files and a real queue, built by the production wiring
(`runtime.pipeline.wire`). The test plays Plex: job outcomes go in on the drain's outcome channel
(the real dispatcher fans them out to the breaker and the recorder) and `FakePlex` answers the
health actor's probes and the drain's syncs.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
import trio
from trio.testing import MockClock, wait_all_tasks_blocked

from plexsync_actors.actors.announce import Announcer
from plexsync_actors.core.breaker import Closed, HalfOpen, Open
from plexsync_actors.core.outages import OutageRecord
from plexsync_actors.errors import PlexError, PlexServerDown, PlexTemporaryError
from plexsync_actors.messages.jobs import JobFailed, JobOutcome, JobSucceeded, SyncResult
from plexsync_actors.persistence.database import Failure
from plexsync_actors.persistence.events import EventLog
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.runtime.pipeline import RunTally, wire
from plexsync_actors.runtime.policies import probe_policy, ramp_policy
from plexsync_actors.runtime.state import load_outage_state
from plexsync_actors.settings import Settings, parse_settings

EPOCH = 1_700_000_000.0
THRESHOLD = 3
# The default policies (probes 5 to 60 s, ramp 5 to 20 jobs/s over 300 s), built as in production.
SETTINGS = parse_settings(
    {"plex_url": "http://plex:32400", "plex_token": "t", "breaker_failure_threshold": THRESHOLD},
    stash_dir="/stash",
)
PROBES, RAMP = probe_policy(SETTINGS), ramp_policy(SETTINGS)
BACKOFF = [5, 10, 20, 40, 60, 60]


def wall() -> float:
    return EPOCH + trio.current_time()


def at(t: float) -> object:
    """A stored wall-clock time equal to virtual time `t` (approx's default would allow ±30 min)."""
    return pytest.approx(EPOCH + t, abs=1e-3)


class FakePlex:
    """Plex as the health actor and the drain see it: down or up on command, every call logged."""

    def __init__(self) -> None:
        self.up = False
        self.up_at = float("inf")  # or from then on
        self.read_error: PlexError | None = None  # /identity answers, the token read fails
        self.probes: list[float] = []
        self.reads: list[float] = []
        self.syncs: list[str] = []  # the breaker state each job was sent in
        self.plex_answers = 0
        self.state: Callable[[], str] = lambda: "?"
        self.answer_503: set[int] = set()  # scenes Plex answers with 503 (while it is up)
        self.deleted: set[int] = set()  # scenes deleted in Stash: nothing is asked of Plex
        self.latency = 0.0  # how long Plex takes to answer a job

    async def _answer(self, calls: list[float], error: PlexError | None = None) -> None:
        await trio.lowlevel.checkpoint()
        calls.append(trio.current_time())
        if error is not None or not (self.up or trio.current_time() >= self.up_at):
            raise error or PlexServerDown("connection refused")

    async def probe(self) -> float:
        await self._answer(self.probes)
        return 12.0

    async def authenticated_read(self) -> None:
        await self._answer(self.reads, self.read_error)

    async def sync(self, scene_id: int, *, poster_only: bool = False) -> SyncResult:
        self.syncs.append(self.state())
        if scene_id in self.deleted:
            await trio.lowlevel.checkpoint()
            return SyncResult(detail="deleted in Stash")
        await self._answer([])
        await trio.sleep(self.latency)
        self.plex_answers += 1
        if scene_id in self.answer_503:
            raise PlexTemporaryError("Plex answered 503", status=503)
        return SyncResult(detail="synced")


class Rig:
    """The outage actors of one process over one data dir; `restart()` builds the next one."""

    def __init__(
        self,
        data_dir: Path,
        queue: JobQueue,
        plex: FakePlex,
        admitted: list[tuple[float, str]],
        settings: Settings = SETTINGS,
    ) -> None:
        self.data_dir, self.queue, self.plex, self.settings = data_dir, queue, plex, settings
        self.admitted = admitted  # (time, breaker state) of each job the gate let through
        self.script: list[bool] = []
        self.warnings: list[str] = []
        stores = load_outage_state(data_dir, self.warnings.append)
        self.files, self.events = stores.files, EventLog(data_dir)
        self.pipeline = wire(
            settings=settings,
            mode="drainer",
            queue=queue,
            announce=Announcer(self.events, wall),
            stores=stores,
            prober=plex,
            syncer=plex,
            now=wall,
            rng=random.Random(len(admitted)),  # a restarted process draws other jitter
        )
        self.breaker, self.health = self.pipeline.breaker, self.pipeline.health
        self.gate, self.drain = self.pipeline.gate, self.pipeline.drain
        self.outcomes = self.pipeline.outcome_sender()
        plex.state = lambda: self.breaker.state.name

    def restart(self) -> Rig:
        return Rig(self.data_dir, self.queue, self.plex, self.admitted, self.settings)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Rig]:
        """Run the actors until the block ends, which kills them as a crash would."""
        async with trio.open_nursery() as self._nursery:
            self.pipeline.start_listeners(self._nursery, RunTally())
            self._nursery.start_soon(self.health.run)
            await wait_all_tasks_blocked()
            yield self
            self._nursery.cancel_scope.cancel()

    def start_drain(self, *, hold: float = 0.0, senders: int = 1) -> None:
        for _ in range(senders):
            self._nursery.start_soon(self.zero_latency_drain, hold)

    async def zero_latency_drain(self, hold: float) -> None:
        """Send a job whenever the gate admits one. It answers at once (a trial after `hold`):
        as `script` says (False: 503), else with success."""
        while True:
            await self.gate.admit()
            state = self.breaker.state.name
            self.admitted.append((trio.current_time(), state))
            await trio.sleep(0 if state == "closed" else hold)
            ok = self.script.pop(0) if self.script else True
            self.gate.record(ok)
            await self.outcomes.send(
                JobSucceeded(scene_id=0, at=wall(), detail="ok") if ok else failed(0)
            )

    async def job(self, outcome: JobOutcome) -> None:
        await self.outcomes.send(outcome)
        await wait_all_tasks_blocked()

    async def job_failed(self, scene_id: int, error_type: str = "PlexServerDown") -> None:
        await self.job(failed(scene_id, error_type))

    async def open_circuit(self, first_scene: int = 1) -> float:
        for scene in range(first_scene, first_scene + THRESHOLD):
            await self.job_failed(scene)
        assert isinstance(self.breaker.state, Open)
        return trio.current_time()

    async def until_closed(self) -> float:
        """Plex comes back; wait for the circuit to close and return when it did."""
        self.plex.up = True
        with trio.fail_after(100):
            while not isinstance(self.breaker.state, Closed):
                await self.breaker.watch.wait_changed()
        assert self.breaker.closed_at is not None
        return self.breaker.closed_at - EPOCH

    def rate(self, start: float, end: float) -> float:
        return sum(start <= t < end for t, _ in self.admitted) / (end - start)

    def outages(self) -> tuple[OutageRecord, ...]:
        log = self.files.outages.load()
        return () if log is None else log.records

    def said(self, words: str) -> bool:
        return any(words in event.message for event in self.events.recent(200))


def failed(scene_id: int, error_type: str = "PlexTemporaryError") -> JobFailed:
    return JobFailed(
        scene_id=scene_id,
        at=wall(),
        error_type=error_type,
        message="refused",
        http_status=None,
        retry_at=None,
    )


def policy_rate(a: float, b: float) -> float:
    """The policy's mean rate over [a, b] seconds after a recovery (exact for the line)."""
    slope = (RAMP.max_rate - RAMP.initial_rate) / RAMP.ramp_seconds
    end = min(b, RAMP.ramp_seconds)
    ramp = max(0.0, end - a) * (RAMP.initial_rate + slope * (a + end) / 2)
    return (ramp + max(0.0, b - max(a, RAMP.ramp_seconds)) * RAMP.max_rate) / (b - a)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    with JobQueue(tmp_path) as queue:
        yield Rig(tmp_path, queue, FakePlex(), [])


@pytest.mark.parametrize("error_type", ["PlexServerDown", "PlexTemporaryError", "PlexUnauthorized"])
async def test_breaker_opens_exactly_at_the_threshold_and_persists_it(
    rig: Rig, error_type: str, autojump_clock: MockClock
) -> None:
    async with rig.running():
        await trio.sleep(1)
        for scene in range(1, THRESHOLD):
            await rig.job_failed(scene, error_type)
        for scene, kind in enumerate(["PlexNotFound", "PlexPermanentError"] * 5, start=10):
            await rig.job_failed(scene, kind)  # Plex answered: these never count
        stored = rig.files.breaker.load()
        assert isinstance(stored, Closed) and stored.consecutive_failures == THRESHOLD - 1
        assert stored.first_failure_at == EPOCH + 1 and rig.outages() == ()
        await trio.sleep(1)
        await rig.job_failed(THRESHOLD, error_type)
    stored = rig.files.breaker.load()
    assert isinstance(stored, Open) and stored.opened_at == EPOCH + 2
    [record] = rig.outages()
    assert (record.first_failure_at, record.started_at) == (EPOCH + 1, EPOCH + 2)
    assert record.first_error == error_type and record.jobs_affected == 3
    assert rig.queue.affected_scene_ids(record.id) == {1, 2, 3}
    assert rig.said("Circuit OPEN after 3 consecutive failures")


async def test_probes_back_off_5_10_20_40_60_60_with_jitter_only_while_not_closed(
    rig: Rig, autojump_clock: MockClock
) -> None:
    with trio.fail_after(3600):
        async with rig.running():
            await trio.sleep(300)
            assert rig.plex.probes == []  # a closed circuit is never probed
            opened = await rig.open_circuit()
            await trio.sleep(1200)
    gaps = [b - a for a, b in itertools.pairwise([opened, *rig.plex.probes])]
    assert len(gaps) >= 18
    for gap, interval in zip(gaps, BACKOFF + [60] * len(gaps), strict=False):
        assert interval * 0.8 <= gap <= interval * 1.2
    assert len({round(gap, 6) for gap in gaps[-10:]}) > 1  # jittered, not fixed
    schedule = rig.files.recovery.load()
    assert schedule is not None and schedule.interval == 60.0 and schedule.next_probe_at
    assert schedule.last_probe_at == EPOCH + rig.plex.probes[-1]
    assert 48 <= schedule.next_probe_at - schedule.last_probe_at <= 72
    assert rig.outages()[0].probes == len(rig.plex.probes)


async def test_recovery_admits_exactly_one_trial_job_then_closes(
    rig: Rig, autojump_clock: MockClock
) -> None:
    rig.queue.enqueue_many([1, 2, 3], reason="hook", now=wall())  # ready jobs: no trial read
    with trio.fail_after(600):
        async with rig.running():
            await rig.open_circuit()
            rig.start_drain(hold=2.0, senders=3)  # eager senders: the slot is taken atomically
            await trio.sleep(3)
            assert rig.admitted == []  # nothing is sent while OPEN
            closed = await rig.until_closed()
            await trio.sleep(10)
    [(trial, _)] = [job for job in rig.admitted if job[1] == "half_open"]
    assert {state for _, state in rig.admitted[1:]} == {"closed"} and rig.plex.reads == []
    assert closed == pytest.approx(trial + 2.0) and closed < rig.admitted[1][0]  # all waited
    assert isinstance(rig.files.breaker.load(), Closed)
    [record] = rig.outages()
    assert record.ended_at == at(closed) and record.probes == 1


async def test_failed_trial_reopens_and_stays_one_outage(
    rig: Rig, autojump_clock: MockClock
) -> None:
    rig.queue.enqueue_many([1, 2], reason="hook", now=wall())
    with trio.fail_after(600):
        async with rig.running():
            opened = await rig.open_circuit()
            rig.plex.up = True
            await trio.sleep(6.5)
            assert await rig.gate.admit() and rig.gate.trial_claimed
            rig.plex.up = False
            await rig.job_failed(1)  # the trial: Plex went away again
            reopened = trio.current_time()
            stored = rig.files.breaker.load()
            assert isinstance(stored, Open) and stored.opened_at == EPOCH + opened
            rig.plex.up = True
            await trio.sleep(12.5)
            assert 8 <= rig.plex.probes[1] - reopened <= 12  # it backs off: 10 s ± 20 %
            assert isinstance(rig.breaker.state, HalfOpen) and await rig.gate.admit()
            await rig.job(JobSucceeded(scene_id=1, at=wall(), detail="ok"))
    [record] = rig.outages()
    assert record.started_at == EPOCH + opened and record.probes == 2
    assert record.ended_at == wall() and rig.said("Circuit OPEN again")


async def test_restart_mid_outage_continues_the_schedule_and_the_record(
    rig: Rig, autojump_clock: MockClock
) -> None:
    with trio.fail_after(3600):
        async with rig.running():
            opened = await rig.open_circuit()
            await trio.sleep(50)  # probes near 5, 15 and 35 s failed; the next is due at ~75 s
        before = rig.files.recovery.load()
        assert before is not None and before.next_probe_at and before.interval == 40.0
        await trio.sleep(10)  # the process is gone for a while
        again = rig.restart()
        assert again.breaker.state == rig.breaker.state and again.health.schedule == before
        async with again.running():
            await trio.sleep(before.next_probe_at - wall() + 73)
            probes = again.plex.probes
            assert len(probes) == 5 and probes[3] == pytest.approx(before.next_probe_at - EPOCH)
            assert 48 <= probes[4] - probes[3] <= 72  # 40 doubled, capped at 60
            closed = await again.until_closed()  # the authenticated read was the trial
    [record] = again.outages()
    assert record.started_at == EPOCH + opened and record.probes == len(probes) == 6
    assert record.ended_at == at(closed) and again.warnings == []


async def test_restart_in_half_open_admits_one_new_trial(
    rig: Rig, autojump_clock: MockClock
) -> None:
    rig.queue.enqueue_many([1, 2], reason="hook", now=wall())
    with trio.fail_after(600):
        async with rig.running():
            await rig.open_circuit()
            rig.plex.up = True
            await trio.sleep(7)
            assert await rig.gate.admit() and rig.gate.trial_claimed  # then the process dies
        stored = rig.files.breaker.load()
        assert isinstance(stored, HalfOpen) and stored.trial_started
        async with rig.restart().running() as again:
            again.start_drain(hold=1.0)
            await trio.sleep(10)
    assert [state for _, state in again.admitted].count("half_open") == 1
    assert [record.ongoing for record in again.outages()] == [False]


async def test_ramp_follows_the_policy_within_five_percent_and_resumes_after_a_restart(
    rig: Rig, autojump_clock: MockClock
) -> None:
    rig.queue.enqueue(1, reason="hook", now=wall())  # a ready job: the trial is a job
    with trio.fail_after(3600):
        async with rig.running():
            await rig.open_circuit()
            rig.start_drain()
            closed = await rig.until_closed()
            await trio.sleep(closed + 150 - trio.current_time())  # half way up, the process dies
        schedule = rig.files.recovery.load()
        assert schedule is not None and schedule.ramp_start == at(closed)
        await trio.sleep(5)
        async with rig.restart().running() as again:
            again.start_drain()  # it records into the same `admitted` list
            await trio.sleep(closed + 330 - trio.current_time())
    after = [t - closed for t, state in rig.admitted if state == "closed"]
    assert 10 / after[9] == pytest.approx(RAMP.initial_rate, rel=0.05)  # the first 10 jobs
    for a, b in [(140, 150), (155, 165), (290, 300)]:  # middle, middle after the restart, end
        assert rig.rate(closed + a, closed + b) == pytest.approx(policy_rate(a, b), rel=0.05)
    assert rig.rate(closed + 300, closed + 330) == pytest.approx(RAMP.max_rate, rel=0.01)
    for a in range(0, 320, 20):  # rates are caps: never above the policy
        assert rig.rate(closed + a, closed + a + 20) <= policy_rate(a, a + 20) + 0.05


async def test_ramp_halves_when_over_thirty_percent_fail_but_never_below_one_per_second(
    rig: Rig, autojump_clock: MockClock
) -> None:
    seven_in_twenty = [False, True, True] * 6 + [False]  # never 3 in a row: the circuit stays
    rig.queue.enqueue(1, reason="hook", now=wall())
    with trio.fail_after(3600):
        async with rig.running():
            await rig.open_circuit()
            rig.start_drain()
            closed = await rig.until_closed()
            await trio.sleep(closed + 100 - trio.current_time())
            rig.script = list(seven_in_twenty)
            await trio.sleep(5)
            assert rig.gate.bucket.factor == 0.5 and rig.said("rate halved to")
            await trio.sleep(20)
            rig.script = seven_in_twenty * 5
            await trio.sleep(95)
            assert rig.script == [] and rig.gate.current_rate() == 1.0
            await trio.sleep(25)
    halved = rig.rate(closed + 105, closed + 125)
    assert halved == pytest.approx(policy_rate(105, 125) / 2, rel=0.05)
    assert rig.rate(closed + 220, closed + 245) == pytest.approx(1.0, rel=0.05)
    assert isinstance(rig.breaker.state, Closed)


async def test_one_hour_outage_and_recovery_through_the_real_drain(
    rig: Rig, autojump_clock: MockClock
) -> None:
    scenes = list(range(1, 7))
    rig.queue.enqueue_many(scenes, reason="hook", now=wall())
    with trio.fail_after(2 * 3600):
        async with rig.running():
            rig.plex.up_at = 3600.0
            assert "idle" in await rig.drain.run()
    # The failures that opened it; while OPEN nothing; one trial; then the five other scenes.
    assert rig.plex.syncs == ["closed"] * THRESHOLD + ["half_open"] + ["closed"] * 5
    assert rig.queue.pending_count() == 0 and rig.queue.dead_letters() == []
    [record] = rig.outages()
    assert record.ended_at is not None and 3600 <= record.ended_at - EPOCH <= 3600 + 72
    assert rig.queue.affected_scene_ids(record.id) == set(scenes)
    assert record.jobs_affected == len(scenes) and record.first_error == "PlexServerDown"
    assert record.probes == len(rig.plex.probes) and rig.plex.reads == []
    assert rig.said("Circuit HALF_OPEN") and rig.said("Circuit CLOSED: Plex recovered after 1h")


async def test_trial_reads_close_at_once_are_recorded_and_failed_ones_keep_probing(
    rig: Rig, autojump_clock: MockClock
) -> None:
    async with rig.running():
        for n in range(20):  # the queue is empty: each trial is an authenticated read
            rig.plex.up = False
            await rig.open_circuit(first_scene=10 * n)
            closed = await rig.until_closed()
            await trio.sleep(1)
            schedule = rig.files.recovery.load()
            assert schedule is not None and closed - rig.plex.probes[-1] < 1
            assert schedule.last_recovery_at == schedule.ramp_start == at(closed)
        await rig.open_circuit(first_scene=1000)
        rig.plex.read_error = PlexTemporaryError("Plex is still starting up", status=503)
        probes = len(rig.plex.probes)
        await trio.sleep(1800)
        assert len(rig.plex.probes) - probes >= 25  # at most one a minute once backed off
        rig.plex.read_error = None
        await trio.sleep(75)
        assert isinstance(rig.breaker.state, Closed) and len(rig.outages()) == 21


async def test_jobs_queued_after_a_recovery_while_idle_still_ramp(
    rig: Rig, autojump_clock: MockClock
) -> None:
    async with rig.running():
        await rig.open_circuit()
        closed = await rig.until_closed()  # the trial was an authenticated read
        await trio.sleep(10)
        rig.start_drain()
        await trio.sleep(10)
    began = rig.admitted[0][0]
    expected = policy_rate(began - closed, began - closed + 10)
    assert rig.rate(began, began + 10) == pytest.approx(expected, rel=0.05)


# -- what a failure costs a job: the breaker decides first (contract §8) ----------------------


async def test_the_failure_that_opens_the_circuit_never_dead_letters_its_job(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    """max_retries == threshold: the failure that opens the circuit is also the job's last
    allowed one. It waits out the outage, gets its attempts back, and syncs."""
    settings = attrs.evolve(SETTINGS, max_retries=THRESHOLD)
    with JobQueue(tmp_path) as queue:
        rig = Rig(tmp_path, queue, FakePlex(), [], settings)
        rig.plex.up = True
        rig.plex.answer_503.add(1)  # a burst of 503s: Plex is overloaded
        queue.enqueue(1, reason="hook", now=wall())
        with trio.fail_after(3600):
            async with rig.running(), trio.open_nursery() as drain:
                drain.start_soon(rig.drain.run)
                while not isinstance(rig.breaker.state, Open):
                    await rig.breaker.watch.wait_changed()
                assert queue.dead_letters() == [] and queue.pending_scene_ids() == {1}
                rig.plex.answer_503.clear()  # the burst is over
                while queue.pending_count():
                    await trio.sleep(1)
                drain.cancel_scope.cancel()
        assert queue.dead_letters() == [] and isinstance(rig.breaker.state, Closed)
        assert rig.plex.syncs.count("half_open") == 1


async def test_one_item_plex_refuses_among_healthy_ones_still_reaches_the_dlq(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    async def saves_keep_coming() -> None:
        for scene in range(2, 120):  # other scenes are saved and synced all along
            queue.enqueue(scene, reason="hook", now=wall())
            await trio.sleep(1)

    with JobQueue(tmp_path) as queue:
        rig = Rig(tmp_path, queue, FakePlex(), [])
        rig.plex.up = True
        rig.plex.answer_503.add(1)
        queue.enqueue(1, reason="hook", now=wall())
        with trio.fail_after(3600):
            async with rig.running(), trio.open_nursery() as nursery:
                nursery.start_soon(saves_keep_coming)
                assert "idle" in await rig.drain.run()
                assert all(state == "closed" for state in rig.plex.syncs)
        [entry] = queue.dead_letters()
        assert entry.scene_id == 1 and entry.attempts == SETTINGS.max_retries
        assert rig.outages() == ()


async def test_a_trial_that_never_reached_plex_does_not_close_the_circuit(
    rig: Rig, autojump_clock: MockClock
) -> None:
    rig.plex.deleted.add(1)  # the first scene in line was deleted in Stash meanwhile
    rig.queue.enqueue_many([1, 2], reason="hook", now=wall())
    with trio.fail_after(600):
        async with rig.running():
            await rig.open_circuit()
            rig.plex.up = True
            async with trio.open_nursery() as drain:
                drain.start_soon(rig.drain.run)
                while not isinstance(rig.breaker.state, Closed):
                    await trio.sleep(0.5)
                drain.cancel_scope.cancel()
            await rig.until_closed()
    # The deleted scene's "trial" asked nothing of Plex: the next one, a real answer, closed it.
    assert rig.plex.syncs[:2] == ["half_open", "half_open"]
    [record] = rig.outages()
    assert record.ended_at is not None


# -- the mechanisms the outage promises rest on, each pinned by a test ------------------------


async def test_attempts_charged_in_the_failures_that_open_the_circuit_are_given_back(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    with JobQueue(tmp_path) as queue:
        rig = Rig(tmp_path, queue, FakePlex(), [])
        rig.plex.up = True
        rig.plex.answer_503.update({1, 2, 3})  # Plex overloaded: 503 for each
        queue.enqueue_many([1, 2, 3], reason="hook", now=wall())
        with trio.fail_after(600):
            async with rig.running(), trio.open_nursery() as drain:
                drain.start_soon(rig.drain.run)
                while not isinstance(rig.breaker.state, Open):
                    await rig.breaker.watch.wait_changed()
                await wait_all_tasks_blocked()
                drain.cancel_scope.cancel()
        rows = queue._db.execute("SELECT attempts, history FROM jobs ORDER BY scene_id")
        for attempts, history in rows.fetchall():
            assert attempts == 0  # a 503 burst that opened the circuit used up nothing
            assert '"charged": false' in history and '"charged": true' not in history
        assert rig.said("attempts given back to 3 jobs")


async def test_no_job_is_sent_after_the_failure_that_opens_the_circuit(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    """The gate waits until the breaker has seen each outcome before admitting the next job.
    A slow Plex leaves the token bucket full, so nothing else makes the drain wait; run it many
    times, since without that wait the extra job slips through only sometimes."""
    for round_ in range(25):
        data_dir = tmp_path / f"round-{round_}"
        with JobQueue(data_dir) as queue:
            rig = Rig(data_dir, queue, FakePlex(), [])
            rig.plex.up = True
            rig.plex.latency = 1.0
            rig.plex.answer_503.update(range(1, 11))
            queue.enqueue_many(list(range(1, 11)), reason="hook", now=wall())
            with trio.fail_after(600):
                async with rig.running(), trio.open_nursery() as drain:
                    drain.start_soon(rig.drain.run)
                    while not isinstance(rig.breaker.state, Open):
                        await rig.breaker.watch.wait_changed()
                    await trio.sleep(1)  # the circuit is open: nothing more may be sent
                    drain.cancel_scope.cancel()
        assert rig.plex.syncs == ["closed"] * THRESHOLD, (round_, rig.plex.syncs)


async def test_jobs_that_waited_out_the_outage_are_ready_the_moment_plex_answers(
    rig: Rig, autojump_clock: MockClock
) -> None:
    """At HALF_OPEN the jobs held back by the outage become ready at once: the trial is one of
    them, and the rest drain right after the circuit closes, not at their long backoff."""
    now = wall()
    rig.queue.enqueue_many([1, 2, 3], reason="hook", now=now)
    for scene in (1, 2, 3):
        job = rig.queue.lease_next(owner="t", now=now, lease_seconds=60)
        assert job is not None and job.scene_id == scene
        down = Failure("PlexServerDown", "refused", None, now, False)
        rig.queue.retry(job, down, retry_at=now + 3600)  # backed off for an hour
    with trio.fail_after(600):
        async with rig.running(), trio.open_nursery() as drain:
            await rig.open_circuit(first_scene=10)
            drain.start_soon(rig.drain.run)
            closed = await rig.until_closed()
            while rig.queue.pending_count():
                await trio.sleep(0.5)
            assert trio.current_time() - closed < 30
            drain.cancel_scope.cancel()
    assert rig.plex.reads == [] and rig.plex.syncs.count("half_open") == 1  # a job was the trial
