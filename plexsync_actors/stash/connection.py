"""How to reach Stash's GraphQL endpoint, built from the plugin input's `server_connection`.

The hook path reads `server_connection` with `server_connection.py` (standard library only); task
and drainer runs turn it into a `StashConnection` here.
"""

from __future__ import annotations

from typing import Any

import attrs

from plexsync_actors.stash import server_connection


@attrs.frozen(kw_only=True)
class StashConnection:
    """How to reach Stash's GraphQL endpoint, from `server_connection` in the plugin input."""

    base_url: str
    cookie_name: str | None = None
    cookie_value: str | None = attrs.field(default=None, repr=False)
    api_key: str | None = attrs.field(default=None, repr=False)
    stash_dir: str | None = None

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request: the API key when we have one, else the cookie."""
        if self.api_key:
            return {"ApiKey": self.api_key}
        if self.cookie_name and self.cookie_value:
            return {"Cookie": f"{self.cookie_name}={self.cookie_value}"}
        return {}


def connection_from(raw: Any) -> StashConnection:
    """The connection Stash gave the plugin; InputError unless `raw` is a usable object."""
    url = server_connection.base_url(raw)
    found = server_connection.cookie(raw)
    return StashConnection(
        base_url=url,
        cookie_name=found[0] if found else None,
        cookie_value=found[1] if found else None,
        stash_dir=server_connection.stash_dir(raw),
    )
