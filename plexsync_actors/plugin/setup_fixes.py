"""The fix Check Setup offers for each failure: one sentence naming the setting and its value."""

from __future__ import annotations

import re

from plexsync_actors.errors import PlexError, PlexServerDown, PlexTemporaryError, PlexUnauthorized
from plexsync_actors.plex.client import STARTING_UP_MARKER
from plexsync_actors.plex.models import Section
from plexsync_actors.stash.connection import StashConnection
from plexsync_actors.sync.paths import normalise

STARTING_UP_FIX = "Plex is still starting up: wait until it finishes, then run Check Setup again."
REFUSED_FIX = (
    "Set plex_token to a valid X-Plex-Token for this server "
    "(Plex Web > any item > Get Info > View XML shows it in the address)."
)

def stash_fix(message: str, conn: StashConnection, origin: str) -> str:
    if "refused" in message or "denied" in message:
        if not conn.cookie_value:
            return "Set STASH_API_KEY in the environment to Stash's API key (Settings > Security)."
        return "Generate an API key in Stash's Settings > Security, then run Check Setup again."
    return (
        f"Make sure Stash is running and answers at {origin} (from a terminal, pass --stash-url "
        "with Stash's address), then run Check Setup again."
    )


def plex_fix(exc: PlexError, origin: str, *, on_unauthorized: str = REFUSED_FIX) -> str:
    text = str(exc).lower()
    if isinstance(exc, PlexTemporaryError) and STARTING_UP_MARKER in text:
        return STARTING_UP_FIX
    if isinstance(exc, PlexServerDown):
        return f"Start Plex, or set plex_url to the address Plex answers on (now {origin})."
    if isinstance(exc, PlexUnauthorized):
        return on_unauthorized
    if isinstance(exc, PlexTemporaryError) and "in time" in text:
        return "Check that Plex is not overloaded, or raise read_timeout (seconds)."
    if isinstance(exc, PlexTemporaryError) and "not json" not in text:
        return "Check that Plex is healthy (its own log), then run Check Setup again."
    return f"Set plex_url to your Plex server's address (now {origin}, which does not act as Plex)."


def describe(sections: list[Section]) -> str:
    named = (f"{s.title} ({s.kind}: {', '.join(s.locations) or 'no folders'})" for s in sections)
    return "; ".join(named) or "none"


def within(path: str, folder: str) -> bool:
    a, b = normalise(path).rstrip("/\\"), normalise(folder).rstrip("/\\")
    return a == b or a.startswith((b + "/", b + "\\"))


def common_tail(a: str, b: str) -> int:
    """How many trailing names (file, then folders) two paths share."""
    pa, pb = re.split(r"[\\/]", a), re.split(r"[\\/]", b)
    n = 0
    while n < min(len(pa), len(pb)) and pa[-1 - n].casefold() == pb[-1 - n].casefold():
        n += 1
    return n


def drop_tail(path: str, names: int) -> str:
    """`path` without its last `names` names (and the separator before them)."""
    tail = re.split(r"[\\/]", path)[-names:] if names else []
    return path[: max(0, len(path) - len("/".join(tail)) - 1)]


def matching_fix(stash_path: str, plex_path: str | None) -> str:
    if plex_path is None:
        return (
            f"Add the folder holding {stash_path} to a Plex movie library named in plex_library "
            "(empty: any) and let Plex scan it, or set path_map if Plex sees it elsewhere."
        )
    # Drop the shared names, keeping at least one folder on each side: /a/m/x.mp4, /m/x.mp4
    # give /a/m=>/m, not /a=>(nothing).
    for n in range(common_tail(stash_path, plex_path), 0, -1):
        stash_prefix, plex_prefix = drop_tail(stash_path, n), drop_tail(plex_path, n)
        if stash_prefix and plex_prefix:
            return (
                f"Make path_map map {stash_prefix}=>{plex_prefix} (Stash's {stash_path} is "
                f"Plex's {plex_path})."
            )
    return f"Set path_map (stash_prefix=>plex_prefix) so Stash's {stash_path} becomes {plex_path}."
