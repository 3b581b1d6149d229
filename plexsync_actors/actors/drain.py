"""DrainActor: leases jobs one at a time, syncs them, records the outcome.

Writes to Plex go one at a time (PMS struggles with concurrent edits). Before each job the actor
waits on a `Gate`, the seam through which the breaker and the token bucket throttle it. Outcomes go
out on a channel so other actors (the breaker, progress reporting) can react.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from plexsync_actors.actors.doorbell import Doorbell
from plexsync_actors.core.retry import (
    Drop,
    GiveUp,
    Retry,
    RetryPolicy,
    decide,
    poster_retry_at,
)
from plexsync_actors.errors import OUTAGE_ERROR_TYPES, JobError, StashUnavailable
from plexsync_actors.messages.jobs import (
    JobFailed,
    JobHeldBack,
    JobOutcome,
    JobSucceeded,
    SyncResult,
)
from plexsync_actors.persistence.database import POSTER_RETRY, Failure, Job
from plexsync_actors.persistence.jobs import JobQueue

log = logging.getLogger(__name__)

# Hooks add jobs from other processes and ring the doorbell (actors/doorbell.py); SQLite cannot
# notify us, so an idle drainer also looks again this often, in case a ring was lost. Cheap (one
# indexed read).
POLL_SECONDS = 0.2
LEASE_SECONDS = 300.0


class Gate(Protocol):
    """The seam through which the breaker and the token bucket throttle the drain."""

    @property
    def closed(self) -> bool:
        """True when the circuit is closed (idle exit is allowed only then)."""

    async def admit(self) -> bool:
        """Wait until the next job may be sent; False means stop (circuit open, foreground)."""

    def nothing_sent(self) -> None:
        """Admitted, but no job was ready after all."""

    def record(self, ok: bool) -> None:
        """The outcome of a job that was sent."""

    async def still_closed(self) -> bool:
        """Once the breaker has seen every recorded outcome: is the circuit still closed?"""


class OpenGate:
    """A gate that always admits: for runs without the outage actors."""

    closed = True

    async def admit(self) -> bool:
        await trio.lowlevel.checkpoint()
        return True

    def nothing_sent(self) -> None:
        return None

    def record(self, ok: bool) -> None:
        return None

    async def still_closed(self) -> bool:
        await trio.lowlevel.checkpoint()
        return True


class Syncer(Protocol):
    @property
    def plex_answers(self) -> int:
        """Answers Plex has sent so far: an attempt that added none never reached Plex."""

    async def sync(self, scene_id: int, *, poster_only: bool = False) -> SyncResult: ...


@attrs.frozen(kw_only=True)
class DrainPolicy:
    retry: RetryPolicy
    idle_exit_seconds: float | None  # None: never exit for idleness
    stop_when_nothing_ready: bool = False  # the foreground `process_queue` mode
    max_lifetime_seconds: float | None = None


class StopDraining(Exception):
    """Raised inside the actor to end the run (Stash unavailable)."""


class DrainActor:
    def __init__(
        self,
        *,
        queue: JobQueue,
        syncer: Syncer,
        policy: DrainPolicy,
        wall_now: Callable[[], float],
        outcomes: trio.MemorySendChannel[JobOutcome],
        gate: Gate | None = None,
        owner: str = "drainer",
        rng: random.Random | None = None,
        doorbell: Doorbell | None = None,
        more_work: Callable[[], bool] = lambda: False,
    ) -> None:
        self._queue = queue
        self._syncer = syncer
        self._policy = policy
        self._now = wall_now
        self._outcomes = outcomes
        self._gate = gate or OpenGate()
        self._owner = owner
        self._rng = rng or random.Random()
        self._doorbell = doorbell or Doorbell()  # nobody rings it: a plain poll
        self._more_work = more_work  # work that is not a job yet (a fan-out to expand)
        self.stop_reason = ""

    async def run(self) -> str:
        """Drain until idle, out of work (foreground), the circuit opens (foreground), past the
        lifetime, or Stash is gone. Returns why it stopped."""
        idle_since = trio.current_time()
        lifetime = self._policy.max_lifetime_seconds
        deadline = trio.current_time() + lifetime if lifetime is not None else float("inf")
        with self._outcomes, trio.move_on_at(deadline):
            while True:
                if not self._queue.has_ready(now=self._now()):
                    if self._policy.stop_when_nothing_ready:
                        return self._stop("nothing left that is ready")
                    idle = self._queue.pending_count() == 0 and not self._more_work()
                    if idle and self._gate.closed:
                        idle_for = trio.current_time() - idle_since
                        limit = self._policy.idle_exit_seconds
                        if limit is not None and idle_for >= limit:
                            return self._stop(f"idle for {idle_for:.0f} s")
                    else:
                        idle_since = trio.current_time()
                    await self._doorbell.wait(POLL_SECONDS)
                    continue
                if not await self._gate.admit():
                    return self._stop("the circuit is open")
                job = self._queue.lease_next(
                    owner=self._owner, now=self._now(), lease_seconds=LEASE_SECONDS
                )
                if job is None:
                    self._gate.nothing_sent()
                    continue
                idle_since = trio.current_time()
                try:
                    await self._attempt(job)
                except StopDraining as exc:
                    return self._stop(str(exc))
        return self._stop("reached its maximum lifetime")

    def _stop(self, reason: str) -> str:
        self.stop_reason = reason
        return reason

    async def _attempt(self, job: Job) -> None:
        answers = self._syncer.plex_answers
        try:
            result = await self._syncer.sync(
                job.scene_id, poster_only=job.reason == POSTER_RETRY
            )
        except StashUnavailable as exc:
            self._queue.release(job, retry_at=self._now())
            await self._outcomes.send(
                JobHeldBack(scene_id=job.scene_id, at=self._now(), reason=str(exc))
            )
            raise StopDraining(f"Stash is unavailable ({exc})") from exc
        except JobError as exc:
            await self._failed(job, exc, reached=self._syncer.plex_answers > answers)
            return
        except BaseException:
            # Cancelled or a bug: the lease is given back so nothing is lost.
            self._queue.release(job, retry_at=self._now())
            raise
        self._gate.record(True)
        now = self._now()
        poster_at = poster_retry_at(
            pending=result.poster_pending,
            retries_so_far=job.poster_retries,
            policy=self._policy.retry,
            now=now,
        )
        newest = self._queue.complete(job, now=now, poster_retry_at=poster_at)
        log.debug(
            "Scene %s synced (%s)%s%s",
            job.scene_id,
            result.detail,
            "" if newest else "; newer change queued",
            "" if poster_at is None else f"; its poster is tried again in {poster_at - now:.0f} s",
        )
        reached = self._syncer.plex_answers > answers
        await self._outcomes.send(
            JobSucceeded(
                scene_id=job.scene_id, at=self._now(), detail=result.detail, reached_plex=reached
            )
        )

    async def _failed(self, job: Job, exc: JobError, *, reached: bool) -> None:
        now = self._now()
        outage = exc.error_type in OUTAGE_ERROR_TYPES
        self._gate.record(not outage)
        decision = decide(
            error_type=exc.error_type,
            attempts=job.attempts,
            notfound_attempts=job.notfound_attempts,
            failures=job.failures,
            policy=self._policy.retry,
            now=now,
            jitter=self._rng.random(),
        )
        charged = isinstance(decision, GiveUp) or (isinstance(decision, Retry) and decision.charged)
        failure = Failure(
            error_type=exc.error_type,
            message=str(exc),
            http_status=exc.status,
            at=now,
            charged=charged,
        )
        # An outage-type failure is dead-lettered only once the breaker has seen it and the
        # circuit is still closed (contract §8): until then the job waits in the queue.
        give_up_later = outage and isinstance(decision, GiveUp)
        retry_at: float | None = None
        match decision:
            case Retry():
                self._queue.retry(job, failure, retry_at=decision.at, notfound=decision.notfound)
                retry_at = decision.at
                log.info(
                    "Scene %s failed with %s (%s); retrying in %.1f s.",
                    job.scene_id,
                    exc.error_type,
                    exc,
                    decision.at - now,
                )
            case GiveUp() if give_up_later:
                retry_at = now + self._policy.retry.base_seconds
                self._queue.retry(job, failure, retry_at=retry_at)
            case GiveUp():
                self._dead_letter(job, failure, exc)
            case Drop():
                self._queue.complete(job, now=now)
                log.info("Scene %s skipped: %s.", job.scene_id, decision.reason)
        await self._outcomes.send(
            JobFailed(
                scene_id=job.scene_id,
                at=now,
                error_type=exc.error_type,
                message=str(exc),
                http_status=exc.status,
                retry_at=retry_at,
                reached_plex=reached,
            )
        )
        if not give_up_later:
            return
        if await self._gate.still_closed():
            # One item failing while Plex answers the rest: its charges stand.
            if self._queue.dead_letter_waiting(job):
                self._log_dead_letter(job, exc)
        else:
            # The failure opened the circuit, or came while it was not closed: Plex is away,
            # so the attempts it used in the outage are given back, as to every waiting job.
            self._queue.refund_attempts(since=now)

    def _dead_letter(self, job: Job, failure: Failure, exc: JobError) -> None:
        self._queue.dead_letter(job, failure)
        self._log_dead_letter(job, exc)

    def _log_dead_letter(self, job: Job, exc: JobError) -> None:
        log.warning(
            "Scene %s moved to the dead-letter queue: %s (%s). Fix the cause, then run "
            "'Requeue Dead Letters'.",
            job.scene_id,
            exc.error_type,
            exc,
        )
