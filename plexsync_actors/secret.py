"""What must never be printed: the Plex token, and the parts of a URL that are not safe to log."""

from __future__ import annotations


class Secret:
    """Holds a secret string; repr and str are masked so it cannot leak into logs by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value: call this only where it is sent (the X-Plex-Token header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def safe_origin(url: str) -> str:
    """`scheme://host:port` of `url`: safe to log (drops any userinfo, path and query)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")
