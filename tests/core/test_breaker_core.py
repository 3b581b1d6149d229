"""The circuit-breaker core: every transition, plus invariants over random event sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plexsync_actors.core.breaker import (
    BreakerEvent,
    BreakerPolicy,
    BreakerState,
    Closed,
    ClosedAgain,
    Failed,
    HalfOpen,
    HalfOpened,
    Open,
    Opened,
    ProbeNotOk,
    ProbeOk,
    Succeeded,
    TrialStarted,
    is_outage_error,
    step,
)

POLICY = BreakerPolicy(failure_threshold=3)
OUTAGE_TYPES = ["PlexServerDown", "PlexTemporaryError", "PlexUnauthorized"]
OTHER_TYPES = ["PlexNotFound", "PlexPermanentError"]


def down(at: float, error_type: str = "PlexServerDown") -> Failed:
    return Failed(at=at, error_type=error_type, message=f"{error_type} at {at}")


def open_state() -> Open:
    return Open(
        opened_at=30.0,
        first_failure_at=10.0,
        consecutive_failures=3,
        first_error="PlexServerDown",
        last_error_message="refused",
    )


def half_open_state(*, trial_started: bool = False) -> HalfOpen:
    return HalfOpen(
        opened_at=30.0,
        first_failure_at=10.0,
        consecutive_failures=3,
        first_error="PlexServerDown",
        last_error_message="refused",
        trial_started=trial_started,
        probe_latency_ms=12.0,
    )


def run(events: list[BreakerEvent], state: BreakerState | None = None) -> BreakerState:
    current: BreakerState = state or Closed()
    for event in events:
        current, _ = step(current, event, POLICY)
    return current


# -- CLOSED ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("error_type", OUTAGE_TYPES)
def test_breaker_opens_after_threshold_consecutive_outage_failures(error_type: str) -> None:
    state = run([down(10, error_type), down(20, error_type)])
    assert state == Closed(
        consecutive_failures=2,
        first_failure_at=10,
        first_error=error_type,
        last_error_message=f"{error_type} at 20",
    )
    opened, effects = step(state, down(30, error_type), POLICY)
    expected = Open(
        opened_at=30,
        first_failure_at=10,
        consecutive_failures=3,
        first_error=error_type,
        last_error_message=f"{error_type} at 30",
    )
    assert opened == expected
    assert effects == (Opened(state=expected, new_outage=True),)


def test_first_error_is_the_type_of_the_first_failure_of_the_run() -> None:
    state = run([down(1, "PlexTemporaryError"), down(2), down(3, "PlexUnauthorized")])
    assert isinstance(state, Open) and state.first_error == "PlexTemporaryError"


def test_threshold_of_one_opens_on_the_first_failure() -> None:
    state, effects = step(Closed(), down(5), BreakerPolicy(failure_threshold=1))
    assert isinstance(state, Open) and state.first_failure_at == 5 and len(effects) == 1


def test_success_resets_the_consecutive_failures() -> None:
    state, effects = step(run([down(1), down(2)]), Succeeded(at=3), POLICY)
    assert state == Closed() and effects == ()
    assert isinstance(run([down(4), down(5)], state), Closed)


@pytest.mark.parametrize("error_type", OTHER_TYPES)
def test_not_found_and_permanent_errors_never_count_toward_opening(error_type: str) -> None:
    start = run([down(1), down(2)])
    state, effects = step(start, down(3, error_type), POLICY)
    assert state == start and effects == ()
    assert run([down(n, error_type) for n in range(50)]) == Closed()


@pytest.mark.parametrize(
    "event", [ProbeOk(at=1, latency_ms=3), ProbeNotOk(at=1, error_type="X", message="m")]
)
def test_probes_mean_nothing_while_closed(event: BreakerEvent) -> None:
    start = run([down(0)])
    assert step(start, event, POLICY) == (start, ())


def test_trial_started_means_nothing_while_closed() -> None:
    assert step(Closed(), TrialStarted(at=1), POLICY) == (Closed(), ())


# -- OPEN -----------------------------------------------------------------------------------------
def test_successful_probe_moves_open_to_half_open() -> None:
    state, effects = step(open_state(), ProbeOk(at=40, latency_ms=12.0), POLICY)
    assert state == half_open_state()
    assert effects == (HalfOpened(state=half_open_state()),)


def test_failed_probe_keeps_the_circuit_open_with_the_latest_message() -> None:
    event = ProbeNotOk(at=40, error_type="PlexServerDown", message="still refused")
    state, effects = step(open_state(), event, POLICY)
    assert isinstance(state, Open) and effects == ()
    assert state.last_error_message == "still refused" and state.opened_at == 30


def test_in_flight_outage_failure_while_open_only_counts() -> None:
    state, effects = step(open_state(), down(35), POLICY)
    assert isinstance(state, Open) and state.consecutive_failures == 4 and effects == ()


@pytest.mark.parametrize(
    "event",
    [
        Succeeded(at=35),
        down(35, "PlexNotFound"),
        down(35, "PlexPermanentError"),
        TrialStarted(at=35),
    ],
)
def test_open_ignores_job_results_other_than_outage_failures(event: BreakerEvent) -> None:
    # Only a probe may end OPEN: nothing is sent while it is open.
    assert step(open_state(), event, POLICY) == (open_state(), ())


# -- HALF_OPEN ------------------------------------------------------------------------------------
def test_trial_started_marks_the_single_trial_slot_taken() -> None:
    state, effects = step(half_open_state(), TrialStarted(at=41), POLICY)
    assert state == half_open_state(trial_started=True) and effects == ()


@pytest.mark.parametrize("trial_started", [True, False])
def test_trial_success_closes_the_circuit(trial_started: bool) -> None:
    state, effects = step(half_open_state(trial_started=trial_started), Succeeded(at=42), POLICY)
    assert state == Closed()
    assert effects == (ClosedAgain(at=42, opened_at=30, first_failure_at=10),)


@pytest.mark.parametrize("error_type", OUTAGE_TYPES)
def test_trial_outage_failure_reopens_within_the_same_outage(error_type: str) -> None:
    state, effects = step(half_open_state(trial_started=True), down(42, error_type), POLICY)
    expected = Open(
        opened_at=30,
        first_failure_at=10,
        consecutive_failures=4,
        first_error="PlexServerDown",
        last_error_message=f"{error_type} at 42",
    )
    assert state == expected
    assert effects == (Opened(state=expected, new_outage=False),)


@pytest.mark.parametrize("error_type", OTHER_TYPES)
def test_trial_that_reached_plex_with_a_non_outage_error_closes(error_type: str) -> None:
    state, effects = step(half_open_state(trial_started=True), down(42, error_type), POLICY)
    assert state == Closed()
    assert effects == (ClosedAgain(at=42, opened_at=30, first_failure_at=10),)


@pytest.mark.parametrize(
    "event", [ProbeOk(at=41, latency_ms=1), ProbeNotOk(at=41, error_type="X", message="m")]
)
def test_half_open_ignores_probes(event: BreakerEvent) -> None:
    assert step(half_open_state(), event, POLICY) == (half_open_state(), ())


def test_outage_type_names_match_the_contract() -> None:
    assert all(is_outage_error(t) for t in OUTAGE_TYPES)
    assert not any(is_outage_error(t) for t in OTHER_TYPES)


# -- invariants -----------------------------------------------------------------------------------
ERROR_TYPES = st.sampled_from(OUTAGE_TYPES + OTHER_TYPES)
EVENT_KINDS = st.one_of(
    st.just("ok"),
    ERROR_TYPES,
    st.sampled_from(["probe_ok", "probe_failed", "trial"]),
)
ALLOWED = {
    ("closed", "closed"),
    ("closed", "open"),
    ("open", "open"),
    ("open", "half_open"),
    ("half_open", "half_open"),
    ("half_open", "closed"),
    ("half_open", "open"),
}


def make_event(kind: str, at: float) -> BreakerEvent:
    match kind:
        case "ok":
            return Succeeded(at=at)
        case "probe_ok":
            return ProbeOk(at=at, latency_ms=5.0)
        case "probe_failed":
            return ProbeNotOk(at=at, error_type="PlexServerDown", message="down")
        case "trial":
            return TrialStarted(at=at)
        case _:
            return down(at, kind)


@given(st.lists(EVENT_KINDS, max_size=60), st.integers(min_value=1, max_value=6))
def test_closed_breaker_opens_exactly_when_the_failure_run_reaches_the_threshold(
    kinds: list[str], threshold: int
) -> None:
    policy = BreakerPolicy(failure_threshold=threshold)
    state: BreakerState = Closed()
    run_length = 0  # reference model: outage failures since the last success
    for n, kind in enumerate(kinds):
        if not isinstance(state, Closed):
            break
        if kind == "ok":
            run_length = 0
        elif kind in OUTAGE_TYPES:
            run_length += 1
        state, effects = step(state, make_event(kind, float(n)), policy)
        assert isinstance(state, Open) == (run_length >= threshold)
        if isinstance(state, Closed):
            assert state.consecutive_failures == run_length < threshold
        else:
            assert effects and isinstance(effects[0], Opened) and effects[0].new_outage


@given(st.lists(EVENT_KINDS, max_size=80))
def test_transitions_follow_the_state_diagram(kinds: list[str]) -> None:
    state: BreakerState = Closed()
    outage_opened_at: float | None = None
    for n, kind in enumerate(kinds):
        new, effects = step(state, make_event(kind, float(n)), POLICY)
        assert (state.name, new.name) in ALLOWED
        for effect in effects:
            match effect:
                case Opened():
                    assert effect.state == new
                    assert effect.new_outage == isinstance(state, Closed)
                    if effect.new_outage:
                        outage_opened_at = effect.state.opened_at
                case HalfOpened():
                    assert isinstance(state, Open) and effect.state == new
                case ClosedAgain():
                    assert isinstance(state, HalfOpen) and new == Closed()
                    assert effect.opened_at == outage_opened_at
        if isinstance(new, Open | HalfOpen):
            # One outage keeps the time it began, however often its trials fail.
            assert new.opened_at == outage_opened_at
            assert new.first_failure_at <= new.opened_at
            assert new.consecutive_failures >= POLICY.failure_threshold
        state = new


def test_only_an_answer_from_plex_closes_a_half_open_circuit() -> None:
    half = HalfOpen(
        opened_at=1, first_failure_at=0, consecutive_failures=5, first_error="PlexServerDown",
        last_error_message="refused", trial_started=True,
    )  # fmt: skip
    policy = BreakerPolicy(failure_threshold=5)
    state, effects = step(half, Succeeded(at=9, reached=False), policy)
    assert isinstance(state, HalfOpen) and not state.trial_started and effects == ()
    state, effects = step(half, Failed(at=9, error_type="PlexNotFound", message="no file",
                                       reached=False), policy)  # fmt: skip
    assert isinstance(state, HalfOpen) and not state.trial_started and effects == ()
    state, _ = step(half, Succeeded(at=9), policy)
    assert isinstance(state, Closed)


def test_a_success_that_asked_nothing_of_plex_does_not_reset_the_failure_count() -> None:
    closed = Closed(consecutive_failures=2, first_failure_at=1, first_error="PlexServerDown",
                    last_error_message="refused")  # fmt: skip
    state, _ = step(closed, Succeeded(at=5, reached=False), BreakerPolicy(failure_threshold=5))
    assert state == closed
