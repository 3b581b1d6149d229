"""Sync one scene to Plex: find its item(s) by exact file path, diff, one PUT, maybe a poster."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from plexsync_actors.errors import PlexNotFound, PlexPermanentError
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plex.client import PlexClient, PlexItem, Section
from plexsync_actors.settings import Settings
from plexsync_actors.stash.models import Scene
from plexsync_actors.sync.edits import plan_edit
from plexsync_actors.sync.paths import apply_path_map, basename, same_file

log = logging.getLogger(__name__)
MAX_POSTER_BYTES = 9 * 1024 * 1024
SECTIONS_MAX_AGE = 300.0  # seconds


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
        self._sections: list[Section] | None = None
        self._sections_read_at = 0.0

    async def sync(self, scene_id: int) -> str:
        """Sync the scene's latest data; returns a short description of what happened."""
        scene = await self._stash.find_scene(scene_id)
        if scene is None:
            self._queue.drop(scene_id)
            return "deleted in Stash"
        items = await self.find_items(scene)
        changed: list[str] = []
        for item in items:
            changed.extend(await self._sync_item(scene, item))
        return ", ".join(sorted(set(changed))) or "no change"

    async def movie_sections(self) -> list[Section]:
        """The movie libraries to search; re-read now and then, since a drainer lives long and
        libraries get added, renamed or removed in Plex."""
        if self._sections is None or self._now() - self._sections_read_at > SECTIONS_MAX_AGE:
            self._sections_read_at = self._now()
            sections = [s for s in await self._plex.sections() if s.kind == "movie"]
            wanted = self._settings.plex_library
            if wanted:
                by_name = {s.title.casefold(): s for s in sections}
                missing = [name for name in wanted if name.casefold() not in by_name]
                if missing:
                    raise PlexPermanentError(
                        f"Plex has no movie library named {', '.join(missing)}: fix the "
                        "plex_library setting (library names, comma-separated)."
                    )
                sections = [by_name[name.casefold()] for name in wanted]
            self._sections = sections
        return self._sections

    async def find_items(self, scene: Scene) -> list[PlexItem]:
        """Every item (one per library at most) with a part equal to one of the scene's files."""
        if not scene.files:
            raise PlexNotFound(f"Scene {scene.id} has no file in Stash to match in Plex.")
        paths = [apply_path_map(p, self._settings.path_map) for p in scene.files]
        listed: dict[str, PlexItem] = {}
        for section in await self.movie_sections():
            for path in paths:
                for item in await self._plex.list_items(section.id, file=path):
                    listed[item.rating_key] = item
        found = self._exact(scene, listed.values(), paths)
        if found:
            return found
        # `file=` is loose, and PMS decodes its value twice, so a path holding '%' is never
        # found that way: a title search, confirmed by the exact path, covers it.
        candidates = await self._title_candidates(scene, paths)
        found = self._exact(scene, candidates.values(), paths)
        if not found and not self._settings.strict_matching:
            names = {basename(p).casefold() for p in paths}
            loose = [
                i
                for i in candidates.values()
                if any(basename(f).casefold() in names for f in i.files)
            ]
            if len(loose) > 1:
                raise PlexPermanentError(
                    f"Scene {scene.id}'s file name matches {len(loose)} Plex items; PlexSync "
                    "does not guess: fix path_map so the full path matches."
                )
            found = loose
        if not found:
            raise PlexNotFound(
                f"No Plex item has the file of scene {scene.id} "
                f"({self._describe(paths[0])}); Plex may not have scanned it yet, or path_map "
                "needs fixing."
            )
        return found

    def _exact(self, scene: Scene, items: Iterable[PlexItem], paths: list[str]) -> list[PlexItem]:
        """The items with a part equal to one of `paths`; several in one library is ambiguous."""
        by_section: dict[str, dict[str, PlexItem]] = {}
        for item in items:
            if any(same_file(part, path) for part in item.files for path in paths):
                by_section.setdefault(item.section_id, {})[item.rating_key] = item
        for section_id, matches in by_section.items():
            if len(matches) > 1:
                title = next((s.title for s in self._sections or [] if s.id == section_id), "")
                raise PlexPermanentError(
                    f"Scene {scene.id}'s file matches {len(matches)} items in Plex library "
                    f"{title!r}; PlexSync does not guess: merge or remove the duplicates."
                )
        return [item for matches in by_section.values() for item in matches.values()]

    async def _title_candidates(self, scene: Scene, paths: list[str]) -> dict[str, PlexItem]:
        """Items found by the scene's title or its file names without extension."""
        stems = {basename(p).rsplit(".", 1)[0] for p in paths}
        queries = [q for q in dict.fromkeys([(scene.title or "").strip(), *sorted(stems)]) if q]
        candidates: dict[str, PlexItem] = {}
        for section in await self.movie_sections():
            for query in queries:
                for item in await self._plex.list_items(section.id, title=query):
                    candidates[item.rating_key] = item
        return candidates

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

    def _describe(self, path: str) -> str:
        if self._settings.obfuscate_paths:
            return basename(path)[:3] + "…"
        return path
