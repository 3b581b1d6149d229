"""Sync one scene to Plex: find its item(s) by exact file path, diff, one PUT, maybe a poster."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Protocol

from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.plex.models import PlexItem
from plexsync_actors.settings import Settings
from plexsync_actors.stash.models import Scene
from plexsync_actors.sync.edits import plan_edit
from plexsync_actors.sync.matcher import ItemMatcher

log = logging.getLogger(__name__)
MAX_POSTER_BYTES = 9 * 1024 * 1024


class SceneSource(Protocol):
    """What the syncer reads from Stash (StashClient; a stub in tests)."""

    async def find_scene(self, scene_id: int) -> Scene | None: ...

    async def fetch_screenshot(self, url: str) -> bytes | None: ...


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

    async def sync(self, scene_id: int) -> str:
        """Sync the scene's latest data; returns a short description of what happened."""
        scene = await self._stash.find_scene(scene_id)
        if scene is None:
            self._queue.drop(scene_id)
            return "deleted in Stash"
        items = await self.matcher.find_items(scene)
        changed: list[str] = []
        for item in items:
            changed.extend(await self._sync_item(scene, item))
        return ", ".join(sorted(set(changed))) or "no change"

    async def _sync_item(self, scene: Scene, listed: PlexItem) -> list[str]:
        # Listings truncate tag lists: always diff against the full item.
        item = await self._plex.metadata(listed.rating_key, listed.section_id)
        written, poster_url, poster_hash = self._queue.scene_state(scene.id, item.rating_key)
        plan = plan_edit(scene, item, self._settings, written)
        params = list(plan.params)
        changed = list(plan.changed_fields)
        new_url, new_hash = poster_url, poster_hash
        if (
            self._settings.sync_poster
            and scene.screenshot_url
            and scene.screenshot_url != poster_url
        ):
            new_url, new_hash, uploaded = await self._maybe_upload_poster(scene, item, poster_hash)
            if uploaded:
                changed.append("poster")
                # Remember the upload before the PUT: if the PUT fails, the retry must not upload
                # the same image again (the lock below is then sent by the retry).
                self._queue.save_scene_state(
                    scene.id,
                    item.rating_key,
                    written=written,
                    poster_url=new_url,
                    poster_sha256=new_hash,
                    now=self._now(),
                )
        if self._settings.sync_poster and new_hash is not None and "thumb" not in item.locked:
            params.append(("thumb.locked", "1"))
        if params:
            await self._plex.edit(item, params)
        self._queue.save_scene_state(
            scene.id,
            item.rating_key,
            written=plan.written,
            poster_url=new_url,
            poster_sha256=new_hash,
            now=self._now(),
        )
        return changed

    async def _maybe_upload_poster(
        self, scene: Scene, item: PlexItem, old_hash: str | None
    ) -> tuple[str | None, str | None, bool]:
        assert scene.screenshot_url is not None
        image = await self._stash.fetch_screenshot(scene.screenshot_url)
        if not image or len(image) > MAX_POSTER_BYTES:
            return scene.screenshot_url, old_hash, False
        digest = hashlib.sha256(image).hexdigest()
        if digest == old_hash:
            return scene.screenshot_url, digest, False
        await self._plex.upload_poster(item.rating_key, image)
        return scene.screenshot_url, digest, True
