"""The settings in force from what Stash answered to the settings query (no HTTP client here:
the read-only tasks use it with the standard-library request, other runs with httpx)."""

from __future__ import annotations

from plexsync_actors.settings import Settings, enabled_in, parse_settings
from plexsync_actors.stash.answers import require_supported_stash


def settings_in_force(
    raw: dict[str, object], stash_version: str | None, stash_dir: str | None
) -> Settings | None:
    """Validated settings; None when PlexSync is switched off.

    StashTooOld when Stash is older than PlexSync supports (its setting keys would be wrong)."""
    require_supported_stash(stash_version)
    if not enabled_in(raw):
        return None
    return parse_settings(raw, stash_dir=stash_dir)
