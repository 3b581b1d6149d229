"""Reading Stash's GraphQL answers, shared by the hook's settings fetch and the async client.

Standard library only. Every failure is one sentence that names no credential.
"""

from __future__ import annotations

import re

from plexsync_actors.errors import StashTooOld, StashUnavailable

_MAX_ERROR_CHARS = 200
# Before v0.26.0 Stash hands plugin setting keys back in camelCase, its settings page loses an
# upper-camel plugin id's values (stash#4575), and `exec` words resolve differently (contract §1).
MIN_STASH_VERSION = (0, 26, 0)
MIN_STASH_TEXT = "v0.26.0"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def stash_version_from_answer(answer: dict[str, object]) -> str | None:
    """`version.version` of an answer to the settings query (None when Stash does not say)."""
    data = answer.get("data")
    block = data.get("version") if isinstance(data, dict) else None
    version = block.get("version") if isinstance(block, dict) else None
    return version if isinstance(version, str) and version.strip() else None


def require_supported_stash(version: str | None) -> None:
    """StashTooOld, in one sentence, when `version` is older than v0.26.0.

    A build that names no version, or one PlexSync cannot read, is given the benefit of doubt."""
    match = _VERSION.match(version or "")
    if match is None:
        return
    found = tuple(int(n) for n in match.groups())
    if found < MIN_STASH_VERSION:
        raise StashTooOld(
            f"PlexSync needs Stash {MIN_STASH_TEXT} or newer, and this Stash is {version}: "
            "update Stash, then run this again (scenes saved meanwhile stay queued)."
        )


def plugin_settings_from_answer(answer: dict[str, object], plugin_id: str) -> dict[str, object]:
    """Pick `configuration.plugins[plugin_id]` out of a GraphQL answer; `{}` when it is unset."""
    if answer.get("errors"):
        raise StashUnavailable(graphql_failure_message(200, answer))
    data = answer.get("data")
    configuration = data.get("configuration") if isinstance(data, dict) else None
    plugins = configuration.get("plugins") if isinstance(configuration, dict) else None
    if not isinstance(plugins, dict):
        raise StashUnavailable("Stash answered the settings query without a plugins map.")
    settings = plugins.get(plugin_id)
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise StashUnavailable(f"Stash holds settings for {plugin_id} that are not a JSON object.")
    return {str(key): value for key, value in settings.items()}


def graphql_failure_message(status: int, answer: object) -> str:
    """One sentence for an answer that carries GraphQL `errors` or an unexpected status."""
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if isinstance(errors, list) and errors:
        first = errors[0]
        message = first.get("message") if isinstance(first, dict) else first
        text = str(message)[:_MAX_ERROR_CHARS].rstrip(".")
        return f"Stash rejected PlexSync's query (HTTP {status}): {text}."
    return f"Stash answered HTTP {status} instead of a GraphQL result."


def auth_refused_message(status: int, *, api_key_used: bool) -> str:
    """One sentence for a 401/403, saying which credential failed and what to do."""
    if status == 403:
        return (
            "Stash denied PlexSync access (HTTP 403); check Stash's Security settings "
            "(without a password Stash refuses requests from public addresses)."
        )
    if api_key_used:
        return (
            "Stash refused PlexSync's API key (HTTP 401); "
            "check the API key in Stash's Security settings."
        )
    return (
        "Stash refused PlexSync's session (HTTP 401): the session cookie is missing or expired "
        "and no API key is known, so generate one in Stash's Security settings."
    )
