"""The settings in force: read from Stash and validated, for a task run or the long-run mode."""

from __future__ import annotations

from plexsync_actors import PLUGIN_ID
from plexsync_actors.runtime.clients import stash_http_client
from plexsync_actors.runtime.settings_from_stash import settings_in_force
from plexsync_actors.settings import Settings
from plexsync_actors.stash.client import StashClient
from plexsync_actors.stash.connection import StashConnection


async def load_settings(conn: StashConnection) -> Settings | None:
    """Read and validate the plugin settings from Stash; None when PlexSync is disabled.

    StashTooOld when Stash is older than PlexSync supports (its setting keys would be wrong)."""
    async with stash_http_client() as http:
        config = await StashClient(http, conn).plugin_config(PLUGIN_ID)
    return settings_in_force(config.settings, config.stash_version, conn.stash_dir)


async def read_settings(conn: StashConnection) -> dict[str, object]:
    """The settings map as Stash holds it now (what a long-lived drainer re-reads)."""
    async with stash_http_client() as http:
        return await StashClient(http, conn).plugin_settings(PLUGIN_ID)
