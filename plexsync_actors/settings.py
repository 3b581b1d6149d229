"""Plugin settings: read from Stash's `configuration { plugins }`, validated into a frozen object.

Every error names the setting, the bad value and the fix. Stash returns only the keys a user set;
the rest take the defaults of the contract (§3).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import cattrs

from plexsync_actors.core import values
from plexsync_actors.errors import SettingsError
from plexsync_actors.secret import Secret


@attrs.frozen(kw_only=True)
class PathMapping:
    stash_prefix: str
    plex_prefix: str


@attrs.frozen(kw_only=True)
class Settings:
    """Validated settings. Times are seconds, rates are jobs per second."""

    plex_url: str
    plex_token: Secret
    data_dir: Path
    plex_library: tuple[str, ...] = ()
    path_map: tuple[PathMapping, ...] = ()
    strict_matching: bool = True
    preserve_plex_edits: bool = False
    sync_studio: bool = True
    sync_summary: bool = True
    sync_date: bool = True
    sync_performers: bool = True
    sync_tags: bool = True
    sync_collection: bool = True
    sync_poster: bool = True
    max_tags: int = 100
    skip_not_found: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_retries: int = 5
    notfound_retry_base_seconds: float = 30.0
    notfound_retry_cap_seconds: float = 600.0
    notfound_max_retries: int = 12
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 80.0
    breaker_failure_threshold: int = 5
    health_interval_min: float = 5.0
    health_interval_max: float = 60.0
    ramp_seconds: float = 300.0
    ramp_initial_rate: float = 5.0
    max_rate: float = 20.0
    drainer_idle_exit_seconds: float = 30.0
    drainer_max_hours: float = 168.0
    debug_logging: bool = False
    obfuscate_paths: bool = False


_BOOLS = [
    "strict_matching",
    "preserve_plex_edits",
    "sync_studio",
    "sync_summary",
    "sync_date",
    "sync_performers",
    "sync_tags",
    "sync_collection",
    "sync_poster",
    "skip_not_found",
    "debug_logging",
    "obfuscate_paths",
]
# name -> (minimum, allow zero)
_INTS = {
    "max_tags": 0,
    "max_retries": 1,
    "notfound_max_retries": 1,
    "breaker_failure_threshold": 1,
}
_POSITIVE_FLOATS = [
    "connect_timeout",
    "read_timeout",
    "notfound_retry_base_seconds",
    "notfound_retry_cap_seconds",
    "retry_base_seconds",
    "retry_cap_seconds",
    "health_interval_min",
    "health_interval_max",
    "ramp_seconds",
    "ramp_initial_rate",
    "max_rate",
    "drainer_idle_exit_seconds",
    "drainer_max_hours",
]


def in_force(settings: Settings) -> dict[str, Any]:
    """The values in force, as the setting keys name them, the token masked (for status)."""
    shown: dict[str, Any] = {"enabled": True}
    for field in attrs.fields(Settings):
        value = getattr(settings, field.name)
        if field.name == "plex_token":
            value = str(value)  # masked
        elif field.name == "data_dir":
            value = str(value)
        elif field.name == "plex_library":
            value = ", ".join(value)
        elif field.name == "path_map":
            value = "; ".join(f"{m.stash_prefix}=>{m.plex_prefix}" for m in value)
        shown[field.name] = value
    return shown


def not_default(settings: Settings) -> dict[str, Any]:
    """The values in force that differ from the defaults (the required ones left out)."""
    shown = in_force(settings)
    defaults = {f.name: f.default for f in attrs.fields(Settings) if f.default is not attrs.NOTHING}
    return {
        name: shown[name]
        for name, default in defaults.items()
        if getattr(settings, name) != default
    }


def enabled_in(raw: dict[str, Any]) -> bool:
    """The `enabled` switch (on unless switched off); SettingsError when it is not a boolean.

    Settings are only ever built for an enabled plugin, so `Settings` has no such field."""
    value = values.enabled(raw)
    if value is None:
        raise SettingsError(
            f"Setting enabled is {values.shown(raw.get('enabled'))}, not a boolean: switch it "
            "on or off."
        )
    return value


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False)
    converter.register_structure_hook(Secret, lambda value, _: value)
    converter.register_structure_hook(Path, lambda value, _: Path(value))
    converter.register_structure_hook(PathMapping, lambda value, _: value)
    return converter


_CONVERTER = _make_converter()


def parse_settings(raw: dict[str, Any], *, stash_dir: str | None) -> Settings:
    """Validate the raw settings map; raise SettingsError naming the setting and the fix."""
    clean: dict[str, Any] = {}
    enabled_in(raw)
    url = _string(raw, "plex_url")
    if not url:
        raise SettingsError(
            "Setting plex_url is missing: set it to your Plex server's address, "
            "e.g. http://plex:32400, in Settings > Plugins > PlexSync."
        )
    url = _plex_url(url)
    clean["plex_url"] = url.rstrip("/")
    token = _string(raw, "plex_token")
    if not token:
        raise SettingsError(
            "Setting plex_token is missing: set it to your X-Plex-Token "
            "(Plex Web > any item > Get Info > View XML shows it in the address)."
        )
    clean["plex_token"] = Secret(token)
    data_dir = _string(raw, "data_dir") or None
    if data_dir is not None and "\x00" in data_dir:
        raise SettingsError(
            f"Setting data_dir is {values.shown(data_dir)}, which holds a NUL byte: set it to a "
            "folder PlexSync may write to."
        )
    folder = data_dir or values.default_data_dir(stash_dir)
    if folder is None:
        raise SettingsError(
            "Setting data_dir is empty and Stash sent no config Dir: set data_dir to a folder "
            "PlexSync may write to."
        )
    clean["data_dir"] = Path(folder)
    libraries = _string(raw, "plex_library")
    clean["plex_library"] = tuple(p.strip() for p in libraries.split(",") if p.strip())
    clean["path_map"] = parse_path_map(_string(raw, "path_map"))
    for name in _BOOLS:
        if raw.get(name) is not None:
            clean[name] = _bool(raw, name)
    for name, minimum in _INTS.items():
        if raw.get(name) is not None:
            clean[name] = _int(raw, name, minimum)
    for name in _POSITIVE_FLOATS:
        if raw.get(name) is not None:
            clean[name] = _positive_float(raw, name)
    settings = _CONVERTER.structure(clean, Settings)
    _check_relations(settings)
    return settings


def _plex_url(url: str) -> str:
    """An http(s) URL with a host and a valid port (the scheme in any case), or SettingsError."""
    import urllib.parse

    fix = "set it like http://plex:32400."
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("http", "https"):
        raise SettingsError(
            f"Setting plex_url is {values.shown(url)}, which is not an http(s) URL: {fix}"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SettingsError(
            f"Setting plex_url is {values.shown(url)}, which is not a valid address ({exc}): {fix}"
        ) from None
    if not parts.hostname:
        raise SettingsError(f"Setting plex_url is {values.shown(url)}, which names no host: {fix}")
    if port == 0:
        raise SettingsError(f"Setting plex_url is {values.shown(url)}, with port 0: {fix}")
    return scheme + url[len(scheme) :]


def _check_relations(s: Settings) -> None:
    pairs = (
        ("retry_base_seconds", "retry_cap_seconds"),
        ("notfound_retry_base_seconds", "notfound_retry_cap_seconds"),
        ("health_interval_min", "health_interval_max"),
        ("ramp_initial_rate", "max_rate"),
    )
    for low, high in pairs:
        if getattr(s, low) > getattr(s, high):
            raise SettingsError(
                f"Setting {low} ({getattr(s, low)}) is larger than {high} ({getattr(s, high)}): "
                f"make {low} at most {high}."
            )


def parse_path_map(text: str) -> tuple[PathMapping, ...]:
    """`stash_prefix=>plex_prefix; …` into mappings, longest Stash prefix first."""
    mappings = []
    for part in text.split(";"):
        if not part.strip():
            continue
        if "=>" not in part:
            raise SettingsError(
                f"Setting path_map has the entry {values.shown(part.strip())} without '=>': "
                "write entries as /stash/prefix=>/plex/prefix, separated by ';'."
            )
        stash, plex = (side.strip() for side in part.split("=>", 1))
        if not stash or not plex:
            raise SettingsError(
                f"Setting path_map has the entry {values.shown(part.strip())} with an empty "
                "side: both the Stash prefix and the Plex prefix are needed."
            )
        mappings.append(PathMapping(stash_prefix=stash, plex_prefix=plex))
    mappings.sort(key=lambda m: len(m.stash_prefix), reverse=True)
    return tuple(mappings)


def _string(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SettingsError(f"Setting {name} is {values.shown(value)}, not text: enter it as text.")
    return value.strip()


def _bool(raw: dict[str, Any], name: str) -> bool:
    value = values.parse_bool(raw[name])
    if value is None:
        raise SettingsError(
            f"Setting {name} is {values.shown(raw[name])}, not a boolean: switch it on or off."
        )
    return value


def _number(raw: dict[str, Any], name: str) -> float:
    value = raw[name]
    if isinstance(value, bool):
        raise SettingsError(
            f"Setting {name} is {values.shown(value)}, not a number: enter a number."
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"Setting {name} is {values.shown(value)}, which is not a number: enter a number "
            "such as 5."
        ) from None
    if not math.isfinite(number):
        raise SettingsError(f"Setting {name} is {values.shown(value)}: enter a finite number.")
    return number


def _int(raw: dict[str, Any], name: str, minimum: int) -> int:
    number = _number(raw, name)
    if number != int(number) or number < minimum:
        raise SettingsError(
            f"Setting {name} is {values.shown(raw[name])}: enter a whole number of at least "
            f"{minimum}."
        )
    return int(number)


def _positive_float(raw: dict[str, Any], name: str) -> float:
    number = _number(raw, name)
    if number <= 0:
        raise SettingsError(
            f"Setting {name} is {values.shown(raw[name])}: enter a number greater than 0 "
            "(fractions are fine)."
        )
    return number
