"""The drain's gate: the breaker decides whether anything may be sent; a token bucket how fast.

CLOSED admits at the bucket's rate (ramping after a recovery, RECV-04); HALF_OPEN admits the
one trial job; OPEN admits nothing (the foreground `process_queue` stops instead of waiting).
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from plexsync_actors.actors.announce import Announcer
from plexsync_actors.actors.breaker import BreakerActor
from plexsync_actors.core import breaker as breaker_core
from plexsync_actors.core import bucket as bucket_core


class BreakerGate:
    def __init__(
        self,
        *,
        breaker: BreakerActor,
        policy: bucket_core.RampPolicy,
        wall_now: Callable[[], float],
        announce: Announcer,
        ramp_start: float | None = None,
        stop_when_open: bool = False,
    ) -> None:
        self._breaker = breaker
        self._policy = policy
        self._now = wall_now
        self._announce = announce
        self._stop_when_open = stop_when_open
        # The recovery the current ramp started from (None: no ramp since this process began).
        self._ramp_from: float | None = None
        now = wall_now()
        resume = ramp_start is not None and now - ramp_start < policy.ramp_seconds
        self.bucket = (
            bucket_core.start_ramp(bucket_core.Bucket(), ramp_start)
            if resume and ramp_start is not None
            else bucket_core.Bucket()
        )
        self.trial_claimed = False
        self._recorded = 0  # outcomes recorded here; the breaker must have seen as many

    @property
    def closed(self) -> bool:
        return isinstance(self._breaker.state, breaker_core.Closed)

    def current_rate(self) -> float:
        return bucket_core.rate_at(self.bucket, self._now(), self._policy)

    async def admit(self) -> bool:
        """Wait until one job may be sent. False: the circuit is open and we must not wait."""
        self.trial_claimed = False
        await self._breaker_has_seen_all()
        while True:
            state = self._breaker.state
            if isinstance(state, breaker_core.Closed):
                self._ramp_after_recovery()
                self.bucket, wait = bucket_core.take(self.bucket, self._now(), self._policy)
                if wait <= 0.0:
                    return True
                # Trio wakes up to a millisecond late (epoll rounds timeouts up), more on a busy
                # machine: the bucket credits that to the next wait. Trimming the wait to wake
                # early instead would cost a second sleep of a whole millisecond.
                with trio.move_on_after(wait):
                    await self._breaker.watch.wait_changed()
                continue
            if isinstance(state, breaker_core.HalfOpen) and self._breaker.claim_trial():
                self.trial_claimed = True
                return True
            if isinstance(state, breaker_core.Open) and self._stop_when_open:
                return False
            await self._breaker.watch.wait_changed()

    async def still_closed(self) -> bool:
        """Once the breaker has seen every outcome recorded here: is the circuit closed?"""
        await self._breaker_has_seen_all()
        return self.closed

    async def _breaker_has_seen_all(self) -> None:
        while self._breaker.outcomes_seen < self._recorded:
            await self._breaker.watch.wait_changed()
        await trio.lowlevel.checkpoint()

    def nothing_sent(self) -> None:
        """Admitted, but there was no job after all: give the trial slot back."""
        if self.trial_claimed:
            self._breaker.release_trial()
            self.trial_claimed = False

    def record(self, ok: bool) -> None:
        """A sent job's outcome; the next admit waits until the breaker has seen it too."""
        self._recorded += 1
        before = self.bucket.factor
        self.bucket = bucket_core.record(self.bucket, ok, self._now(), self._policy)
        if self.bucket.factor < before:
            self._announce.info(
                "Recovery ramp: more than 30 % of the last 20 jobs failed; rate halved to "
                f"{self.current_rate():.1f} jobs/s."
            )

    def _ramp_after_recovery(self) -> None:
        """Start a ramp at each recovery, even one that happened while the drain was idle."""
        closed_at = self._breaker.closed_at
        if closed_at is not None and closed_at != self._ramp_from:
            self._ramp_from = closed_at
            self.bucket = bucket_core.start_ramp(self.bucket, closed_at)
