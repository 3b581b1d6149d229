"""The circuit breaker: a pure state machine (h11 style: every transition in this file).

CLOSED counts consecutive outage-type failures (`PlexServerDown`, `PlexTemporaryError`,
`PlexUnauthorized`) and opens at the threshold. OPEN sends nothing; a successful health probe
moves it to HALF_OPEN, which admits one trial (a job, or an authenticated read when the queue is
empty). The trial's success closes the circuit; its failure re-opens it within the same outage.
Only an attempt Plex answered closes the circuit: a trial that never reached Plex (its scene
was deleted in Stash, or has no file) frees the slot for the next one. `step` returns the new
state and the effects the actor shell must apply.
"""

from __future__ import annotations

import attrs

from plexsync_actors.errors import OUTAGE_ERROR_TYPES


@attrs.frozen(kw_only=True)
class BreakerPolicy:
    failure_threshold: int


@attrs.frozen(kw_only=True)
class Closed:
    consecutive_failures: int = 0
    first_failure_at: float | None = None
    first_error: str | None = None
    last_error_message: str | None = None
    name: str = attrs.field(default="closed", init=False)


@attrs.frozen(kw_only=True)
class Open:
    opened_at: float
    first_failure_at: float
    consecutive_failures: int
    first_error: str
    last_error_message: str
    name: str = attrs.field(default="open", init=False)


@attrs.frozen(kw_only=True)
class HalfOpen:
    opened_at: float
    first_failure_at: float
    consecutive_failures: int
    first_error: str
    last_error_message: str
    trial_started: bool = False
    probe_latency_ms: float = 0.0
    name: str = attrs.field(default="half_open", init=False)


BreakerState = Closed | Open | HalfOpen


# -- events -------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Succeeded:
    """A real job (or the half-open trial read) succeeded; `reached` when Plex answered it."""

    at: float
    reached: bool = True


@attrs.frozen(kw_only=True)
class Failed:
    """A real job (or the trial read) failed with `error_type`; `reached` when Plex answered."""

    at: float
    error_type: str
    message: str
    reached: bool = True


@attrs.frozen(kw_only=True)
class ProbeOk:
    at: float
    latency_ms: float


@attrs.frozen(kw_only=True)
class ProbeNotOk:
    """A health probe failed (the message `messages.health.ProbeFailed` carries it here)."""

    at: float
    error_type: str
    message: str


@attrs.frozen(kw_only=True)
class TrialStarted:
    at: float


BreakerEvent = Succeeded | Failed | ProbeOk | ProbeNotOk | TrialStarted


# -- effects ------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Opened:
    """The circuit opened: a new outage began (or a half-open trial failed inside one)."""

    state: Open
    new_outage: bool


@attrs.frozen(kw_only=True)
class HalfOpened:
    state: HalfOpen


@attrs.frozen(kw_only=True)
class ClosedAgain:
    """The outage is over: Plex recovered at `at`."""

    at: float
    opened_at: float
    first_failure_at: float


Effect = Opened | HalfOpened | ClosedAgain


def is_outage_error(error_type: str) -> bool:
    return error_type in OUTAGE_ERROR_TYPES


def step(
    state: BreakerState, event: BreakerEvent, policy: BreakerPolicy
) -> tuple[BreakerState, tuple[Effect, ...]]:
    """Apply one event; pure."""
    match state:
        case Closed():
            return _closed(state, event, policy)
        case Open():
            return _open(state, event)
        case HalfOpen():
            return _half_open(state, event)


def _closed(
    state: Closed, event: BreakerEvent, policy: BreakerPolicy
) -> tuple[BreakerState, tuple[Effect, ...]]:
    match event:
        case Succeeded(reached=False):
            return state, ()  # nothing was asked of Plex: no news of its health
        case Succeeded():
            return Closed(), ()
        case Failed() if is_outage_error(event.error_type):
            count = state.consecutive_failures + 1
            first_at = state.first_failure_at if state.first_failure_at is not None else event.at
            first_error = state.first_error or event.error_type
            if count >= policy.failure_threshold:
                opened = Open(
                    opened_at=event.at,
                    first_failure_at=first_at,
                    consecutive_failures=count,
                    first_error=first_error,
                    last_error_message=event.message,
                )
                return opened, (Opened(state=opened, new_outage=True),)
            return (
                Closed(
                    consecutive_failures=count,
                    first_failure_at=first_at,
                    first_error=first_error,
                    last_error_message=event.message,
                ),
                (),
            )
        case Failed():
            return state, ()  # not found / permanent: Plex answered, nothing about its health
        case _:
            return state, ()  # probes and trials mean nothing while closed


def _open(state: Open, event: BreakerEvent) -> tuple[BreakerState, tuple[Effect, ...]]:
    match event:
        case ProbeOk():
            half = HalfOpen(
                opened_at=state.opened_at,
                first_failure_at=state.first_failure_at,
                consecutive_failures=state.consecutive_failures,
                first_error=state.first_error,
                last_error_message=state.last_error_message,
                probe_latency_ms=event.latency_ms,
            )
            return half, (HalfOpened(state=half),)
        case ProbeNotOk():
            return attrs.evolve(state, last_error_message=event.message), ()
        case Failed() if is_outage_error(event.error_type):
            # A job that was already in flight when the circuit opened.
            return attrs.evolve(state, consecutive_failures=state.consecutive_failures + 1), ()
        case _:
            return state, ()


def _half_open(state: HalfOpen, event: BreakerEvent) -> tuple[BreakerState, tuple[Effect, ...]]:
    match event:
        case TrialStarted():
            return attrs.evolve(state, trial_started=True), ()
        case Succeeded(reached=False):
            # The trial never reached Plex (its scene was deleted, or has no file): only an
            # answer from Plex closes the circuit, so the slot goes to the next trial.
            return attrs.evolve(state, trial_started=False), ()
        case Failed(reached=False) if not is_outage_error(event.error_type):
            return attrs.evolve(state, trial_started=False), ()
        case Succeeded():
            return Closed(), (
                ClosedAgain(
                    at=event.at, opened_at=state.opened_at, first_failure_at=state.first_failure_at
                ),
            )
        case Failed() if is_outage_error(event.error_type):
            reopened = Open(
                opened_at=state.opened_at,
                first_failure_at=state.first_failure_at,
                consecutive_failures=state.consecutive_failures + 1,
                first_error=state.first_error,
                last_error_message=event.message,
            )
            return reopened, (Opened(state=reopened, new_outage=False),)
        case Failed():
            # The trial reached Plex and got a non-outage answer (e.g. not found): Plex is up.
            return Closed(), (
                ClosedAgain(
                    at=event.at, opened_at=state.opened_at, first_failure_at=state.first_failure_at
                ),
            )
        case _:
            return state, ()
