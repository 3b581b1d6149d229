"""HealthActor: probes `GET /identity` while the circuit is not closed (HLTH-01, HLTH-03).

Intervals back off 5 → 60 s with jitter; the schedule lives in `recovery.json`, so a restarted
drainer continues it (STAT-02). In HALF_OPEN with no job ready, the trial is an authenticated
read made here.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Protocol

import trio

from plexsync_actors.actors.breaker import BreakerActor
from plexsync_actors.core import breaker as core
from plexsync_actors.core import health as schedule_core
from plexsync_actors.errors import PlexError
from plexsync_actors.messages.health import (
    HealthReport,
    ProbeFailed,
    ProbeSucceeded,
    TrialReadFailed,
    TrialReadSucceeded,
)
from plexsync_actors.messages.outages import ProbeSent, RecorderMessage
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.persistence.state_files import StateFile

log = logging.getLogger(__name__)


class Prober(Protocol):
    async def probe(self) -> float:
        """Latency of `GET /identity` in ms; raises PlexError."""

    async def authenticated_read(self) -> None:
        """A cheap read that needs the token; raises PlexError."""


class HealthActor:
    def __init__(
        self,
        *,
        breaker: BreakerActor,
        prober: Prober,
        schedule: schedule_core.ProbeSchedule,
        policy: schedule_core.ProbePolicy,
        store: StateFile[schedule_core.ProbeSchedule],
        queue: JobQueue,
        wall_now: Callable[[], float],
        reports: trio.MemorySendChannel[HealthReport],
        recorder: trio.MemorySendChannel[RecorderMessage],
        rng: random.Random | None = None,
        on_probe: Callable[[], None] | None = None,
    ) -> None:
        self._breaker = breaker
        self._prober = prober
        self.schedule = schedule
        self._policy = policy
        self._store = store
        self._queue = queue
        self._now = wall_now
        self._reports = reports
        self._recorder = recorder
        self._rng = rng or random.Random()
        self._on_probe = on_probe  # told of every probe (the drainer re-reads its settings)

    def _save(self, schedule: schedule_core.ProbeSchedule) -> None:
        if schedule != self.schedule:
            self.schedule = schedule
            self._store.save(schedule)

    async def run(self) -> None:
        with self._reports, self._recorder:
            previous: core.BreakerState | None = None
            while True:
                state = self._breaker.state
                match state:
                    case core.Closed():
                        if previous is not None and not isinstance(previous, core.Closed):
                            recovered_at = self._breaker.closed_at or self._now()
                            self._save(
                                schedule_core.on_recovered(
                                    self.schedule, recovered_at, self._policy
                                )
                            )
                        previous = state
                        await self._until_changed(state)
                    case core.Open():
                        self._on_open(previous, state)
                        previous = state
                        await self._wait_and_probe()
                    case core.HalfOpen():
                        previous = state
                        await self._half_open()

    def _on_open(self, previous: core.BreakerState | None, state: core.Open) -> None:
        draw = self._rng.random()
        now = self._now()
        if isinstance(previous, core.Closed):
            self._save(
                schedule_core.on_opened(self.schedule, now, self._policy, draw, new_outage=True)
            )
        elif isinstance(previous, core.HalfOpen):
            self._save(
                schedule_core.on_opened(self.schedule, now, self._policy, draw, new_outage=False)
            )
        elif self.schedule.next_probe_at is None:
            # Restarted into an open circuit with no schedule (recovery.json lost): start one.
            self._save(
                schedule_core.on_opened(self.schedule, now, self._policy, draw, new_outage=True)
            )

    async def _wait_and_probe(self) -> None:
        due = self.schedule.next_probe_at
        delay = 0.0 if due is None else max(0.0, due - self._now())
        with trio.move_on_after(delay):
            await self._breaker.watch.wait_changed()
            return  # the state changed while we waited: look again
        await self._recorder.send(ProbeSent(at=self._now()))
        if self._on_probe is not None:
            self._on_probe()
        try:
            latency = await self._prober.probe()
        except PlexError as exc:
            now = self._now()
            self._save(
                schedule_core.on_probe_failed(self.schedule, now, self._policy, self._rng.random())
            )
            log.debug("Health probe failed (%s); next in %.1f s", exc, self.schedule.interval)
            await self._reports.send(
                ProbeFailed(at=now, error_type=exc.error_type, message=str(exc))
            )
            return
        now = self._now()
        self._save(schedule_core.on_probe_ok(self.schedule, now))
        before = self._breaker.state
        await self._reports.send(ProbeSucceeded(at=now, latency_ms=latency))
        # Wait for the breaker to act on it; if it does not within an interval, probe again.
        with trio.move_on_after(max(self._policy.min_interval, 1.0)):
            await self._until_changed(before)

    async def _half_open(self) -> None:
        before = self._breaker.state
        if not self._queue.has_ready(now=self._now()) and self._breaker.claim_trial():
            before = self._breaker.state
            try:
                await self._prober.authenticated_read()
            except PlexError as exc:
                await self._reports.send(
                    TrialReadFailed(at=self._now(), error_type=exc.error_type, message=str(exc))
                )
            else:
                await self._reports.send(TrialReadSucceeded(at=self._now()))
        await self._until_changed(before)

    async def _until_changed(self, before: core.BreakerState) -> None:
        """Wait until the breaker's state is no longer `before` (it may already have moved on:
        the breaker can act on our report before we get here, and that wake-up is not lost)."""
        while self._breaker.state is before:
            await self._breaker.watch.wait_changed()
