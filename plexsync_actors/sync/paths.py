"""File-path mapping and comparison: how a Stash file path becomes the Plex path we look for."""

from __future__ import annotations

import ntpath
import posixpath

from plexsync_actors.settings import PathMapping


def apply_path_map(path: str, mappings: tuple[PathMapping, ...]) -> str:
    """Replace the longest matching Stash prefix with its Plex prefix (at a folder boundary)."""
    for mapping in mappings:
        prefix = mapping.stash_prefix
        if path == prefix or path.startswith(prefix.rstrip("/\\") + path_sep(prefix, path)):
            rest = path[len(prefix.rstrip("/\\")) :]
            plex = mapping.plex_prefix.rstrip("/\\")
            if "\\" in plex and "/" not in plex:
                rest = rest.replace("/", "\\")
            elif "/" in plex and "\\" not in plex:
                rest = rest.replace("\\", "/")
            return plex + rest
    return path


def path_sep(prefix: str, path: str) -> str:
    if prefix.endswith(("/", "\\")):
        return prefix[-1]
    after = path[len(prefix) : len(prefix) + 1]
    return after if after in ("/", "\\") else "/"


def is_windows_path(path: str) -> bool:
    return path.startswith("\\\\") or (len(path) > 1 and path[1] == ":") or "\\" in path


def normalise(path: str) -> str:
    """A comparison key: Windows-style paths ignore case and separator; `\\\\?\\` is dropped."""
    if path.startswith("\\\\?\\"):
        path = path[4:]
    if is_windows_path(path):
        return ntpath.normcase(path.replace("/", "\\"))
    return posixpath.normpath(path)


def same_file(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)


def basename(path: str) -> str:
    return ntpath.basename(path) if is_windows_path(path) else posixpath.basename(path)
