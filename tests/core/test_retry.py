"""Retry decisions: full-jitter backoff, what is charged, when a job is dead-lettered."""

from hypothesis import given
from hypothesis import strategies as st

from plexsync_actors.core.retry import Drop, GiveUp, Retry, RetryPolicy, backoff_delay, decide

POLICY = RetryPolicy(
    max_retries=3,
    base_seconds=5,
    cap_seconds=80,
    notfound_max_retries=4,
    notfound_base_seconds=30,
    notfound_cap_seconds=600,
    skip_not_found=False,
)


def test_backoff_doubles_up_to_the_cap() -> None:
    steps = [backoff_delay(n, base=5, cap=80, jitter=1.0) for n in range(1, 8)]
    assert steps == [5, 10, 20, 40, 80, 80, 80]


@given(st.integers(min_value=1, max_value=500), st.floats(min_value=0, max_value=0.999999))
def test_full_jitter_delay_stays_within_zero_and_the_step(attempt: int, jitter: float) -> None:
    delay = backoff_delay(attempt, base=5, cap=80, jitter=jitter)
    assert 0 <= delay <= min(80, 5 * 2 ** (attempt - 1))


def test_temporary_error_is_charged_and_dead_lettered_after_max_retries() -> None:
    first = decide(
        error_type="PlexTemporaryError",
        attempts=0,
        notfound_attempts=0,
        policy=POLICY,
        now=100,
        jitter=0.5,
    )
    assert first == Retry(at=102.5, charged=True)
    last = decide(
        error_type="PlexTemporaryError",
        attempts=2,
        notfound_attempts=0,
        policy=POLICY,
        now=100,
        jitter=0.5,
    )
    assert isinstance(last, GiveUp)


def test_server_down_and_unauthorized_never_use_up_retries() -> None:
    for kind in ("PlexServerDown", "PlexUnauthorized"):
        decision = decide(
            error_type=kind, attempts=50, notfound_attempts=0, policy=POLICY, now=0, jitter=0.9
        )
        assert isinstance(decision, Retry) and not decision.charged


def test_permanent_error_goes_to_the_dlq_at_once() -> None:
    decision = decide(
        error_type="PlexPermanentError",
        attempts=0,
        notfound_attempts=0,
        policy=POLICY,
        now=0,
        jitter=0.1,
    )
    assert isinstance(decision, GiveUp)


def test_not_found_uses_its_own_slower_schedule_then_dlq() -> None:
    decision = decide(
        error_type="PlexNotFound", attempts=0, notfound_attempts=0, policy=POLICY, now=0, jitter=0
    )
    assert isinstance(decision, Retry) and decision.notfound and decision.at >= 15
    final = decide(
        error_type="PlexNotFound", attempts=0, notfound_attempts=3, policy=POLICY, now=0, jitter=0
    )
    assert isinstance(final, GiveUp)


def test_not_found_is_dropped_when_skip_not_found() -> None:
    import attrs

    policy = attrs.evolve(POLICY, skip_not_found=True)
    decision = decide(
        error_type="PlexNotFound", attempts=0, notfound_attempts=0, policy=policy, now=0, jitter=0
    )
    assert isinstance(decision, Drop)


def test_uncharged_failures_still_grow_the_delay() -> None:
    decision = decide(
        error_type="PlexServerDown",
        attempts=0,
        notfound_attempts=0,
        failures=4,
        policy=POLICY,
        now=0,
        jitter=0.999,
    )
    assert isinstance(decision, Retry) and decision.at > 40 and not decision.charged


def test_a_scene_stash_cannot_serve_is_charged_retried_then_dead_lettered() -> None:
    first = decide(
        error_type="StashSceneError", attempts=0, notfound_attempts=0, policy=POLICY, now=0,
        jitter=0.5,
    )  # fmt: skip
    assert isinstance(first, Retry) and first.charged and first.at > 0
    last = decide(
        error_type="StashSceneError", attempts=POLICY.max_retries - 1, notfound_attempts=0,
        policy=POLICY, now=0, jitter=0.5,
    )  # fmt: skip
    assert isinstance(last, GiveUp)
