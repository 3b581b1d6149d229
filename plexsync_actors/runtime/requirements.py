"""Can this Python run PlexSync? The interpreter version and the dependencies, in one sentence.

Standard library only, and cheap enough for the hook: it asks the import system's finders for
the modules without importing them (nor `importlib.util`, which brings `contextlib` along).
Task runs also compare the installed versions with the minimums. The release zip brings every
dependency in its `vendor/` folder, so the fix it names first is installing from the plugin
source.
"""

from __future__ import annotations

import sys

MIN_PYTHON = (3, 10)
# Distribution (and import) name -> the oldest release PlexSync works with (pyproject.toml).
MINIMUMS = {"trio": "0.23", "httpx": "0.27", "attrs": "23.1", "cattrs": "23.2"}


def problem(*, check_versions: bool) -> str | None:
    """One sentence saying why this Python cannot run PlexSync and what to do, or None."""
    python = ".".join(str(n) for n in sys.version_info[:3])
    where = f"the Python Stash started ({sys.executable}, Python {python})"
    if tuple(sys.version_info[:2]) < MIN_PYTHON:
        return (
            f"PlexSync needs Python 3.10 or newer, and {where} is older: set Settings > System "
            "> Python Executable Path in Stash to a Python 3.10 or newer, then run this again."
        )
    missing = _missing()
    if missing:
        what = f"lacks {', '.join(missing)}"
    elif check_versions and (old := _too_old()):
        what = f"has {', '.join(old)}"
    else:
        return None
    return (
        f"PlexSync cannot start: {where} {what}. Install PlexSync from its plugin source "
        "(Settings > Plugins > Available), which brings its own copies, or run "
        f'"{sys.executable}" -m pip install "trio>=0.23" "httpx>=0.27" "attrs>=23.1" '
        '"cattrs>=23.2".'
    )


def _missing() -> list[str]:
    return [name for name in MINIMUMS if not _findable(name)]


def _findable(name: str) -> bool:
    """`importlib.util.find_spec(name) is not None` for a top-level name, as the import
    statement looks: each finder on `sys.meta_path` in turn (an editable install's too)."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None and find_spec(name, None) is not None:
            return True
    return False


def _too_old() -> list[str]:
    """"httpx 0.20 (0.27 or newer needed)" for each dependency older than its minimum."""
    from importlib import metadata

    old = []
    for name, minimum in MINIMUMS.items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # importable without metadata (a copy on the path): give it the benefit
        if _release(found) < _release(minimum):
            old.append(f"{name} {found} ({minimum} or newer needed)")
    return old


def _release(version: str) -> tuple[int, ...]:
    """(0, 28, 1) for "0.28.1"; a pre-release counts as its release ("1.0rc1" is (1, 0))."""
    import re

    parts = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.end() < len(piece):
            break
    return tuple(parts)
