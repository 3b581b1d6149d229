"""Finding the Plex item(s) of a Stash scene by exact file path (contract §7).

The drainer's syncer and Check Setup share this one matcher, so Check Setup calls a scene matched
exactly when the drainer would sync it. The syncer reads a scene matched before back by the rating
keys of that match (`stored_items`), the same exact comparison deciding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from plexsync_actors.errors import PlexNotFound, PlexPermanentError
from plexsync_actors.persistence.scene_state import StoredMatch
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.plex.models import PlexItem, Section
from plexsync_actors.settings import Settings
from plexsync_actors.stash.models import Scene
from plexsync_actors.sync.paths import apply_path_map, basename, normalise, same_file

SECTIONS_MAX_AGE = 300.0  # seconds
# PMS answers `file=` with every item of the file's folder: with 1,000 files in one folder, each
# first sync would list (and parse) all of them. A listing that large is kept this long, for
# the folder's other scenes (a Sync All drains them one after another), and used only when it
# holds the very file wanted: a file Plex added since is listed afresh. An item gone meanwhile
# fails that scene's read (PlexNotFound) and the job is retried after the memory expired.
LISTING_MAX_AGE = 30.0  # seconds
LISTING_MIN_ITEMS = 50
LISTINGS_KEPT = 8


class ItemMatcher:
    """Looks scenes up in the movie libraries `settings.plex_library` names (all when empty)."""

    def __init__(
        self, *, plex: PlexClient, settings: Settings, wall_now: Callable[[], float]
    ) -> None:
        self._plex = plex
        self._settings = settings
        self._now = wall_now
        self._sections: list[Section] | None = None
        self._sections_read_at = 0.0
        self._listings: dict[tuple[str, str], tuple[float, dict[str, list[PlexItem]]]] = {}

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
        paths = self._paths(scene)
        listed: dict[str, PlexItem] = {}
        for section in await self.movie_sections():
            for path in paths:
                for item in await self._listing(section.id, path):
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

    async def _listing(self, section_id: str, path: str) -> list[PlexItem]:
        """The items `file=path` lists in the library, or those holding the file in a large
        listing of the same folder made moments ago (see LISTING_MAX_AGE)."""
        key, wanted = (section_id, _folder(path)), normalise(path)
        now = self._now()
        kept = self._listings.get(key)
        if kept is not None and 0 <= now - kept[0] <= LISTING_MAX_AGE and wanted in kept[1]:
            return kept[1][wanted]
        items = await self._plex.list_items(section_id, file=path)
        self._listings.pop(key, None)
        if len(items) >= LISTING_MIN_ITEMS:
            by_file: dict[str, list[PlexItem]] = {}
            for item in items:
                for part in dict.fromkeys(normalise(f) for f in item.files):
                    by_file.setdefault(part, []).append(item)
            self._listings[key] = (now, by_file)
            while len(self._listings) > LISTINGS_KEPT:
                del self._listings[next(iter(self._listings))]  # the oldest kept
        return items

    async def stored_items(self, scene: Scene, stored: StoredMatch) -> list[PlexItem] | None:
        """The items of the scene's last full match, read in full by rating key, if they still
        are its match: each holds one of the scene's files in a library still searched, and
        together they hold all of them. None otherwise (an item gone, a file moved, a library
        added or dropped): the caller then matches afresh.

        One read per item, which the diff needs anyway, replaces a `file=` listing per library
        (PMS matches that by folder, so it grows with the folder). The price: an item Plex adds
        later for the same file, in a library already searched, is found only once these stop
        being the match."""
        paths = self._paths(scene)
        wanted = {section.id for section in await self.movie_sections()}
        if not paths or not stored.items or stored.sections != wanted:
            return None
        items = []
        for rating_key, section_id in stored.items:
            try:
                item = await self._plex.metadata(rating_key, section_id)
            except PlexNotFound:
                return None
            if item.section_id not in wanted:
                return None
            items.append(item)
        return items if self.is_match(scene, items) else None

    def is_match(self, scene: Scene, items: list[PlexItem]) -> bool:
        """Whether every item has a part equal to one of the scene's files and every file is a
        part of one of them (worth keeping: then reading `items` again finds the scene)."""
        paths = self._paths(scene)
        parts = [part for item in items for part in item.files]
        return all(any(same_file(part, path) for part in parts) for path in paths) and all(
            any(same_file(part, path) for part in item.files for path in paths) for item in items
        )

    def _paths(self, scene: Scene) -> list[str]:
        """The scene's files as Plex sees them (after path_map)."""
        return [apply_path_map(p, self._settings.path_map) for p in scene.files]

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

    def _describe(self, path: str) -> str:
        if self._settings.obfuscate_paths:
            return basename(path)[:3] + "…"
        return path


def _folder(path: str) -> str:
    """The folder part of a Plex file path, POSIX or Windows."""
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut] if cut >= 0 else ""
