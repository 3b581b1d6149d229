"""The project's error types. Their class names are what users see in the DLQ and the logs."""

from __future__ import annotations


class PlexSyncError(Exception):
    """Root of every error PlexSync raises on purpose."""


class SettingsError(PlexSyncError):
    """A setting is missing or invalid; the message names the setting, the value and the fix."""


class InputError(PlexSyncError):
    """Stash sent input the plugin cannot act on."""


class DataDirError(PlexSyncError):
    """The data dir cannot hold the queue (missing rights, full disk, not a folder)."""


class StashUnavailable(PlexSyncError):
    """Stash could not be reached or refused our credentials. Never trips the Plex breaker."""


class RuntimeProblem(PlexSyncError):
    """The Python Stash started cannot run PlexSync (too old, or dependencies missing)."""


class StashTooOld(PlexSyncError):
    """Stash is older than the oldest release PlexSync supports (contract §1)."""


class JobError(PlexSyncError):
    """One job's sync failed: it is retried or dead-lettered by its type (the class name).

    `status` is the HTTP status when the server answered."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def error_type(self) -> str:
        return type(self).__name__


class StashSceneError(JobError):
    """Stash is up but could not give this one scene's data or screenshot (a 5xx or an odd
    redirect for its screenshot, a scene it answers in a shape PlexSync cannot read)."""


class PlexError(JobError):
    """A failure talking to Plex. `status` is the HTTP status when Plex answered."""


class PlexServerDown(PlexError):
    """Connection refused, DNS failure or connect timeout: the request never reached Plex."""


class PlexTemporaryError(PlexError):
    """5xx, read timeout, or Plex still starting up: try again later."""


class PlexUnauthorized(PlexError):
    """401/403: the token was revoked or changed; an outage until `plex_token` is fixed."""


class PlexNotFound(PlexError):
    """No Plex item has the scene's file (Plex may not have scanned it yet)."""


class PlexPermanentError(PlexError):
    """Any other 4xx, or an ambiguous match: retrying will not help."""


OUTAGE_ERROR_TYPES: frozenset[str] = frozenset(
    {"PlexServerDown", "PlexTemporaryError", "PlexUnauthorized"}
)
ERROR_TYPES: tuple[str, ...] = (
    "PlexServerDown",
    "PlexTemporaryError",
    "PlexUnauthorized",
    "PlexNotFound",
    "PlexPermanentError",
    "StashSceneError",
)
