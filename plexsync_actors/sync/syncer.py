"""Sync one scene to Plex: find its item(s) by exact file path, diff, one PUT, then the poster."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from plexsync_actors.errors import PlexSyncError
from plexsync_actors.messages.jobs import SyncResult
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.plex.models import PlexItem
from plexsync_actors.settings import Settings
from plexsync_actors.stash.models import Image, Scene
from plexsync_actors.sync.edits import plan_edit
from plexsync_actors.sync.matcher import ItemMatcher
from plexsync_actors.sync.poster import PosterPlan, plan_poster

log = logging.getLogger(__name__)


class SceneSource(Protocol):
    """What the syncer reads from Stash (StashClient; a stub in tests)."""

    async def find_scene(self, scene_id: int) -> Scene | None: ...

    async def fetch_screenshot(self, url: str) -> Image | None: ...


class SceneSyncer:
    """Brings one Stash scene into Plex. Raises PlexError subclasses or StashUnavailable."""

    def __init__(
        self,
        *,
        settings: Settings,
        plex: PlexClient,
        stash: SceneSource,
        queue: JobQueue,
        wall_now: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._plex = plex
        self._stash = stash
        self._queue = queue
        self._now = wall_now
        self.matcher = ItemMatcher(plex=plex, settings=settings, wall_now=wall_now)

    @property
    def plex_answers(self) -> int:
        """How many answers Plex has sent this syncer (an attempt without one never reached it)."""
        return self._plex.answers

    async def sync(self, scene_id: int, *, poster_only: bool = False) -> SyncResult:
        """Sync the scene's latest data (`poster_only`: just its poster, after Stash served its
        placeholder); the result says what happened."""
        scene = await self._stash.find_scene(scene_id)
        if scene is None:
            self._queue.drop(scene_id)
            return SyncResult(detail="deleted in Stash")
        items, full = await self._find_items(scene)
        screenshot = _Screenshot(self._stash, scene)
        changed: list[str] = []
        pending = False
        for item in items:
            item_changed, item_pending = await self._sync_item(
                scene, item, screenshot, poster_only=poster_only, full=full
            )
            changed.extend(item_changed)
            pending = pending or item_pending
        # What the catch-up compares (sync.catch_up), and what a fan-out traces (sync.fan_out).
        self._queue.save_synced(scene.id, scene.updated_at or "", scene.entities)
        detail = ", ".join(sorted(set(changed))) or "no change"
        if pending:
            detail += "; Stash has no cover for it yet"
        return SyncResult(detail=detail, poster_pending=pending)

    async def _find_items(self, scene: Scene) -> tuple[list[PlexItem], bool]:
        """The scene's items, and whether they were read in full (else they come from listings).

        A scene matched before is looked up by the rating keys that match found; a full match
        when there are none or they no longer hold the scene's files, and it is kept for next
        time when it is exact (a loose file-name match is never taken on trust)."""
        stored = self._queue.stored_match(scene.id)
        if stored is not None:
            items = await self.matcher.stored_items(scene, stored)
            if items is not None:
                return items, True
            log.debug("Scene %s: its stored Plex items are no longer its match.", scene.id)
            self._queue.forget_match(scene.id)
        items = await self.matcher.find_items(scene)
        if self.matcher.is_match(scene, items):
            sections = [section.id for section in await self.matcher.movie_sections()]
            keys = [(item.rating_key, item.section_id) for item in items]
            self._queue.save_match(scene.id, items=keys, sections=sections, now=self._now())
        return items, False

    async def _sync_item(
        self,
        scene: Scene,
        found: PlexItem,
        screenshot: _Screenshot,
        *,
        poster_only: bool,
        full: bool,
    ) -> tuple[list[str], bool]:
        """One item: the metadata PUT first, so a poster problem never holds the metadata back,
        then the poster. Returns the fields changed and whether the poster is still to come."""
        # Listings truncate tag lists: always diff against the full item.
        item = found if full else await self._plex.metadata(found.rating_key, found.section_id)
        written, poster_url, poster_hash = self._queue.scene_state(scene.id, item.rating_key)
        plan = plan_edit(scene, item, self._settings, written)
        params = [] if poster_only else list(plan.params)
        changed = [] if poster_only else list(plan.changed_fields)
        written = written if poster_only else plan.written
        poster = PosterPlan()
        url = scene.screenshot_url
        if self._settings.sync_poster and url and url != poster_url:
            poster = await screenshot.plan(poster_hash)
        # Only a poster PlexSync uploads (or has uploaded) is locked: never a skipped one.
        ours = poster_hash is not None or poster.upload is not None
        if self._settings.sync_poster and ours and "thumb" not in item.locked:
            params.append(("thumb.locked", "1"))
        if params:
            await self._plex.edit(item, params)
        if poster.digest is not None and poster.upload is None:
            poster_url, poster_hash = url, poster.digest  # the same image behind a new URL
        self._save(scene, item, written, poster_url, poster_hash)
        if poster.upload is not None:
            await self._plex.upload_poster(item.rating_key, poster.upload)
            self._save(scene, item, written, url, poster.digest)
            changed.append("poster")
        if poster.error is not None:
            raise poster.error
        return changed, poster.pending

    def _save(
        self,
        scene: Scene,
        item: PlexItem,
        written: dict[str, Any],
        poster_url: str | None,
        poster_hash: str | None,
    ) -> None:
        self._queue.save_scene_state(
            scene.id,
            item.rating_key,
            written=written,
            poster_url=poster_url,
            poster_sha256=poster_hash,
            now=self._now(),
        )


class _Screenshot:
    """The scene's screenshot, fetched from Stash at most once per sync (for every item)."""

    def __init__(self, stash: SceneSource, scene: Scene) -> None:
        self._stash = stash
        self._scene = scene
        self._fetched = False
        self._image: Image | None = None
        self._error: PlexSyncError | None = None

    async def plan(self, last_digest: str | None) -> PosterPlan:
        if not self._fetched:
            self._fetched = True
            assert self._scene.screenshot_url is not None
            try:
                self._image = await self._stash.fetch_screenshot(self._scene.screenshot_url)
            except PlexSyncError as exc:  # raised once the metadata is in Plex
                self._error = exc
        if self._error is not None:
            return PosterPlan(error=self._error)
        return plan_poster(self._image, last_digest)
