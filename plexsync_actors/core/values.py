"""Values as Stash hands them over, parsed with the standard library only.

Shared by the hook fast path (which must not import attrs or cattrs, as `settings.py` does), task
argument parsing and settings validation, so all three read a switch the same way. Callers turn
`None` ("not a value of this kind") into their own error or default.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook imports this module: typing and pathlib cost it milliseconds
    from collections.abc import Mapping

    StrPath = str | os.PathLike[str]  # a folder or file, as the persistence code takes one

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def parse_bool(value: object) -> bool | None:
    """A boolean as Stash may send one (true/false, 0/1, "true", "off", ...); None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value) if value in (0, 1) else None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def enabled(raw: Mapping[str, object]) -> bool | None:
    """The `enabled` switch of a settings map: on when unset, None when it is not a boolean."""
    value = raw.get("enabled")
    if value is None or value == "":
        return True
    return parse_bool(value)


def default_data_dir(stash_dir: str | None) -> str | None:
    """`{Dir}/plugin_data/PlexSync`: outside the plugin folder, so an update keeps the queue."""
    if not stash_dir:
        return None
    return os.path.join(stash_dir, "plugin_data", "PlexSync")


SHOWN_CHARS = 200


def shown(value: object) -> str:
    """`value` as an error message quotes it: its repr, cut to about 200 characters (a 1 MB
    input must not come back as a 2 MB error)."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}… ({len(text)} characters)"
