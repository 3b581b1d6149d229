"""The HTTP clients of a run, built in one place: Plex (one connection) and Stash."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx

from plexsync_actors.persistence.database import DB_NAME
from plexsync_actors.persistence.jobs import JobQueue
from plexsync_actors.plex.client import PlexClient
from plexsync_actors.settings import Settings

# Sent by runs that must not create state (Check Setup, Health Check on a fresh install).
UNSTORED_CLIENT_ID = "plexsync-check-setup"


def client_id(queue: JobQueue) -> str:
    """A stable X-Plex-Client-Identifier, so Plex does not announce a new device every run."""
    return queue.set_meta_if_absent("client_id", f"plexsync-{uuid.uuid4()}")


def stored_client_id(data_dir: Path) -> str:
    """The stored client identifier when the queue exists; creates no state."""
    if not (data_dir / DB_NAME).is_file():
        return UNSTORED_CLIENT_ID
    try:
        with JobQueue(data_dir) as queue:
            return client_id(queue)
    except (OSError, sqlite3.Error):
        return UNSTORED_CLIENT_ID


def plex_http_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One connection: writes go one at a time and keep-alive spares Plex new handshakes."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(
        limits=limits, follow_redirects=False, trust_env=False, transport=transport
    )


def stash_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False)


def plex_client(http: httpx.AsyncClient, settings: Settings, identifier: str) -> PlexClient:
    """The Plex client for these settings, over `http`."""
    return PlexClient(
        http,
        base_url=settings.plex_url,
        token=settings.plex_token,
        client_id=identifier,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )
