"""Fan-out: a tag, performer or studio renamed, merged or deleted reaches every scene showing it.

No scene hook fires for these, and Stash keeps no scene `updated_at` for them either, so the
entity hook queues a fan-out (`persistence.fan_outs`) and the drainer expands it here into scene
jobs, which then drain at the normal rate and ramp:
- a rename: the scenes Stash says have the entity (ids only, pages sorted by id, each page
  resumed after the last id committed), but not those whose last sync already showed the new
  name (a hook for an edit that kept the name, or a page walked again after a kill);
- a merge: the scenes that now have the destination tag, but not those whose last sync showed
  the destination and none of the sources;
- a delete: the scenes whose last sync showed the entity (Stash no longer knows them).
A scene PlexSync never synced, or synced before it kept entities, is always queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import trio

from plexsync_actors.errors import PlexSyncError
from plexsync_actors.persistence.fan_outs import PAST as _PAST
from plexsync_actors.persistence.fan_outs import FanOut
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.settings import Settings
from plexsync_actors.stash.models import SceneIdPage

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # scene ids a query, and jobs a transaction (see JobQueue.enqueue_many)
POLL_SECONDS = 1.0  # a running drainer looks for fan-outs hooks queued this often
RETRY_SECONDS = 30.0  # after Stash failed a fan-out's query
REASON = "fan-out"
_SETTING = {"tag": ("sync_tags",), "performer": ("sync_performers",)}
_STUDIO_SETTINGS = ("sync_studio", "sync_collection")


class EntitySource(Protocol):
    """What the expansion asks Stash (StashClient; a stub in tests)."""

    async def scenes_showing(
        self, kind: str, entity_id: int, *, after_id: int, page_size: int
    ) -> SceneIdPage: ...

    async def entity_name(self, kind: str, entity_id: int) -> str | None: ...


class FanOutExpander:
    """Expands every waiting fan-out into scene jobs; `run` keeps at it while a drainer lives.

    `has_work` tells the drain not to exit for idleness while a fan-out waits and Stash
    answers; after a failed query it is False until the retry, so a drainer whose Stash is
    gone may exit (the fan-out stays queued for the next one)."""

    def __init__(
        self,
        *,
        stash: EntitySource,
        queue: JobQueue,
        settings: Settings,
        wall_now: Callable[[], float],
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._stash = stash
        self._queue = queue
        self._settings = settings
        self._now = wall_now
        self._on_queued = on_queued
        self._retry_at = float("-inf")  # trio time

    @property
    def has_work(self) -> bool:
        return trio.current_time() >= self._retry_at and self._queue.has_fan_outs()

    async def run(self) -> None:
        while True:
            if self.has_work:
                await self.expand_all()
            await trio.sleep(POLL_SECONDS)

    async def expand_all(self) -> None:
        """Expand every waiting fan-out. When Stash fails, the rest waits RETRY_SECONDS (a
        warning says so each time)."""
        for fan_out in self._queue.fan_outs():
            try:
                await self._expand(fan_out)
            except PlexSyncError as exc:
                self._retry_at = trio.current_time() + RETRY_SECONDS
                log.warning(
                    "Could not expand a %s %s into its scenes yet (%s); PlexSync tries again "
                    "in %.0f s.",
                    fan_out.kind,
                    _PAST[fan_out.action],
                    exc,
                    RETRY_SECONDS,
                )
                return

    async def _expand(self, fan_out: FanOut) -> None:
        current = await self._start(fan_out)
        if current is None:
            return  # restarted by a newer hook meanwhile: the next pass takes it
        if not self._synced(current.kind):
            self._finish(self._queue.advance_fan_out(
                current, seen=(), queue=(), reason=REASON, total=0, done=True, now=self._now()
            ), skipped=True)  # fmt: skip
            return
        if current.action == "destroy":
            shown = self._queue.scenes_showing(current.kind, [current.entity_id])
            self._finish(self._queue.advance_fan_out(
                current, seen=shown, queue=shown, reason=REASON, total=len(shown), done=True,
                now=self._now(),
            ))  # fmt: skip
            return
        while True:
            page = await self._stash.scenes_showing(
                current.kind, current.entity_id, after_id=current.cursor, page_size=PAGE_SIZE
            )
            ids = tuple(i for i in page.ids if i > current.cursor)
            # The last page, or one that moved nowhere (a Stash that ignored the id bound
            # would otherwise be asked the same page for ever).
            done = len(page.ids) < PAGE_SIZE or page.count <= len(page.ids) or not ids
            after = self._queue.advance_fan_out(
                current,
                seen=ids,
                queue=self._stale(current, ids),
                reason=REASON,
                total=current.seen + page.count,
                done=done,
                now=self._now(),
            )
            if after is None:
                return  # restarted meanwhile: the next pass starts it over
            if after.queued > current.queued:
                self._on_queued()  # the drain starts on this page while the next is asked
            if done:
                self._finish(after)
                return
            current = after

    async def _start(self, fan_out: FanOut) -> FanOut | None:
        """Name the entity and label the fan-out, once (a resumed one keeps its own)."""
        if fan_out.label is not None:
            return fan_out
        kind, entity_id = fan_out.kind, fan_out.entity_id
        name = None
        if fan_out.action != "destroy":
            name = await self._stash.entity_name(kind, entity_id)
        known = name or self._queue.entity_name(kind, entity_id)
        shown = f"{kind.title()} {_quoted(known, entity_id)}"
        if fan_out.action == "merge":
            sources = [_quoted(self._queue.entity_name(kind, s), s) for s in fan_out.sources]
            plural = "s" if len(sources) > 1 else ""
            label = f"{kind.title()}{plural} {', '.join(sources) or '(unknown)'} merged into " + (
                _quoted(known, entity_id)
            )
        else:
            label = f"{shown} {_PAST[fan_out.action]}"
        return self._queue.start_fan_out(fan_out, name=name, label=label)

    def _stale(self, fan_out: FanOut, scene_ids: tuple[int, ...]) -> list[int]:
        """The scenes of a page Plex may show wrong, by what each one's last sync showed."""
        known = self._queue.entities_of(fan_out.kind, scene_ids)
        sources = set(fan_out.sources)
        stale = []
        for scene_id in scene_ids:
            shown = known.get(scene_id)
            wrong = shown is None or shown.get(fan_out.entity_id) != fan_out.name
            # A merge: a scene that showed the destination may still show a source too.
            if wrong or (fan_out.action == "merge" and sources & set(shown or ())):
                stale.append(scene_id)
        return stale

    def _synced(self, kind: str) -> bool:
        names = _SETTING.get(kind, _STUDIO_SETTINGS)
        return any(getattr(self._settings, name) for name in names)

    def _finish(self, fan_out: FanOut | None, *, skipped: bool = False) -> None:
        """The fan-out's one sentence in the log (None: a newer hook restarted it)."""
        if fan_out is None:
            return
        if skipped:
            log.info(
                "%s: Plex is sent no %ss (switched off in the settings), so nothing was "
                "queued.",
                fan_out.label,
                fan_out.kind,
            )
            return
        already = fan_out.seen - fan_out.queued
        log.info(
            "%s: %s queued for Plex%s.",
            fan_out.label,
            _scenes(fan_out.queued),
            f" ({_scenes(already)} already showed it)" if already > 0 else "",
        )
        if fan_out.queued:
            self._on_queued()


def _quoted(name: str | None, entity_id: int) -> str:
    return f"'{name}'" if name else f"#{entity_id}"


def _scenes(count: int) -> str:
    return f"{count:,} scene" + ("" if count == 1 else "s")
