"""BreakerActor: owns the circuit-breaker state, persists every transition, tells the others.

Inputs: job outcomes (passive signals) and health reports (active probes), HLTH-02. Effects of
the pure core are applied here: persist `breaker.json`, announce the transition in one
sentence (VISB-02), start or end the outage record, give back attempts charged in the outage
window, and wake the jobs that waited out the outage once Plex answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs
import trio

from plexsync_actors.actors.announce import Announcer, counted, human_seconds
from plexsync_actors.actors.watch import Watch
from plexsync_actors.core import breaker as core
from plexsync_actors.core.never import assert_never
from plexsync_actors.messages.health import (
    HealthReport,
    ProbeFailed,
    ProbeSucceeded,
    TrialReadFailed,
    TrialReadSucceeded,
)
from plexsync_actors.messages.jobs import JobFailed, JobHeldBack, JobOutcome, JobSucceeded
from plexsync_actors.messages.outages import OutageEnded, OutageStarted, RecorderMessage
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.state_files import StateFile

log = logging.getLogger(__name__)
BreakerInput = JobOutcome | HealthReport


class BreakerActor:
    def __init__(
        self,
        *,
        state: core.BreakerState,
        policy: core.BreakerPolicy,
        store: StateFile[core.BreakerState],
        queue: JobQueue,
        announce: Announcer,
        wall_now: Callable[[], float],
        recorder: trio.MemorySendChannel[RecorderMessage],
        first_probe_seconds: float,
    ) -> None:
        self.watch: Watch[core.BreakerState] = Watch(state)
        self._policy = policy
        self._store = store
        self._queue = queue
        self._announce = announce
        self._now = wall_now
        self._recorder = recorder
        self._first_probe = first_probe_seconds
        self.closed_at: float | None = None  # when the circuit last closed (the ramp starts)
        self.outcomes_seen = 0  # job outcomes (succeeded or failed) applied so far

    @property
    def state(self) -> core.BreakerState:
        return self.watch.value

    def claim_trial(self) -> bool:
        """Take the one half-open trial slot (atomic: no await between check and claim)."""
        state = self.state
        if not isinstance(state, core.HalfOpen) or state.trial_started:
            return False
        self._apply(core.TrialStarted(at=self._now()))
        return True

    def release_trial(self) -> None:
        """The claimed trial found nothing to send: free the slot for the next one."""
        state = self.state
        if isinstance(state, core.HalfOpen) and state.trial_started:
            self._publish(attrs.evolve(state, trial_started=False))

    async def run(self, inbox: trio.MemoryReceiveChannel[BreakerInput]) -> None:
        with inbox, self._recorder:
            async for message in inbox:
                event = _event_for(message)
                if event is not None:
                    effects = self._apply(event)
                    for effect in effects:
                        await self._after(effect)
                if isinstance(message, JobSucceeded | JobFailed):
                    # The gate waits for this before admitting the next job, so a failure that
                    # opens the circuit stops the very next send (no job slips through).
                    self.outcomes_seen += 1
                    self.watch.publish(self.state)

    def _apply(self, event: core.BreakerEvent) -> tuple[core.Effect, ...]:
        new, effects = core.step(self.state, event, self._policy)
        for effect in effects:
            if isinstance(effect, core.ClosedAgain):
                self.closed_at = effect.at
        if new != self.state:
            self._publish(new)
        return effects

    def _publish(self, state: core.BreakerState) -> None:
        self._store.save(state)
        self.watch.publish(state)

    async def _after(self, effect: core.Effect) -> None:
        match effect:
            case core.Opened(state=state, new_outage=new_outage):
                if new_outage:
                    await self._outage_began(state)
                else:
                    self._queue.refund_attempts(since=state.first_failure_at)
                    reason = _short(state.last_error_message)
                    self._announce.info(
                        f"Circuit OPEN again: the trial failed ({reason}); "
                        "the outage continues and probing backs off."
                    )
            case core.HalfOpened(state=state):
                self._queue.wake_outage_jobs(now=self._now())
                trial = "job" if self._queue.pending_count() else "read"
                self._announce.info(
                    f"Circuit HALF_OPEN: Plex answered /identity in "
                    f"{state.probe_latency_ms:.0f} ms; sending one trial {trial}."
                )
            case core.ClosedAgain(at=at):
                await self._recorder.send(OutageEnded(ended_at=at))
            case _:
                assert_never(effect)

    async def _outage_began(self, state: core.Open) -> None:
        refunded = self._queue.refund_attempts(since=state.first_failure_at)
        self._announce.info(
            f"Circuit OPEN after {state.consecutive_failures} consecutive failures "
            f"({state.first_error}: {_short(state.last_error_message)}); queue paused, "
            f"next health probe in {human_seconds(self._first_probe)}"
            + (f"; attempts given back to {counted(refunded, 'job')}" if refunded else "")
            + "."
        )
        await self._recorder.send(
            OutageStarted(
                first_failure_at=state.first_failure_at,
                started_at=state.opened_at,
                first_error=state.first_error,
            )
        )


def _event_for(message: BreakerInput) -> core.BreakerEvent | None:
    match message:
        case JobSucceeded(at=at, reached_plex=reached):
            return core.Succeeded(at=at, reached=reached)
        case TrialReadSucceeded(at=at):
            return core.Succeeded(at=at)
        case JobFailed(at=at, error_type=kind, message=text, reached_plex=reached):
            return core.Failed(at=at, error_type=kind, message=text, reached=reached)
        case TrialReadFailed(at=at, error_type=kind, message=text):
            return core.Failed(at=at, error_type=kind, message=text)
        case ProbeSucceeded(at=at, latency_ms=latency):
            return core.ProbeOk(at=at, latency_ms=latency)
        case ProbeFailed(at=at, error_type=kind, message=text):
            return core.ProbeNotOk(at=at, error_type=kind, message=text)
        case JobHeldBack():
            return None
        case _:
            assert_never(message)


def _short(message: str | None) -> str:
    text = (message or "").strip().rstrip(".")
    return text if len(text) <= 160 else text[:157] + "..."
