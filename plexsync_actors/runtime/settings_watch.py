"""A long-lived drainer re-reads its settings, so a fix in Stash takes effect without a restart.

It reads them at every health probe while the circuit is open (a wrong token opens it, and the
user fixes the token then) and every minute otherwise. A change of anything the drainer depends
on ends the run, and the drainer builds its pipeline again with the new settings; `enabled`
switched off ends it for good. A read that fails (Stash restarting) keeps the settings in force
and tries again later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from plexsync_actors.errors import SettingsError, StashUnavailable
from plexsync_actors.settings import Settings, enabled_in, parse_settings

log = logging.getLogger(__name__)
EVERY_SECONDS = 60.0

SWITCHED_OFF = "PlexSync was switched off in its settings"
CHANGED = "its settings changed"


class SettingsWatch:
    """Watches the settings of one run; `changed` holds the new ones once `run` returned."""

    def __init__(
        self,
        *,
        current: Settings,
        read: Callable[[], Awaitable[dict[str, Any]]],
        stash_dir: str | None,
        every: float = EVERY_SECONDS,
    ) -> None:
        self.current = current
        self.changed: Settings | None = None
        self._read = read
        self._stash_dir = stash_dir
        self._every = every
        self._poked = trio.Event()
        self._invalid: str | None = None  # the last invalid settings warned about

    def poke(self) -> None:
        """Read again now (the health actor calls this at every probe while open)."""
        self._poked.set()

    async def run(self) -> str:
        """Return why the run must end: switched off, or settings changed (see `changed`)."""
        while True:
            with trio.move_on_after(self._every):
                await self._poked.wait()
            self._poked = trio.Event()
            try:
                raw = await self._read()
            except StashUnavailable as exc:
                log.debug("Could not re-read the settings (%s); keeping those in force.", exc)
                continue
            try:
                if not enabled_in(raw):
                    return SWITCHED_OFF
                new = parse_settings(raw, stash_dir=self._stash_dir)
            except SettingsError as exc:
                if str(exc) != self._invalid:
                    self._invalid = str(exc)
                    log.warning("Settings in Stash are not valid (%s); keeping the last good.", exc)
                continue
            # The drainer stays on the data dir it was started for (the hook queued there).
            new = attrs.evolve(new, data_dir=self.current.data_dir)
            if new != self.current:
                self.changed = new
                return CHANGED
