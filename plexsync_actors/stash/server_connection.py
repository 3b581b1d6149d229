"""`server_connection` from Stash's plugin input, parsed with the standard library only.

The hook path uses this directly (it must not import attrs, trio or httpx); the task and drainer
paths turn it into a `models.StashConnection`.
"""

from __future__ import annotations

import re

from plexsync_actors.core.values import shown
from plexsync_actors.errors import InputError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the hook milliseconds at run time
    from typing import Any

_ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 - recognising Stash's bind address
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+(%[A-Za-z0-9._-]+)?")


def base_url(server_connection: Any) -> str:
    """Stash's base URL. Stash reports its bind address, often 0.0.0.0: connect to loopback then."""
    if not isinstance(server_connection, dict):
        raise InputError("Input has no 'server_connection' object: PlexSync must be run by Stash.")
    scheme = str(server_connection.get("Scheme") or "http").lower()
    if scheme not in ("http", "https"):
        raise InputError(f"server_connection.Scheme is {shown(scheme)}; expected http or https.")
    host = str(server_connection.get("Host") or "").strip()
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not (_NAME.fullmatch(bare) or (bare.count(":") >= 2 and _IPV6.fullmatch(bare))):
        raise InputError(f"server_connection.Host is {shown(host)}, not a host name or address.")
    host = f"[{bare}]" if ":" in bare else bare
    port = server_connection.get("Port")
    try:
        port_number = int(port) if port is not None else (443 if scheme == "https" else 9999)
    except (TypeError, ValueError):
        raise InputError(f"server_connection.Port is {shown(port)}, not a port number.") from None
    if isinstance(port, bool) or not 0 < port_number < 65536:
        raise InputError(f"server_connection.Port is {shown(port)}, not a port number.")
    return f"{scheme}://{host}:{port_number}"


def cookie(server_connection: dict[str, Any]) -> tuple[str, str] | None:
    """(name, value) of the session cookie, or None when Stash needs no auth."""
    raw = server_connection.get("SessionCookie")
    if not isinstance(raw, dict):
        return None
    name, value = raw.get("Name"), raw.get("Value")
    if isinstance(name, str) and isinstance(value, str) and name and value:
        return name, value
    return None


def auth_headers(server_connection: dict[str, Any]) -> dict[str, str]:
    found = cookie(server_connection)
    return {"Cookie": f"{found[0]}={found[1]}"} if found else {}


def stash_dir(server_connection: dict[str, Any]) -> str | None:
    """Stash's config folder (None when Stash sent none); InputError for one no OS could have."""
    value = server_connection.get("Dir")
    if not isinstance(value, str) or not value:
        return None
    if "\x00" in value:
        raise InputError(
            f"server_connection.Dir {shown(value)} holds a NUL byte, which no folder name can."
        )
    return value
