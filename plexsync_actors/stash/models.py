"""What Stash tells PlexSync: a scene as read at sync time, and the plugin's configuration."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Scene:
    """The fields of a Stash scene that PlexSync syncs, as read at sync time."""

    id: int
    title: str | None = None
    details: str | None = None
    date: str | None = None
    studio: str | None = None
    performers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    screenshot_url: str | None = None
    updated_at: str | None = None
    # (kind, id, name) of each tag, performer and studio shown: what a later rename, merge or
    # delete of one of them is traced back to (`sync.fan_out`).
    entities: tuple[tuple[str, int, str], ...] = ()


@attrs.frozen(kw_only=True)
class SceneIdPage:
    """One page of a walk through scene ids, and how many scenes Stash counted for it."""

    count: int
    ids: tuple[int, ...]


@attrs.frozen(kw_only=True)
class SceneChange:
    """A scene and Stash's `updated_at` for it, as Stash wrote it (RFC 3339, Stash's zone)."""

    id: int
    updated_at: str


@attrs.frozen(kw_only=True)
class PluginConfig:
    """What one settings read tells: the plugin's saved settings and Stash's version."""

    settings: dict[str, object]
    stash_version: str | None


@attrs.frozen(kw_only=True)
class Image:
    """An image as Stash served it: its bytes and the content type it named."""

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    content_type: str
