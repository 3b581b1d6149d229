"""Token bucket with a recovery ramp: how fast the drain may send jobs. Pure.

After a recovery the rate rises linearly from `initial_rate` to `max_rate` over `ramp_seconds`
(RECV-04). If more than 30 % of the last 20 jobs of a ramp failed, the rate halves (never below
1 job/s) and the ramp goes on from there. Rates are caps, never bursts, so a just-recovered
Plex is not flattened: the bucket holds one token plus the carry, CARRY_SECONDS' worth of tokens at
the current rate. The carry credits a sender that wakes late (trio's sleeps are epoll timeouts in
whole milliseconds rounded up, and a busy machine adds wake-up latency), so its next wait is that
much shorter; without it each late wake-up is lost and the achieved rate sags below the cap. Held
in time, not tokens, it absorbs the same lateness at any rate: a quarter token is 12.5 ms at
20 jobs/s but 0.25 ms at 1,000, less than one millisecond's rounding.

Over any window [a, b] the bucket admits at most 1 + the integral of the ramp's rate over [a, b]
+ CARRY_SECONDS x the highest rate in [a, b] jobs; at a steady rate, rate x (window + 10 ms) + 1.
"""

from __future__ import annotations

import attrs

WINDOW = 20
FAILURE_SHARE = 0.3
MIN_RATE = 1.0
# Lateness forgiven: ten times epoll's millisecond, room for a loaded machine's wake-ups, yet
# only rate/100 jobs beyond the one token.
CARRY_SECONDS = 0.01


@attrs.frozen(kw_only=True)
class RampPolicy:
    initial_rate: float
    max_rate: float
    ramp_seconds: float


@attrs.frozen(kw_only=True)
class Bucket:
    tokens: float = 1.0
    last_refill: float | None = None
    ramp_start: float | None = None
    factor: float = 1.0
    recent: tuple[bool, ...] = ()


def ramp_active(bucket: Bucket, now: float, policy: RampPolicy) -> bool:
    return bucket.ramp_start is not None and now - bucket.ramp_start < policy.ramp_seconds


def rate_at(bucket: Bucket, now: float, policy: RampPolicy) -> float:
    """The rate cap (jobs per second) at `now`."""
    if bucket.ramp_start is None or not ramp_active(bucket, now, policy):
        return policy.max_rate
    progress = max(0.0, (now - bucket.ramp_start) / policy.ramp_seconds)
    base = policy.initial_rate + (policy.max_rate - policy.initial_rate) * progress
    if bucket.factor >= 1.0:
        return base
    # Halving stops at 1 job/s, and never raises a ramp rate that was already below that.
    return min(base, max(MIN_RATE, base * bucket.factor))


def start_ramp(bucket: Bucket, now: float) -> Bucket:
    return Bucket(tokens=0.0, last_refill=now, ramp_start=now)


def _jobs_between(bucket: Bucket, start: float, end: float, policy: RampPolicy) -> float:
    """The integral of the rate cap over [start, end]: the jobs it allows in that interval."""
    if bucket.ramp_start is not None:
        ramp_end = bucket.ramp_start + policy.ramp_seconds
        if start < ramp_end < end:
            # The rate bends where the ramp ends; the midpoint rule is exact on each straight part
            # but would overshoot across the bend.
            return _jobs_between(bucket, start, ramp_end, policy) + _jobs_between(
                bucket, ramp_end, end, policy
            )
    return max(0.0, end - start) * rate_at(bucket, (start + end) / 2.0, policy)


def _refill(bucket: Bucket, now: float, policy: RampPolicy) -> Bucket:
    if bucket.last_refill is None:
        return attrs.evolve(bucket, tokens=1.0, last_refill=now)
    credit = _jobs_between(bucket, bucket.last_refill, now, policy)
    full = 1.0 + CARRY_SECONDS * rate_at(bucket, now, policy)
    return attrs.evolve(bucket, tokens=min(full, bucket.tokens + credit), last_refill=now)


def take(bucket: Bucket, now: float, policy: RampPolicy) -> tuple[Bucket, float]:
    """Try to take a token: (bucket, 0.0) when taken, else (bucket, seconds to wait first)."""
    refilled = _refill(bucket, now, policy)
    if refilled.tokens >= 1.0 - 1e-9:
        return attrs.evolve(refilled, tokens=refilled.tokens - 1.0), 0.0
    rate = rate_at(refilled, now, policy)
    return refilled, (1.0 - refilled.tokens) / rate


def record(bucket: Bucket, ok: bool, now: float, policy: RampPolicy) -> Bucket:
    """Note a job outcome during a ramp; halve the rate when too many of the last 20 failed."""
    if not ramp_active(bucket, now, policy):
        return bucket
    recent = (*bucket.recent, ok)[-WINDOW:]
    if recent.count(False) > FAILURE_SHARE * WINDOW:
        return attrs.evolve(bucket, factor=bucket.factor / 2.0, recent=())
    return attrs.evolve(bucket, recent=recent)
