"""Reading Stash's GraphQL answers, shared by the hook's settings fetch and the async client.

Standard library only. Every failure is one sentence that names no credential.
"""

from __future__ import annotations

from plexsync_actors.errors import StashUnavailable

_MAX_ERROR_CHARS = 200


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
