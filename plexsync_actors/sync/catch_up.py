"""Catch-up by watermark: the scenes Stash changed that no scene hook announced.

Setting a cover from a frame, the Generate task's first cover, merging scenes, moving a file to
another scene, a save made while PlexSync was switched off or whose hook failed: Stash moves the
scene's `updated_at` and runs no `Scene.Update.Post`. Each drainer asks Stash, at its start and
every `EVERY_SECONDS`, for the scenes updated after its watermark (ids and `updated_at` only)
and queues those whose last sync saw another `updated_at`.

The watermark is Stash's own time (the newest `updated_at` seen), never this machine's clock,
and each look starts `MARGIN_SECONDS` before it, for changes whose transaction was still
committing at the last look. A new install starts at Stash's newest change: the past is what
Sync All Scenes is for. Scenes already queued are left alone (their sync reads the latest
data), so a change is never synced twice in a row.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import attrs

from plexsync_actors.persistence.jobs import FLOOR_KEY, WATERMARK_KEY, JobQueue
from plexsync_actors.stash.client import StashClient

log = logging.getLogger(__name__)

MARGIN_SECONDS = 10.0
EVERY_SECONDS = 600.0
REASON = "catch-up"


@attrs.frozen(kw_only=True)
class CatchUp:
    queued: int  # scenes queued by this look
    watermark: str | None  # Stash's newest `updated_at` seen so far


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def stash_time(text: str) -> dt.datetime:
    """Stash's `updated_at` (Go's RFC3339Nano: up to 9 fraction digits, "Z" or an offset) as
    an aware datetime; ValueError when it is not one. Python 3.10's `fromisoformat` reads
    neither "Z" nor 9 digits."""
    found = _RFC3339.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not an RFC 3339 time")
    day, fraction, zone = found.groups()
    micro = (fraction or "").ljust(6, "0")[:6]
    zone = "+00:00" if zone == "Z" else zone
    moment = dt.datetime.fromisoformat(f"{day}.{micro}{zone}")
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment


async def catch_up(stash: StashClient, queue: JobQueue, *, now: float) -> CatchUp:
    """One look: queue what changed in Stash since the watermark, and move the watermark."""
    mark = queue.meta(WATERMARK_KEY)
    since = _time_or_none(mark)  # None too for a watermark PlexSync did not write
    if mark is None or since is None:
        newest = await move_watermark_to_now(stash, queue)  # the past, margin included,
        if newest is not None:  # is left to Sync All Scenes
            log.info(
                "Catch-up starts from Stash's latest change (%s); Sync All Scenes covers what "
                "came before.",
                newest,
            )
        return CatchUp(queued=0, watermark=newest)
    floor = _time_or_none(queue.meta(FLOOR_KEY))
    start = since - dt.timedelta(seconds=MARGIN_SECONDS)
    if floor is not None:
        start = max(start, floor)
    changes = [
        (change, _time_or_none(change.updated_at))
        for change in await stash.scene_changes(updated_since=start)
    ]
    if floor is not None:
        changes = [(change, at) for change, at in changes if at is not None and at > floor]
    ids = [change.id for change, _ in changes]
    synced = queue.synced_times(ids)
    queued_already = queue.pending_among(ids)
    stale = [
        c.id for c, _ in changes if c.id not in queued_already and synced.get(c.id) != c.updated_at
    ]
    if stale:
        queue.enqueue_many(stale, reason=REASON, now=now)
        log.info(
            "Catch-up: %d scene%s changed in Stash with no scene hook heard; queued.",
            len(stale),
            "" if len(stale) == 1 else "s",
        )
    newest, newest_at = mark, since
    for change, at in changes:
        if at is not None and at > newest_at:
            newest, newest_at = change.updated_at, at
    if newest != mark:
        queue.set_meta(WATERMARK_KEY, newest)
    return CatchUp(queued=len(stale), watermark=newest)


async def move_watermark_to_now(stash: StashClient, queue: JobQueue) -> str | None:
    """Start the catch-up at Stash's newest change, margin included: a new install's first
    look, and Clear Queue (what changed so far is dropped). Returns that change's time."""
    newest = await stash.newest_change()
    if newest is not None:
        queue.set_meta(WATERMARK_KEY, newest)
        queue.set_meta(FLOOR_KEY, newest)
    return newest


def _time_or_none(text: str | None) -> dt.datetime | None:
    try:
        return stash_time(text) if text else None
    except ValueError:
        return None
