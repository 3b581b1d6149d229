"""File-path mapping and comparison: how a Stash file path becomes the Plex path we look for.

Paths compare in Unicode NFC (macOS hands out NFD). Windows-style paths (a drive letter, a UNC
share, or any backslash) compare without case and with either slash, after dropping a leading
`\\\\?\\` or `\\\\?\\UNC\\`; POSIX paths compare exactly.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
import unicodedata

from plexsync_actors.settings import PathMapping

_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")
_SEPARATORS = ("/", "\\")


def apply_path_map(path: str, mappings: tuple[PathMapping, ...]) -> str:
    """Replace the longest matching Stash prefix with its Plex prefix (at a folder boundary).

    A prefix of Windows form matches whatever the case and the slashes of the path."""
    path = _plain(path)
    for mapping in mappings:
        rest = _after_prefix(path, _plain(mapping.stash_prefix))
        if rest is None:
            continue
        plex = mapping.plex_prefix.rstrip("/\\")
        if "\\" in plex and "/" not in plex:
            rest = rest.replace("/", "\\")
        elif "/" in plex and "\\" not in plex:
            rest = rest.replace("\\", "/")
        return plex + rest
    return path


def _after_prefix(path: str, prefix: str) -> str | None:
    """What follows `prefix` in `path` (from the separator on), or None when it is not a prefix."""
    stem = prefix.rstrip("/\\")
    head, rest = path[: len(stem)], path[len(stem) :]
    if rest and not rest.startswith(_SEPARATORS):
        return None
    key = _windows_key if is_windows_path(prefix) else str
    return rest if key(head) == key(stem) else None


def is_windows_path(path: str) -> bool:
    return path.startswith("\\\\") or bool(_DRIVE.match(path)) or "\\" in path


def normalise(path: str) -> str:
    """A comparison key: NFC; Windows-style paths ignore case and separator."""
    path = _plain(path)
    if is_windows_path(path):
        return _windows_key(path)
    return posixpath.normpath(path)


def same_file(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)


def basename(path: str) -> str:
    return ntpath.basename(path) if is_windows_path(path) else posixpath.basename(path)


def _plain(path: str) -> str:
    """NFC, without Windows' long-path prefixes (`\\\\?\\UNC\\srv\\share` is `\\\\srv\\share`)."""
    path = unicodedata.normalize("NFC", path)
    if path[:8].upper() == "\\\\?\\UNC\\":
        return "\\\\" + path[8:]
    if path.startswith("\\\\?\\"):
        return path[4:]
    return path


def _windows_key(path: str) -> str:
    return ntpath.normcase(path.replace("/", "\\")).casefold()
