"""Check Setup: prove a real Stash + Plex install end to end, with one fix per failure.

Every check reports: `ok`, `fail` (with a one-sentence fix naming the setting to change), or
`skipped` when a check it needs did not pass, so one run shows everything to change. Nothing in
Plex changes: the write check re-sends an item's current title and lock. Settings are read here,
not by the task runner, so invalid settings and an unreachable Stash are failed checks, not a
failed run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import trio

from plexsync_actors.clock import iso_utc, wall_now
from plexsync_actors.errors import PlexSyncError
from plexsync_actors.persistence.last_runs import record_run
from plexsync_actors.plugin.context import TaskContext
from plexsync_actors.plugin.protocol import write_result
from plexsync_actors.plugin.setup_checks import Disabled, Failed, Setup, Skipped
from plexsync_actors.runtime.clients import plex_http_client, stash_http_client
from plexsync_actors.stash.connection import StashConnection

log = logging.getLogger(__name__)
# Each check and the checks it needs; a check whose needs did not all pass is skipped.
ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("runtime", ()),
    ("stash", ()),
    ("settings", ("stash",)),
    ("plex", ("settings",)),
    ("token", ("plex",)),
    ("libraries", ("token",)),
    ("path_map", ("libraries",)),
    ("matching", ("path_map",)),
    ("write", ("matching",)),
    ("data_dir", ("settings",)),
)


def _record(name: str, status: str, detail: str, fix: str | None = None) -> dict[str, Any]:
    """One check's result (`ok` is None when skipped), logged as one Stash log line."""
    if status == "fail":
        log.error("Check Setup FAIL %s: %s Fix: %s", name, detail, fix)
    else:
        log.log(logging.INFO if status == "ok" else logging.WARNING,
                "Check Setup %s %s: %s", status.upper(), name, detail)  # fmt: skip
    ok = {"ok": True, "fail": False}.get(status)
    return {"name": name, "status": status, "ok": ok, "detail": detail, "fix": fix}


async def check_setup(ctx: TaskContext) -> dict[str, Any] | str:
    return await run_checks(ctx.conn)


async def run_checks(conn: StashConnection) -> dict[str, Any] | str:
    """Run every check in `ORDER`; "disabled" when PlexSync is switched off."""
    checks: list[dict[str, Any]] = []
    async with stash_http_client() as stash_http, plex_http_client() as plex_http:
        setup = Setup(conn, stash_http, plex_http)
        cause: dict[str, str] = {}  # a check that did not pass -> the first one that did not
        for name, needs in ORDER:
            status = {c["name"]: c["status"] for c in checks}
            blocked = next((n for n in needs if status[n] != "ok"), None)
            try:
                if blocked is not None:
                    root = cause[name] = cause.get(blocked, blocked)
                    did = "failed" if status[root] == "fail" else "was skipped"
                    raise Skipped(f"Skipped because the {root} check {did}.")
                # Each check is the method check_<name>; it returns its detail sentence.
                checks.append(_record(name, "ok", await getattr(setup, f"check_{name}")()))
            except Failed as exc:
                checks.append(_record(name, "fail", exc.detail, exc.fix))
            except Skipped as exc:
                checks.append(_record(name, "skipped", str(exc)))
            except Disabled:
                log.warning("PlexSync is disabled: switch on its enabled setting first.")
                return "disabled"
    failed = [c["name"] for c in checks if c["status"] == "fail"]
    result = {"ok": not failed, "checks": checks}
    settings = getattr(setup, "settings", None)
    if settings is not None and settings.data_dir.is_dir():  # it creates no data dir itself
        finished = iso_utc(wall_now()) or ""
        record_run(
            settings.data_dir, "check_setup", finished_at=finished, result=result, error=None
        )
    if failed:
        log.error("Check Setup failed (%s): apply each fix, then run it again.", ", ".join(failed))
    else:
        log.info("Check Setup passed: Stash and Plex work together.")
    return result


def main(argv: list[str]) -> int:
    """`python -m plexsync_actors check-setup`: the same checks and JSON, from a terminal."""
    parser = argparse.ArgumentParser(prog="python -m plexsync_actors check-setup")
    parser.add_argument("--stash-url", default="http://127.0.0.1:9999", help="Stash base URL")
    options = parser.parse_args(argv)
    from plexsync_actors.plugin.logsetup import configure_logging

    configure_logging(sys.stderr)
    api_key = os.environ.get("STASH_API_KEY") or None
    conn = StashConnection(base_url=options.stash_url.rstrip("/"), api_key=api_key)
    try:
        result = trio.run(run_checks, conn)
    except PlexSyncError as exc:
        write_result(sys.stdout, error=str(exc))
        return 1
    write_result(sys.stdout, output=result)
    return 0 if isinstance(result, dict) and result["ok"] else 1
