"""The checks of Check Setup, in the order they run: each learns what the next ones need.

A check returns its detail sentence, or raises `Failed` (with the fix), `Skipped` (nothing to
work on) or `Disabled`. Nothing in Plex changes: the write check re-sends an item's current title
and lock.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import sys
from pathlib import Path

import attrs
import httpx
import trio

from plexsync_actors import PLUGIN_ID
from plexsync_actors.clock import wall_now
from plexsync_actors.errors import (
    PlexError,
    PlexNotFound,
    PlexPermanentError,
    SettingsError,
    StashUnavailable,
)
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.plex.models import PlexItem, Section
from plexsync_actors.plugin.setup_fixes import (
    common_tail,
    describe,
    matching_fix,
    plex_fix,
    stash_fix,
    within,
)
from plexsync_actors.plugin.status import relay_events
from plexsync_actors.runtime.clients import plex_client, stored_client_id
from plexsync_actors.secret import safe_origin
from plexsync_actors.settings import Settings, enabled_in, not_default, parse_settings
from plexsync_actors.stash.answers import require_supported_stash
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.sync.matcher import ItemMatcher
from plexsync_actors.sync.paths import apply_path_map, basename

SAMPLE_SIZE = 5
WRITTEN_FIELDS = (
    "title",
    "summary",
    "studio",
    "originally_available_at",
    "year",
    "genres",
    "actors",
    "collections",
    "locked",
)
MIN_FREE_BYTES = 50 * 1024 * 1024


class Failed(Exception):
    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


class Skipped(Exception):
    """The check has nothing to work on (e.g. Stash has no scenes yet)."""


class Disabled(Exception):
    """PlexSync is switched off: every task answers "disabled" (contract §3)."""


class Setup:
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

    async def check_runtime(self) -> str:
        """Which Python Stash started (it picks its configured Python path, else python3, else
        python), so a user knows where the dependencies must be."""
        from importlib import metadata

        versions = []
        for name in ("trio", "httpx", "attrs", "cattrs"):
            try:
                versions.append(f"{name} {metadata.version(name)}")
            except metadata.PackageNotFoundError:
                versions.append(f"{name} (version unknown)")
        python = ".".join(str(n) for n in sys.version_info[:3])
        return (
            f"PlexSync runs on Python {python} at {sys.executable} "
            f"({', '.join(versions)}); Stash picks it in Settings > System > Python Executable "
            "Path, else python3, else python."
        )

    async def check_stash(self) -> str:
        origin = safe_origin(self.conn.base_url)
        try:
            config = await self.stash.plugin_config(PLUGIN_ID)
        except StashUnavailable as exc:
            raise Failed(str(exc), stash_fix(str(exc), self.conn, origin)) from exc
        # An older Stash answers the whole run with one sentence (contract §1): StashTooOld.
        require_supported_stash(config.stash_version)
        self.raw = config.settings
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
            raise Failed(
                f"Stash accepts the session cookie, but the API key fallback failed: {exc}",
                "Generate a new API key in Stash's Settings > Security, then check again.",
            ) from exc
        return f"Stash answers GraphQL at {origin}; the cookie and the API key fallback both work."

    async def check_settings(self) -> str:
        try:
            if not enabled_in(self.raw):
                raise Disabled
            self.settings = parse_settings(self.raw, stash_dir=self.conn.stash_dir)
        except SettingsError as exc:
            raise Failed("PlexSync's settings in Stash are not valid.", str(exc)) from exc
        with contextlib.suppress(OSError):  # every task relays the drainer's news (contract §8)
            relay_events(self.settings)
        s, n = self.settings, len(self.settings.path_map)
        # Stash's page shows unset switches as off and unset numbers as 0: say what is in force.
        changed = [
            f"{name} {value}"
            for name, value in not_default(s).items()
            if name not in ("data_dir", "plex_library", "path_map")
        ]
        rest = f"changed from the defaults: {', '.join(changed)}" if changed else "all else default"
        return (
            f"Settings are valid: plex_url {self.plex_origin}, libraries "
            f"{', '.join(s.plex_library) or '(every movie library)'}, {n} path_map "
            f"{'entry' if n == 1 else 'entries'}, data_dir {s.data_dir}; {rest}."
        )

    async def check_plex(self) -> str:
        s = self.settings
        self.plex = plex_client(self.plex_http, s, stored_client_id(s.data_dir))
        try:
            identity = await self.plex.identity()
        except PlexError as exc:
            detail = f"Plex did not answer /identity at {self.plex_origin}: {exc}"
            raise Failed(detail, plex_fix(exc, self.plex_origin)) from exc
        version = identity.version or "(version unknown)"
        return f"Plex {version} answers at {self.plex_origin} in {identity.latency_ms:.0f} ms."

    async def check_token(self) -> str:
        try:
            self.sections = await self.plex.sections()
        except PlexError as exc:
            detail = f"The authenticated read of Plex's libraries failed: {exc}"
            raise Failed(detail, plex_fix(exc, self.plex_origin)) from exc
        return f"Plex accepted the token and listed {len(self.sections)} libraries."

    async def check_libraries(self) -> str:
        movies = [s for s in self.sections if s.kind == "movie"]
        names = ", ".join(s.title for s in movies) or "none"
        everything = f"Plex has: {describe(self.sections)}"
        if not self.settings.plex_library:
            if not movies:
                raise Failed(
                    f"Plex has no movie library ({everything}).",
                    "Add a Movies library in Plex holding your Stash files' folders, then run "
                    "Check Setup again.",
                )
            self.chosen = movies
            return f"Searching every movie library: {describe(movies)}."
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
            raise Failed(
                f"In plex_library, {'; '.join(problems)} ({everything}).",
                f"Set plex_library to Plex movie library names, comma-separated (Plex's movie "
                f"libraries: {names}).",
            )
        return f"Every library in plex_library is a movie library: {describe(self.chosen)}."

    async def check_path_map(self) -> str:
        if not self.settings.path_map:
            return "No path_map is set: Stash's file paths are looked up in Plex as they are."
        locations = [loc for s in self.chosen for loc in s.locations]
        folders = ", ".join(locations) or "none"
        for m in self.settings.path_map:
            if not any(within(m.plex_prefix, f) or within(f, m.plex_prefix) for f in locations):
                entry = f"{m.stash_prefix}=>{m.plex_prefix}"
                raise Failed(
                    f"path_map maps to {m.plex_prefix}, which is in none of the Plex libraries "
                    f"checked (their folders: {folders}).",
                    f"In path_map, change the Plex side of {entry} to the folder where Plex sees "
                    f"those files (one of {folders}, or a folder inside one).",
                )
        return f"Every path_map entry maps into a Plex library folder ({folders})."

    async def check_matching(self) -> str:
        pmap = self.settings.path_map
        # The drainer's own matcher: a scene is found here exactly when the drainer would sync it.
        matcher = ItemMatcher(plex=self.plex, settings=self.settings, wall_now=wall_now)
        try:
            scenes = [s for s in await self.stash.recent_scenes(SAMPLE_SIZE) if s.files]
            self.matched, missing = [], []
            for scene in scenes:
                try:
                    self.matched.append((await matcher.find_items(scene))[0])
                except PlexNotFound:
                    missing.append(scene.files[0])
            mapped = apply_path_map(missing[0], pmap) if missing else ""
            nearest = await self._nearest(mapped) if missing else None
        except StashUnavailable as exc:
            raise Failed(
                f"Stash did not list scenes: {exc}", "Check that Stash is running."
            ) from exc
        except PlexPermanentError as exc:  # several items in one library have the scene's file
            raise Failed(
                str(exc),
                "Merge or remove the duplicate items in Plex (or make path_map map the full "
                "path), then run Check Setup again.",
            ) from exc
        except PlexError as exc:
            detail = f"Plex did not answer a lookup: {exc}"
            raise Failed(detail, plex_fix(exc, self.plex_origin)) from exc
        if not scenes:
            raise Skipped("Stash has no scenes with files yet, so none was looked up in Plex.")
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
        raise Failed(detail, matching_fix(missing[0], nearest if same_name else None))

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
            files, key=lambda f: (common_tail(f, path), ratio(None, f, path).ratio()), default=None
        )

    async def check_write(self) -> str:
        listed = self.matched[0]
        if not listed.title:
            raise Skipped(f"Plex item {listed.rating_key} has no title to re-send unchanged.")
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
            fix = plex_fix(exc, self.plex_origin, on_unauthorized=owner_fix)
            raise Failed(f"Plex refused an edit that changes nothing: {exc}", fix) from exc
        what = f"{before.title!r} (ratingKey {before.rating_key})"
        # Plex moves `updatedAt` and the thumb/art URLs on every edit: compare only what
        # PlexSync writes (and the locks it sets).
        old, new = attrs.asdict(before), attrs.asdict(after)
        if changed := [key for key in WRITTEN_FIELDS if old[key] != new[key]]:
            raise Failed(
                f"Re-sending the current title of {what} changed {', '.join(changed)}.",
                "Check the agent settings of that Plex library (it may rewrite edited items).",
            )
        return f"Plex accepted an edit of {what} re-sending its current title; nothing changed."

    async def check_data_dir(self) -> str:
        path = self.settings.data_dir
        try:
            free = await trio.to_thread.run_sync(probe_dir, path)
        except OSError as exc:
            raise Failed(
                f"PlexSync cannot write to {path} ({exc.strerror or exc}).",
                f"Set data_dir to a folder PlexSync may create and write to (now {path}).",
            ) from exc
        space = f"{free / 1024**3:.1f} GiB free"
        if free < MIN_FREE_BYTES:
            raise Failed(
                f"{path} is writable, but its disk has only {space}.",
                "Free space on that disk, or set data_dir to a folder on a disk with room.",
            )
        return f"{path} is writable ({space})."


def probe_dir(path: Path) -> int:
    """Create `path`, write, sync and delete a file in it; the free bytes of its disk."""
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f".check-setup-{os.getpid()}"
    with open(probe, "wb") as file:
        file.write(b"PlexSync check\n")
        os.fsync(file.fileno())
    probe.unlink()
    return shutil.disk_usage(path).free
