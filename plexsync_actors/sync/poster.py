"""Which screenshot becomes the Plex poster: only a raster image Stash really has.

Stash answers the screenshot URL of a scene without a cover with 200 and its placeholder SVG,
and a scene saved right after a scan (`Scene.Create.Post` fires before the cover exists) gets
that placeholder: it is never uploaded, and the scene's poster is tried again later.
"""

from __future__ import annotations

import hashlib

import attrs

from plexsync_actors.errors import PlexSyncError
from plexsync_actors.stash.models import Image

MAX_POSTER_BYTES = 9 * 1024 * 1024  # Plex refuses uploads near 10 MB


def is_raster(image: Image) -> bool:
    """A JPEG, PNG or WebP by its content type, and its first bytes agree."""
    kind = image.content_type.split(";", 1)[0].strip().lower()
    data = image.data
    if kind == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if kind == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if kind == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return False


@attrs.frozen(kw_only=True)
class PosterPlan:
    """What to do with one item's poster, decided before anything is sent to Plex."""

    upload: bytes | None = attrs.field(default=None, repr=False)  # new image to send
    digest: str | None = None  # sha256 of the screenshot now behind the URL (None: unknown)
    pending: bool = False  # Stash served no real cover yet: try again later
    error: PlexSyncError | None = None  # reading the screenshot failed: raised after the PUT


def plan_poster(image: Image | None, last_digest: str | None) -> PosterPlan:
    """The plan for a screenshot `image` (None: Stash has none) against the last upload."""
    if image is None:
        return PosterPlan()
    if not is_raster(image):
        return PosterPlan(pending=True)
    if len(image.data) > MAX_POSTER_BYTES:
        return PosterPlan()
    digest = hashlib.sha256(image.data).hexdigest()
    if digest == last_digest:
        return PosterPlan(digest=digest)
    return PosterPlan(upload=image.data, digest=digest)
