"""Check Setup: prove a real Stash + Plex install end to end, with one fix per failure.

Every check reports: `ok`, `fail` (with a one-sentence fix naming the setting to change), or
`skipped` when a check it needs did not pass, so one run shows everything to change. Nothing in
Plex changes: the write check re-sends an item's current title and lock. Settings are read here,
not by the task runner, so invalid settings and an unreachable Stash are failed checks, not a
failed run.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio

from plexsync_actors import PLUGIN_ID
from plexsync_actors.errors import (
    PlexError,
    PlexServerDown,
    PlexSyncError,
    PlexTemporaryError,
    PlexUnauthorized,
    SettingsError,
    StashUnavailable,
)
from plexsync_actors.plex.client import STARTING_UP_MARKER, PlexClient, PlexItem, Section
from plexsync_actors.plugin.context import TaskContext
from plexsync_actors.plugin.protocol import write_result
from plexsync_actors.plugin.status import relay_events
from plexsync_actors.runtime.clients import (
    plex_client,
    plex_http_client,
    stash_http_client,
    stored_client_id,
)
from plexsync_actors.settings import Settings, enabled_in, parse_settings
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.stash.settings_fetch import safe_origin
from plexsync_actors.sync.paths import apply_path_map, basename, normalise, same_file

log = logging.getLogger(__name__)
SAMPLE_SIZE = 5
MIN_FREE_BYTES = 50 * 1024 * 1024
STARTING_UP_FIX = "Plex is still starting up: wait until it finishes, then run Check Setup again."
REFUSED_FIX = (
    "Set plex_token to a valid X-Plex-Token for this server "
    "(Plex Web > any item > Get Info > View XML shows it in the address)."
)
# Each check and the checks it needs; a check whose needs did not all pass is skipped.
ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
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


class _Failed(Exception):
    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


class _Skipped(Exception):
    """The check has nothing to work on (e.g. Stash has no scenes yet)."""


class _Disabled(Exception):
    """PlexSync is switched off: every task answers "disabled" (contract §3)."""


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
        setup = _Setup(conn, stash_http, plex_http)
        cause: dict[str, str] = {}  # a check that did not pass -> the first one that did not
        for name, needs in ORDER:
            status = {c["name"]: c["status"] for c in checks}
            blocked = next((n for n in needs if status[n] != "ok"), None)
            try:
                if blocked is not None:
                    root = cause[name] = cause.get(blocked, blocked)
                    did = "failed" if status[root] == "fail" else "was skipped"
                    raise _Skipped(f"Skipped because the {root} check {did}.")
                # Each check is the method check_<name>; it returns its detail sentence.
                checks.append(_record(name, "ok", await getattr(setup, f"check_{name}")()))
            except _Failed as exc:
                checks.append(_record(name, "fail", exc.detail, exc.fix))
            except _Skipped as exc:
                checks.append(_record(name, "skipped", str(exc)))
            except _Disabled:
                log.warning("PlexSync is disabled: switch on its enabled setting first.")
                return "disabled"
    failed = [c["name"] for c in checks if c["status"] == "fail"]
    if failed:
        log.error("Check Setup failed (%s): apply each fix, then run it again.", ", ".join(failed))
    else:
        log.info("Check Setup passed: Stash and Plex work together.")
    return {"ok": not failed, "checks": checks}


class _Setup:
    """What the checks learn, in order; an attribute is set before any check that reads it."""

    settings: Settings
    plex: PlexClient
    sections: list[Section]
    chosen: list[Section]
    matched: list[PlexItem]

    def __init__(
        self, conn: StashConnection, stash_http: httpx.AsyncClient, plex_http: httpx.AsyncClient
    ) -> None:
        self.conn, self.stash_http, self.plex_http = conn, stash_http, plex_http
        self.stash = StashClient(stash_http, conn)
        self.raw: dict[str, object] = {}

    @property
    def plex_origin(self) -> str:
        return safe_origin(self.settings.plex_url)

    async def check_stash(self) -> str:
        origin = safe_origin(self.conn.base_url)
        try:
            self.raw = await self.stash.plugin_settings(PLUGIN_ID)
        except StashUnavailable as exc:
            raise _Failed(str(exc), _stash_fix(str(exc), self.conn, origin)) from exc
        if not self.conn.cookie_value:
            how = "with the API key" if self.conn.api_key else "without a password"
            return f"Stash answers GraphQL at {origin} ({how})."
        try:
            key = await self.stash.fetch_api_key()
            if key is None:
                return (
                    f"Stash answers GraphQL at {origin} with the session cookie; with no API key "
                    "a background drainer stops when the session expires (about an hour; the "
                    "next save starts a new one), so consider generating one in Settings > "
                    "Security."
                )
            by_key = StashConnection(base_url=self.conn.base_url, api_key=key)
            await StashClient(self.stash_http, by_key).plugin_settings(PLUGIN_ID)
        except StashUnavailable as exc:
            raise _Failed(
                f"Stash accepts the session cookie, but the API key fallback failed: {exc}",
                "Generate a new API key in Stash's Settings > Security, then check again.",
            ) from exc
        return f"Stash answers GraphQL at {origin}; the cookie and the API key fallback both work."

    async def check_settings(self) -> str:
        try:
            if not enabled_in(self.raw):
                raise _Disabled
            self.settings = parse_settings(self.raw, stash_dir=self.conn.stash_dir)
        except SettingsError as exc:
            raise _Failed("PlexSync's settings in Stash are not valid.", str(exc)) from exc
        with contextlib.suppress(OSError):  # every task relays the drainer's news (contract §8)
            relay_events(self.settings)
        s, n = self.settings, len(self.settings.path_map)
        return (
            f"Settings are valid: plex_url {self.plex_origin}, libraries "
            f"{', '.join(s.plex_library) or '(every movie library)'}, {n} path_map "
            f"{'entry' if n == 1 else 'entries'}, data_dir {s.data_dir}."
        )

    async def check_plex(self) -> str:
        s = self.settings
        self.plex = plex_client(self.plex_http, s, stored_client_id(s.data_dir))
        try:
            identity = await self.plex.identity()
        except PlexError as exc:
            detail = f"Plex did not answer /identity at {self.plex_origin}: {exc}"
            raise _Failed(detail, _plex_fix(exc, self.plex_origin)) from exc
        version = identity.version or "(version unknown)"
        return f"Plex {version} answers at {self.plex_origin} in {identity.latency_ms:.0f} ms."

    async def check_token(self) -> str:
        try:
            self.sections = await self.plex.sections()
        except PlexError as exc:
            detail = f"The authenticated read of Plex's libraries failed: {exc}"
            raise _Failed(detail, _plex_fix(exc, self.plex_origin)) from exc
        return f"Plex accepted the token and listed {len(self.sections)} libraries."

    async def check_libraries(self) -> str:
        movies = [s for s in self.sections if s.kind == "movie"]
        names = ", ".join(s.title for s in movies) or "none"
        everything = f"Plex has: {_describe(self.sections)}"
        if not self.settings.plex_library:
            if not movies:
                raise _Failed(
                    f"Plex has no movie library ({everything}).",
                    "Add a Movies library in Plex holding your Stash files' folders, then run "
                    "Check Setup again.",
                )
            self.chosen = movies
            return f"Searching every movie library: {_describe(movies)}."
        by_name = {s.title.casefold(): s for s in self.sections}
        self.chosen, problems = [], []
        for name in self.settings.plex_library:
            section = by_name.get(name.casefold())
            if section is None or section.kind != "movie":
                kind = "no library" if section is None else f"a {section.kind} library"
                problems.append(f"{name!r} is {kind}, not a movie library")
            else:
                self.chosen.append(section)
        if problems:
            raise _Failed(
                f"In plex_library, {'; '.join(problems)} ({everything}).",
                f"Set plex_library to Plex movie library names, comma-separated (Plex's movie "
                f"libraries: {names}).",
            )
        return f"Every library in plex_library is a movie library: {_describe(self.chosen)}."

    async def check_path_map(self) -> str:
        if not self.settings.path_map:
            return "No path_map is set: Stash's file paths are looked up in Plex as they are."
        locations = [loc for s in self.chosen for loc in s.locations]
        folders = ", ".join(locations) or "none"
        for m in self.settings.path_map:
            if not any(_within(m.plex_prefix, f) or _within(f, m.plex_prefix) for f in locations):
                entry = f"{m.stash_prefix}=>{m.plex_prefix}"
                raise _Failed(
                    f"path_map maps to {m.plex_prefix}, which is in none of the Plex libraries "
                    f"checked (their folders: {folders}).",
                    f"In path_map, change the Plex side of {entry} to the folder where Plex sees "
                    f"those files (one of {folders}, or a folder inside one).",
                )
        return f"Every path_map entry maps into a Plex library folder ({folders})."

    async def check_matching(self) -> str:
        pmap = self.settings.path_map
        try:
            scenes = [s for s in await self.stash.recent_scenes(SAMPLE_SIZE) if s.files]
            self.matched, missing = [], []
            for scene in scenes:
                item = await self._find([apply_path_map(p, pmap) for p in scene.files])
                if item is None:
                    missing.append(scene.files[0])
                else:
                    self.matched.append(item)
            mapped = apply_path_map(missing[0], pmap) if missing else ""
            nearest = await self._nearest(mapped) if missing else None
        except StashUnavailable as exc:
            raise _Failed(
                f"Stash did not list scenes: {exc}", "Check that Stash is running."
            ) from exc
        except PlexError as exc:
            detail = f"Plex did not answer a lookup: {exc}"
            raise _Failed(detail, _plex_fix(exc, self.plex_origin)) from exc
        if not scenes:
            raise _Skipped("Stash has no scenes with files yet, so none was looked up in Plex.")
        found = f"{len(self.matched)} of {len(scenes)} recently updated scenes found in Plex"
        if not missing:
            return f"{found} by exact path."
        detail = (
            f"{found}; first not found: Stash's {missing[0]} (looked up as {mapped}), "
            f"nearest Plex file: {nearest or 'none'}."
        )
        same_name = (
            nearest is not None and basename(nearest).casefold() == basename(mapped).casefold()
        )
        if self.matched and not same_name:
            return detail + " Plex may not have scanned the files not found yet."
        raise _Failed(detail, _matching_fix(missing[0], nearest if same_name else None))

    async def _find(self, paths: list[str]) -> PlexItem | None:
        for section in self.chosen:
            for path in paths:
                for item in await self.plex.list_items(section.id, file=path):
                    if any(same_file(part, path) for part in item.files):
                        return item
        return None

    async def _nearest(self, path: str) -> str | None:
        """The Plex file most like `path`: most shared trailing names, then most similar text.

        Lists whole libraries, once and only after a miss; best effort (a big one may time out).
        """
        try:
            items = [i for s in self.chosen for i in await self.plex.list_items(s.id)]
        except PlexError:
            return None
        files = [f for item in items for f in item.files]
        ratio = difflib.SequenceMatcher
        return max(
            files, key=lambda f: (_common_tail(f, path), ratio(None, f, path).ratio()), default=None
        )

    async def check_write(self) -> str:
        listed = self.matched[0]
        if not listed.title:
            raise _Skipped(f"Plex item {listed.rating_key} has no title to re-send unchanged.")
        try:
            before = await self.plex.metadata(listed.rating_key, listed.section_id)
            lock = "1" if "title" in before.locked else "0"  # keep the lock as the user has it
            await self.plex.edit(before, [("title.value", before.title), ("title.locked", lock)])
            after = await self.plex.metadata(before.rating_key, before.section_id)
        except PlexError as exc:
            owner_fix = (
                "Set plex_token to the token of the Plex server's owner: this one may read the "
                "library but not edit it."
            )
            fix = _plex_fix(exc, self.plex_origin, on_unauthorized=owner_fix)
            raise _Failed(f"Plex refused an edit that changes nothing: {exc}", fix) from exc
        what = f"{before.title!r} (ratingKey {before.rating_key})"
        old, new = attrs.asdict(before), attrs.asdict(after)
        if changed := [key for key in old if old[key] != new[key]]:
            raise _Failed(
                f"Re-sending the current title of {what} changed {', '.join(changed)}.",
                "Check the agent settings of that Plex library (it may rewrite edited items).",
            )
        return f"Plex accepted an edit of {what} re-sending its current title; nothing changed."

    async def check_data_dir(self) -> str:
        path = self.settings.data_dir
        try:
            free = await trio.to_thread.run_sync(_probe_dir, path)
        except OSError as exc:
            raise _Failed(
                f"PlexSync cannot write to {path} ({exc.strerror or exc}).",
                f"Set data_dir to a folder PlexSync may create and write to (now {path}).",
            ) from exc
        space = f"{free / 1024**3:.1f} GiB free"
        if free < MIN_FREE_BYTES:
            raise _Failed(
                f"{path} is writable, but its disk has only {space}.",
                "Free space on that disk, or set data_dir to a folder on a disk with room.",
            )
        return f"{path} is writable ({space})."


def _probe_dir(path: Path) -> int:
    """Create `path`, write, sync and delete a file in it; the free bytes of its disk."""
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f".check-setup-{os.getpid()}"
    with open(probe, "wb") as file:
        file.write(b"PlexSync check\n")
        os.fsync(file.fileno())
    probe.unlink()
    return shutil.disk_usage(path).free


def _stash_fix(message: str, conn: StashConnection, origin: str) -> str:
    if "refused" in message or "denied" in message:
        if not conn.cookie_value:
            return "Set STASH_API_KEY in the environment to Stash's API key (Settings > Security)."
        return "Generate an API key in Stash's Settings > Security, then run Check Setup again."
    return (
        f"Make sure Stash is running and answers at {origin} (from a terminal, pass --stash-url "
        "with Stash's address), then run Check Setup again."
    )


def _plex_fix(exc: PlexError, origin: str, *, on_unauthorized: str = REFUSED_FIX) -> str:
    text = str(exc).lower()
    if isinstance(exc, PlexTemporaryError) and STARTING_UP_MARKER in text:
        return STARTING_UP_FIX
    if isinstance(exc, PlexServerDown):
        return f"Start Plex, or set plex_url to the address Plex answers on (now {origin})."
    if isinstance(exc, PlexUnauthorized):
        return on_unauthorized
    if isinstance(exc, PlexTemporaryError) and "in time" in text:
        return "Check that Plex is not overloaded, or raise read_timeout (seconds)."
    if isinstance(exc, PlexTemporaryError) and "not json" not in text:
        return "Check that Plex is healthy (its own log), then run Check Setup again."
    return f"Set plex_url to your Plex server's address (now {origin}, which does not act as Plex)."


def _describe(sections: list[Section]) -> str:
    named = (f"{s.title} ({s.kind}: {', '.join(s.locations) or 'no folders'})" for s in sections)
    return "; ".join(named) or "none"


def _within(path: str, folder: str) -> bool:
    a, b = normalise(path).rstrip("/\\"), normalise(folder).rstrip("/\\")
    return a == b or a.startswith((b + "/", b + "\\"))


def _common_tail(a: str, b: str) -> int:
    """How many trailing names (file, then folders) two paths share."""
    pa, pb = re.split(r"[\\/]", a), re.split(r"[\\/]", b)
    n = 0
    while n < min(len(pa), len(pb)) and pa[-1 - n].casefold() == pb[-1 - n].casefold():
        n += 1
    return n


def _drop_tail(path: str, names: int) -> str:
    """`path` without its last `names` names (and the separator before them)."""
    tail = re.split(r"[\\/]", path)[-names:] if names else []
    return path[: max(0, len(path) - len("/".join(tail)) - 1)]


def _matching_fix(stash_path: str, plex_path: str | None) -> str:
    if plex_path is None:
        return (
            f"Add the folder holding {stash_path} to a Plex movie library named in plex_library "
            "(empty: any) and let Plex scan it, or set path_map if Plex sees it elsewhere."
        )
    # Drop the shared names, keeping at least one folder on each side: /a/m/x.mp4, /m/x.mp4
    # give /a/m=>/m, not /a=>(nothing).
    for n in range(_common_tail(stash_path, plex_path), 0, -1):
        stash_prefix, plex_prefix = _drop_tail(stash_path, n), _drop_tail(plex_path, n)
        if stash_prefix and plex_prefix:
            return (
                f"Make path_map map {stash_prefix}=>{plex_prefix} (Stash's {stash_path} is "
                f"Plex's {plex_path})."
            )
    return f"Set path_map (stash_prefix=>plex_prefix) so Stash's {stash_path} becomes {plex_path}."


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
