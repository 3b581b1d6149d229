"""Dead-letter tasks: Recover Outage Jobs (DLQM-01/02) and Requeue DLQ."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from plexsync_actors.clock import wall_now
from plexsync_actors.core import breaker as core_breaker
from plexsync_actors.core import dlq_select
from plexsync_actors.core.values import shown
from plexsync_actors.drainer.control import ensure_drainer
from plexsync_actors.errors import InputError
from plexsync_actors.persistence.dead_letters import DeadLetter
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plugin.context import TaskContext
from plexsync_actors.plugin.protocol import lenient_bool
from plexsync_actors.runtime.state import load_outage_state

log = logging.getLogger(__name__)


async def recover_outage_jobs(ctx: TaskContext) -> dict[str, Any]:
    data_dir = ctx.settings.data_dir
    stores = load_outage_state(data_dir, log.warning)
    if isinstance(stores.breaker, core_breaker.Open):
        raise InputError(
            "The circuit is open (Plex is unreachable), so recovered jobs could not be sent: "
            "run Recover Outage Jobs again after Plex recovers."
        )
    try:
        chosen = dlq_select.windows(ctx.args.get("outage"), stores.outages.records)
    except dlq_select.SelectionError as exc:
        raise InputError(str(exc)) from None

    def in_window(entry: DeadLetter) -> bool:
        return any(w.contains(entry.last_failure_at) for w in chosen)

    if not chosen:
        log.info("No finished outage is recorded yet, so no dead letter lies in an outage window.")
    return _requeue(ctx, in_window, "in the outage window")


async def requeue_dlq(ctx: TaskContext) -> dict[str, Any]:
    raw = ctx.args.get("since_hours")
    since: float | None = None
    if raw not in (None, ""):
        try:
            since = wall_now() - float(raw) * 3600.0
        except (TypeError, ValueError):
            raise InputError(
                f"Argument since_hours is {shown(raw)}: give a number of hours."
            ) from None
    return _requeue(
        ctx,
        lambda e: since is None or e.last_failure_at >= since,
        "in the time range" if since is not None else "",
    )


def _requeue(ctx: TaskContext, selected: Any, where: str) -> dict[str, Any]:
    dry_run = lenient_bool(ctx.args.get("dry_run"), default=False)
    with JobQueue(ctx.settings.data_dir) as queue:
        entries = queue.dead_letters()
        try:
            types = dlq_select.error_types(
                ctx.args.get("error_types"), {e.error_type for e in entries}
            )
        except dlq_select.SelectionError as exc:
            raise InputError(str(exc)) from None
        matched = [e for e in entries if e.error_type in types and selected(e)]
        pending = queue.pending_scene_ids()
        already = sum(1 for e in matched if e.scene_id in pending)
        recovered = 0
        if not dry_run and matched:
            recovered, already = queue.requeue_dead_letters([e.id for e in matched], now=wall_now())
    result = {
        "matched": len(matched),
        "recovered": recovered,
        "already_queued": already,
        "skipped": len(entries) - len(matched),
        "dry_run": dry_run,
        "by_error_type": dict(sorted(Counter(e.error_type for e in matched).items())),
    }
    kinds = ", ".join(sorted(types)) or "none"
    if dry_run:
        log.info(
            "Preview: %d dead letters (%s) %s would go back to the queue; nothing changed.",
            len(matched),
            kinds,
            where,
        )
    else:
        log.info(
            "%d dead letters (%s) %s went back to the queue (%d were already queued); "
            "they drain through the same ramp as everything else.",
            recovered,
            kinds,
            where,
            already,
        )
    if recovered:
        ensure_drainer(ctx.server_connection, ctx.settings.data_dir, now=wall_now())
    ctx.progress.report(1.0)
    return result
