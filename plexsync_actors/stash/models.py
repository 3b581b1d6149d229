"""Plain data shared across layers: what Stash tells us about a scene and how to reach Stash."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Scene:
    """The fields of a Stash scene that PlexSync syncs, as read at sync time."""

    id: int
    title: str | None = None
    details: str | None = None
    date: str | None = None
    studio: str | None = None
    performers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    screenshot_url: str | None = None
    updated_at: str | None = None


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

    def to_json(self) -> dict[str, object]:
        return {
            "base_url": self.base_url,
            "cookie_name": self.cookie_name,
            "cookie_value": self.cookie_value,
            "api_key": self.api_key,
            "stash_dir": self.stash_dir,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> StashConnection:
        def opt(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(
            base_url=str(data["base_url"]),
            cookie_name=opt("cookie_name"),
            cookie_value=opt("cookie_value"),
            api_key=opt("api_key"),
            stash_dir=opt("stash_dir"),
        )
