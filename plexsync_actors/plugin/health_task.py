"""The Health Check task: one active probe of Plex now (it needs httpx, the status tasks do not)."""

from __future__ import annotations

import logging
from typing import Any

from plexsync_actors.errors import PlexError
from plexsync_actors.plugin.context import TaskContext
from plexsync_actors.plugin.status import circuit_state
from plexsync_actors.runtime.clients import plex_client, plex_http_client, stored_client_id

log = logging.getLogger("plexsync_actors.plugin.status")  # the same lines as before the move


async def health_check(ctx: TaskContext) -> dict[str, Any]:
    """One active probe now; reports only, never changes the breaker (contract §8)."""
    breaker = circuit_state(ctx.settings)
    async with plex_http_client() as http:
        plex = plex_client(http, ctx.settings, stored_client_id(ctx.settings.data_dir))
        try:
            latency = (await plex.identity()).latency_ms
        except PlexError as exc:
            log.warning("Plex is not healthy: %s (%s).", exc.error_type, exc)
            return {"healthy": False, "latency_ms": None, "breaker": breaker, "error": str(exc)}
    log.info("Plex answered /identity in %.0f ms; circuit %s.", latency, breaker)
    return {"healthy": True, "latency_ms": round(latency, 1), "breaker": breaker}
