"""Status and outage report, built from what the actor owner persisted; the read-only task modes.

Queue Status, Outage Summary and Health Check change nothing (contract §8)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from plexsync_actors.actors.announce import counted, human_duration, human_seconds
from plexsync_actors.clock import iso_utc, wall_now
from plexsync_actors.core import breaker as core_breaker
from plexsync_actors.core import bucket as core_bucket
from plexsync_actors.core.report import metrics, record_json
from plexsync_actors.drainer.control import drainer_running
from plexsync_actors.persistence.events import EventLog
from plexsync_actors.persistence.fan_outs import status_line
from plexsync_actors.persistence.jobs import WATERMARK_KEY, JobQueue
from plexsync_actors.persistence.last_runs import last_runs
from plexsync_actors.persistence.outage_state import OutageFiles
from plexsync_actors.plugin.context import TaskContext
from plexsync_actors.runtime.policies import probe_policy, ramp_policy
from plexsync_actors.runtime.state import load_outage_state
from plexsync_actors.settings import Settings, in_force

log = logging.getLogger(__name__)
LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def relay_events(settings: Settings) -> None:
    """Pass the drainer's breaker/recovery sentences written since the last relay to Stash's log."""
    if not settings.data_dir.exists():
        return
    for event in EventLog(settings.data_dir).take_unrelayed():
        log.log(LEVELS.get(event.level, logging.INFO), "%s", event.message)


def circuit_state(settings: Settings) -> str:
    """Just the breaker's state name, read from breaker.json (closed when there is none)."""
    state = OutageFiles(settings.data_dir, log.warning).breaker.load()
    return state.name if state is not None else "closed"


def status(settings: Settings) -> dict[str, Any]:
    now = wall_now()
    stores = load_outage_state(settings.data_dir, log.warning)
    breaker = stores.breaker
    schedule = stores.schedule
    ramp = ramp_policy(settings)
    with JobQueue(settings.data_dir) as queue:
        counts = queue.counts(now=now)
        newest = queue.newest_dead_letters(5)
        watermark = queue.meta(WATERMARK_KEY)  # Stash's time of the newest change looked at
        fan_outs = queue.fan_outs()
    drainer = drainer_running(settings.data_dir, now=now)
    bucket = core_bucket.Bucket(ramp_start=schedule.ramp_start)
    ramp_active = core_bucket.ramp_active(bucket, now, ramp)
    is_closed = isinstance(breaker, core_breaker.Closed)
    interval = schedule.interval or probe_policy(settings).min_interval
    return {
        "breaker": {
            "state": breaker.name,
            "opened_at": None
            if isinstance(breaker, core_breaker.Closed)
            else iso_utc(breaker.opened_at),
            "first_failure_at": iso_utc(breaker.first_failure_at),
            "consecutive_failures": breaker.consecutive_failures,
            "next_probe_at": None if is_closed else iso_utc(schedule.next_probe_at),
            "probe_interval_seconds": float(interval),
            "last_error": breaker.last_error_message,
        },
        "queue": {
            "pending": counts.pending,
            "in_flight": counts.in_flight,
            "waiting_retry": counts.waiting_retry,
        },
        "dlq": {
            "total": counts.dlq_total,
            "by_error_type": counts.dlq_by_error_type,
            "newest": [
                {
                    "scene_id": entry.scene_id,
                    "error_type": entry.error_type,
                    "message": entry.message[:300],
                    "last_failure_at": iso_utc(entry.last_failure_at),
                }
                for entry in newest
            ],
        },
        "recovery": {
            "last_probe_at": iso_utc(schedule.last_probe_at),
            "last_recovery_at": iso_utc(schedule.last_recovery_at),
            "ramp_active": ramp_active,
            "ramp_progress": _ramp_progress(schedule.ramp_start, now, ramp) if ramp_active else 1.0,
            "current_rate": round(core_bucket.rate_at(bucket, now, ramp), 3),
            "probes_this_outage": schedule.probes_sent if not is_closed else 0,
        },
        "drainer": {
            "running": drainer.running,
            "pid": drainer.pid,
            "since": iso_utc(drainer.since),
        },
        "catch_up": {"watermark": watermark},
        # Renamed, merged or deleted tags, performers and studios still being turned into
        # scene jobs: "Tag 'Outdoor' renamed: 1,240 of 3,000 scenes queued".
        "fan_outs": [
            {
                "kind": f.kind,
                "id": f.entity_id,
                "action": f.action,
                "name": f.name,
                "scenes_done": f.seen,  # looked at: queued, or already right in Plex
                "scenes_queued": f.queued,
                "scenes_total": f.total,
                "message": status_line(f),
            }
            for f in fan_outs
        ],
        "settings": in_force(settings),
        "last_runs": last_runs(settings.data_dir),
        "outages": [record_json(r, now, iso_utc) for r in stores.outages.records[:3]],
        "recent_events": [
            {"at": iso_utc(e.at), "level": e.level, "message": e.message}
            for e in EventLog(settings.data_dir).recent(20)
        ],
    }


def _ramp_progress(start: float | None, now: float, ramp: core_bucket.RampPolicy) -> float:
    if start is None:
        return 1.0
    return round(min(1.0, max(0.0, (now - start) / ramp.ramp_seconds)), 3)


def status_sentence(
    data: dict[str, Any], opened_for: float | None, next_probe_in: float | None
) -> str:
    """e.g. "Circuit OPEN for 3m 10s; next probe in 40 s; 23 scenes waiting; DLQ 2 (…)"."""
    breaker, queue, dlq = data["breaker"], data["queue"], data["dlq"]
    parts = []
    if breaker["state"] == "closed":
        parts.append("Circuit CLOSED")
    else:
        label = breaker["state"].upper()
        parts.append(f"Circuit {label} for {human_duration(opened_for or 0.0)}")
        if next_probe_in is not None:
            parts.append(f"next probe in {human_seconds(max(0.0, next_probe_in))}")
    if data["recovery"]["ramp_active"]:
        parts.append(f"recovery ramp at {data['recovery']['current_rate']:g} jobs/s")
    parts.append(f"{counted(queue['pending'], 'scene')} waiting")
    parts.extend(f["message"] for f in data.get("fan_outs", ()))
    dlq_text = f"DLQ {dlq['total']}"
    if dlq["by_error_type"]:
        dlq_text += " (" + ", ".join(f"{k} {v}" for k, v in dlq["by_error_type"].items()) + ")"
    parts.append(dlq_text)
    parts.append("drainer " + ("running" if data["drainer"]["running"] else "not running"))
    return "; ".join(parts) + "."


def outage_report(settings: Settings) -> dict[str, Any]:
    now = wall_now()
    stores = load_outage_state(settings.data_dir, log.warning)
    m = metrics(stores.outages, now)
    return {
        "outages": [record_json(r, now, iso_utc) for r in stores.outages.records],
        "metrics": {
            "count": m.count,
            "completed": m.completed,
            "mttr_seconds": _round(m.mttr_seconds),
            "mtbf_seconds": _round(m.mtbf_seconds),
            "availability_percent": _round(m.availability_percent),
            "total_downtime_seconds": round(m.total_downtime_seconds, 3),
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- the read-only task modes --------------------------------------------------------------


async def queue_status(ctx: TaskContext) -> dict[str, Any]:
    return queue_status_now(ctx.settings)


async def outage_summary(ctx: TaskContext) -> dict[str, Any]:
    return outage_summary_now(ctx.settings)


def queue_status_now(settings: Settings) -> dict[str, Any]:
    """Queue Status (no trio needed: `plugin.read_tasks` runs it without the task loop)."""
    data = status(settings)
    now = wall_now()

    def seconds_since(iso: str | None) -> float | None:
        return now - dt.datetime.fromisoformat(iso).timestamp() if iso else None

    opened_for = seconds_since(data["breaker"]["opened_at"])
    next_probe = seconds_since(data["breaker"]["next_probe_at"])
    log.info("%s", status_sentence(data, opened_for, None if next_probe is None else -next_probe))
    return data


def outage_summary_now(settings: Settings) -> dict[str, Any]:
    """Outage Summary (no trio needed, as `queue_status_now`)."""
    report = outage_report(settings)
    m = report["metrics"]
    log.info(
        "Outage report: %s tracked, total downtime %s, MTTR %s, MTBF %s, availability %s.",
        counted(m["count"], "outage"),
        human_duration(m["total_downtime_seconds"]),
        "n/a" if m["mttr_seconds"] is None else human_duration(m["mttr_seconds"]),
        "n/a" if m["mtbf_seconds"] is None else human_duration(m["mtbf_seconds"]),
        "n/a" if m["availability_percent"] is None else f"{m['availability_percent']:.2f} %",
    )
    for outage in report["outages"][:10]:
        log.info(
            "Outage %s: started %s, %s%s, %s affected, first error %s.",
            outage["id"],
            outage["started_at"],
            "ongoing for " if outage["ongoing"] else "lasted ",
            human_duration(outage["duration_seconds"]),
            counted(outage["jobs_affected"], "scene"),
            outage["first_error"],
        )
    return report
