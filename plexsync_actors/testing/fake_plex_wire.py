"""The wire format of the fake Plex: query strings in, JSON or XML `MediaContainer`s out.

Pure functions with no state, shared by `fake_plex` (which owns the library and the faults).
Query strings are read the way Plex and python-plexapi write them: split on `&`, then on the
first `=`; keys stay raw (`genre[0].tag.tag`), values go through `urllib.parse.unquote` once,
so a `+` stays a `+` (nothing shows that PMS reads it as a space).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

JSON_TYPE = "application/json"
XML_TYPE = "text/xml;charset=utf-8"
STARTING_UP_BODY = b"the server is still starting up. Please retry later"

# Plex names the tag field `actor` in edits and `Role` in answers.
TAG_FIELDS = {"genre": "genres", "actor": "actors", "collection": "collections"}
TAG_ELEMENTS = {"genre": "Genre", "actor": "Role", "collection": "Collection"}
# Listings (`/all`, search) carry only the first few tags of each kind, like real Plex.
LISTING_TAG_LIMITS = {"genre": 2, "actor": 3, "collection": 2}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INDEXED_TAG = re.compile(r"^(genre|actor|collection)\[(\d+)\]\.tag\.tag$")
_REMOVED_TAGS = re.compile(r"^(genre|actor|collection)\[\]\.tag\.tag-$")
_LOCK = re.compile(r"^(\w+)\.locked$")
_SCALARS = {
    "title.value": "title",
    "summary.value": "summary",
    "studio.value": "studio",
    "originallyAvailableAt.value": "originally_available_at",
    "year.value": "year",
}


class BadEdit(ValueError):
    """An edit PMS would refuse with 400 (an unreadable date or year)."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer before it is turned into an `httpx.Response` or written to a socket."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def parse_query(raw: str) -> list[tuple[str, str]]:
    """(raw key, value decoded once) pairs of a raw query string, in order."""
    pairs = []
    for part in raw.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((key, urllib.parse.unquote(value)))
    return pairs


def first(params: Sequence[tuple[str, str]], key: str) -> str | None:
    return next((value for name, value in params if name == key), None)


@dataclass
class EditPlan:
    """What one PUT asks for, read from its query string."""

    scalars: dict[str, str | int | None] = field(default_factory=dict)
    locks: dict[str, bool] = field(default_factory=dict)
    replaced: dict[str, list[str]] = field(default_factory=dict)  # tag kind -> new full list
    removed: dict[str, list[str]] = field(default_factory=dict)  # tag kind -> names to drop


def parse_edit(params: Sequence[tuple[str, str]]) -> EditPlan:
    """Read the edit fields Plex understands; keys it does not know are ignored, as PMS does."""
    plan = EditPlan()
    indexed: dict[str, dict[int, str]] = {}
    for key, value in params:
        if key in _SCALARS:
            plan.scalars[_SCALARS[key]] = _scalar(_SCALARS[key], value)
        elif match := _INDEXED_TAG.match(key):
            indexed.setdefault(match[1], {})[int(match[2])] = value
        elif match := _REMOVED_TAGS.match(key):
            # Each name was quoted before the comma-joined list was quoted again.
            names = [urllib.parse.unquote(name) for name in value.split(",")]
            plan.removed.setdefault(match[1], []).extend(name for name in names if name)
        elif match := _LOCK.match(key):
            plan.locks[match[1]] = value == "1"
    for kind, by_index in indexed.items():
        names = [by_index[index] for index in sorted(by_index) if by_index[index]]
        plan.replaced[kind] = list(dict.fromkeys(names))  # Plex keeps one of each tag
    return plan


def _scalar(name: str, value: str) -> str | int | None:
    if name == "year":
        if not value:
            return None
        if not value.isdigit():
            raise BadEdit(f"year {value!r}")
        return int(value)
    if name == "originally_available_at":
        if not value:
            return None
        if not _DATE.match(value):
            raise BadEdit(f"originallyAvailableAt {value!r}")
    return value


def wants_json(headers: Mapping[str, str]) -> bool:
    return "application/json" in headers.get("accept", "")


def container(payload: dict[str, Any], as_json: bool) -> Answer:
    """A 200 answer holding `{"MediaContainer": payload}` as JSON or as XML."""
    if as_json:
        body = json.dumps({"MediaContainer": payload}).encode()
        return Answer(200, body, JSON_TYPE)
    root = _element("MediaContainer", payload)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Answer(200, body, XML_TYPE)


def _element(tag: str, attributes: Mapping[str, Any]) -> ET.Element:
    """Scalars become XML attributes (booleans as 1/0, like PMS); lists of dicts, child elements."""
    element = ET.Element(tag)
    for name, value in attributes.items():
        if isinstance(value, list):
            for child in value:
                element.append(_element(name, child))
        elif isinstance(value, bool):
            element.set(name, "1" if value else "0")
        elif value is not None:
            element.set(name, str(value))
    return element


def error(status: int, headers: Mapping[str, str] | None = None) -> Answer:
    """An error page shaped like PMS's: a tiny HTML document named after the status."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status no standard names, e.g. a test's 599
        phrase = "Error"
    body = (
        f"<html><head><title>{phrase}</title></head><body><h1>{status} {phrase}</h1></body></html>"
    ).encode()
    return Answer(status, body, "text/html", headers or {})


def tags(names: Sequence[str], limit: int | None = None) -> list[dict[str, Any]]:
    return [{"tag": name} for name in names[:limit]]
