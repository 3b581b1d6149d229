"""Plex HTTP client over one injected httpx.AsyncClient.

Transport and HTTP failures are translated here into the project's error types (contract §7), so
nothing above this module sees httpx. The token travels only in the X-Plex-Token header.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from plexsync_actors import __version__
from plexsync_actors.clock import monotonic
from plexsync_actors.errors import (
    PlexNotFound,
    PlexPermanentError,
    PlexServerDown,
    PlexTemporaryError,
    PlexUnauthorized,
)
from plexsync_actors.plex.models import Identity, PlexItem, Section, item_from_json
from plexsync_actors.secret import Secret

STARTING_UP_MARKER = "still starting up"


def encode_query(params: list[tuple[str, str]]) -> str:
    """Edit query string the way PMS expects: keys raw, values fully percent-encoded."""
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in params)


class PlexClient:
    """Speaks to one Plex server. Methods raise only PlexError subclasses."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: Secret,
        client_id: str,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._headers = {
            "Accept": "application/json",
            "X-Plex-Client-Identifier": client_id,
            "X-Plex-Product": "PlexSync",
            "X-Plex-Version": __version__,
        }
        # HTTP answers Plex sent (any status): whether an attempt reached Plex at all.
        self.answers = 0

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        content: bytes | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        try:
            url = (
                httpx.URL(self._base + path, query=query.encode("ascii"))
                if query
                else httpx.URL(self._base + path)
            )
        except httpx.InvalidURL as exc:
            raise PlexServerDown(_bad_url_message(exc)) from exc
        headers = dict(self._headers)
        if auth:
            headers["X-Plex-Token"] = self._token.reveal()
        try:
            response = await self._http.request(
                method, url, headers=headers, content=content, timeout=self._timeout
            )
        except httpx.UnsupportedProtocol as exc:
            raise PlexServerDown(_bad_url_message(exc)) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise PlexServerDown(f"Plex is unreachable ({_reason(exc)}).") from exc
        except httpx.TimeoutException as exc:
            raise PlexTemporaryError(f"Plex did not answer in time ({_reason(exc)}).") from exc
        except httpx.TransportError as exc:
            raise PlexTemporaryError(f"Plex dropped the connection ({_reason(exc)}).") from exc
        self.answers += 1
        _raise_for_status(response, method, path)
        return response

    async def identity(self) -> Identity:
        """The health probe: `GET /identity`, no token needed."""
        start = monotonic()
        response = await self._request("GET", "/identity", auth=False)
        latency = (monotonic() - start) * 1000.0
        container = _container(response)
        return Identity(
            version=str(container.get("version", "")),
            machine_id=str(container.get("machineIdentifier", "")),
            latency_ms=latency,
        )

    async def sections(self) -> list[Section]:
        container = _container(await self._request("GET", "/library/sections"))
        return [
            Section(
                id=str(d.get("key", "")),
                title=str(d.get("title", "")),
                kind=str(d.get("type", "")),
                locations=tuple(str(loc.get("path", "")) for loc in d.get("Location", []) or []),
            )
            for d in container.get("Directory", []) or []
        ]

    async def list_items(
        self, section_id: str, *, file: str | None = None, title: str | None = None
    ) -> list[PlexItem]:
        """Movies of a section filtered by `file` or `title` (loose filters: confirm exactly)."""
        params = [("type", "1")]
        if file is not None:
            params.append(("file", file))
        if title is not None:
            params.append(("title", title))
        response = await self._request(
            "GET", f"/library/sections/{quote(section_id, safe='')}/all", query=encode_query(params)
        )
        found = _container(response).get("Metadata", []) or []
        return [item_from_json(m, section_id) for m in found]

    async def metadata(self, rating_key: str, section_id: str) -> PlexItem:
        """The full item, with complete tag lists and field locks."""
        response = await self._request("GET", f"/library/metadata/{quote(rating_key, safe='')}")
        items = _container(response).get("Metadata", []) or []
        if not items:
            raise PlexNotFound(f"Plex item {rating_key} no longer exists.", status=404)
        return item_from_json(items[0], section_id)

    async def edit(self, item: PlexItem, params: list[tuple[str, str]]) -> None:
        """One PUT carrying every change for the item."""
        query = encode_query([("type", "1"), ("id", item.rating_key), *params])
        await self._request(
            "PUT", f"/library/sections/{quote(item.section_id, safe='')}/all", query=query
        )

    async def upload_poster(self, rating_key: str, image: bytes) -> None:
        await self._request(
            "POST", f"/library/metadata/{quote(rating_key, safe='')}/posters", content=image
        )


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


def _bad_url_message(exc: Exception) -> str:
    return f"Plex cannot be reached: the plex_url setting is not a usable address ({_reason(exc)})."


def _raise_for_status(response: httpx.Response, method: str, path: str) -> None:
    status = response.status_code
    where = f"{method} {path}"
    if 300 <= status < 400:
        # Not followed: an edit would look applied when it never reached Plex.
        raise PlexPermanentError(
            f"Plex answered {status} (a redirect to {response.headers.get('location', '?')!r}) "
            f"to {where}: set plex_url to the address Plex answers on.",
            status=status,
        )
    if status < 400:
        return
    body = response.text[:200] if response.content else ""
    if status >= 500:
        raise PlexTemporaryError(f"Plex answered {status} to {where}.", status=status)
    if status == 400 and STARTING_UP_MARKER in body.lower():
        raise PlexTemporaryError("Plex is still starting up and refuses edits.", status=status)
    if status in (401, 403):
        raise PlexUnauthorized(
            f"Plex refused the token ({status}) for {where}: check the plex_token setting.",
            status=status,
        )
    if status == 404:
        raise PlexNotFound(f"Plex answered 404 to {where}.", status=status)
    raise PlexPermanentError(f"Plex answered {status} to {where}: {body}".strip(), status=status)


def _container(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError as exc:
        raise PlexTemporaryError(
            "Plex answered something that is not JSON.", status=response.status_code
        ) from exc
    container = data.get("MediaContainer", {}) if isinstance(data, dict) else {}
    return container if isinstance(container, dict) else {}
