"""Read PlexSync's settings from Stash with the standard library only: the hook's one request.

The hook path must exit fast, so this module imports neither httpx, trio nor attrs: only
standard-library-only project modules at import time and `socket`/`json`/`urllib.parse` when
called. The async `client` sends the same query and reads its answer with the same `answers`.
"""

from __future__ import annotations

import re

from plexsync_actors.core.values import shown
from plexsync_actors.errors import StashUnavailable
from plexsync_actors.secret import safe_origin
from plexsync_actors.stash.answers import (
    auth_refused_message,
    graphql_failure_message,
    plugin_settings_from_answer,
    stash_version_from_answer,
)
from plexsync_actors.stash.queries import plugin_settings_query


def fetch_plugin_config_sync(
    base_url: str,
    headers: dict[str, str],
    plugin_id: str = "PlexSync",
    timeout: float = 5.0,
) -> tuple[dict[str, object], str | None]:
    """(settings, Stash's version) in one request, as `StashClient.plugin_config` reads them:
    the read-only tasks use this to stay free of httpx and trio."""
    answer = _settings_answer(base_url, headers, plugin_id, timeout)
    return plugin_settings_from_answer(answer, plugin_id), stash_version_from_answer(answer)


def fetch_plugin_settings_sync(
    base_url: str,
    headers: dict[str, str],
    plugin_id: str = "PlexSync",
    timeout: float = 5.0,
) -> dict[str, object]:
    """Return the settings the user saved for `plugin_id` in Stash (`{}` when none are set).

    `headers` authenticate the request (the cookie or `ApiKey` header); `timeout` bounds the
    connect and each read. Any failure raises `StashUnavailable` with one sentence that names no
    credential.
    """
    return plugin_settings_from_answer(
        _settings_answer(base_url, headers, plugin_id, timeout), plugin_id
    )


def _settings_answer(
    base_url: str, headers: dict[str, str], plugin_id: str, timeout: float
) -> dict[str, object]:
    """Stash's answer to the settings query, a JSON object; StashUnavailable otherwise."""
    import json

    scheme, hostname, port, base_path = _split(base_url)
    payload = {"query": plugin_settings_query(plugin_id), "variables": {}}
    body = json.dumps(payload).encode("utf-8")
    request_headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        **headers,
    }
    path = f"{base_path.rstrip('/')}/graphql"
    try:
        if scheme == "http":
            status, raw = _post_plain_http(
                hostname, port or 80, path, body, request_headers, timeout
            )
        else:
            status, raw = _post_https(hostname, port, path, body, request_headers, timeout)
    except (OSError, ValueError) as exc:
        raise StashUnavailable(
            f"Could not reach Stash at {safe_origin(base_url)} ({type(exc).__name__}); "
            "check that Stash is running."
        ) from exc
    if status in (401, 403):
        raise StashUnavailable(auth_refused_message(status, api_key_used="ApiKey" in headers))
    try:
        answer = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise StashUnavailable(
            f"Stash answered HTTP {status} with a body that is not JSON."
        ) from exc
    if status != 200 or not isinstance(answer, dict):
        raise StashUnavailable(graphql_failure_message(status, answer))
    return answer


# What `server_connection.base_url` builds: scheme://host:port, an IPv6 host in brackets.
_PLAIN_URL = re.compile(
    r"(https?)://(\[[0-9A-Za-z:.%_-]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?(/[^?#]*)?"
)


def _split(base_url: str) -> tuple[str, str, int | None, str]:
    """(scheme, host, port, path) of a Stash base URL. The address `base_url` builds is read
    with a regular expression (`urllib.parse` costs the hook milliseconds of imports, and
    `ipaddress` with it); anything else goes through `urllib.parse`."""
    plain = _PLAIN_URL.fullmatch(base_url)
    if plain is not None and (plain[3] is None or 0 < int(plain[3]) < 65536):
        scheme, host, port, path = plain.groups()
        host = host[1:-1] if host.startswith("[") else host
        return scheme, host, int(port) if port else None, path or ""
    import urllib.parse

    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StashUnavailable(f"The Stash address {shown(base_url)} is not an http(s) URL.")
    try:
        port = parts.port
    except ValueError as exc:
        raise StashUnavailable(f"The Stash address {shown(base_url)} has an invalid port.") from exc
    return parts.scheme, parts.hostname, port, parts.path


def _post_plain_http(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    """One HTTP/1.0 POST over a plain socket: `http.client` costs the hook ~40 ms of imports
    (ssl, email), and on loopback to Stash this is all we need. HTTP/1.0 makes the server close
    the connection after a plain (never chunked) body, so the body is everything until EOF."""
    import socket

    named = f"[{host}]" if ":" in host else host
    lines = [f"POST {path} HTTP/1.0", f"Host: {named}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    chunks = []
    # An ASCII name goes as bytes: a text one makes socket import the idna codec.
    address = host.encode("ascii") if host.isascii() else host
    with socket.create_connection((address, port), timeout=timeout) as sock:  # type: ignore[arg-type]
        sock.sendall(request)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, sep, payload = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if not sep or len(status_line) < 2 or not status_line[1].isdigit():
        raise ValueError("malformed HTTP answer")
    return int(status_line[1]), payload


def _post_https(
    host: str, port: int | None, path: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPSConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except http.client.HTTPException as exc:
        raise ValueError(str(exc)) from exc
    finally:
        connection.close()
