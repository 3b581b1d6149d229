"""Schema-versioned JSON state files (breaker, recovery schedule, outage history).

Each file holds one envelope, `{"schema": N, "data": ...}`, written atomically (temp file, fsync,
rename, fsync the folder) so a process killed at any instant leaves the old or the new state,
never a mix. Reading never raises for bad content: a corrupt file is moved aside to
`<name>.corrupt-<UTC time>` with a warning, and the caller starts from a fresh state.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Set
from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn

from plexsync_actors.clock import wall_now
from plexsync_actors.persistence.files import atomic_write_bytes, read_file_bytes, replace_file

__all__ = ["Migration", "StateFile", "make_converter"]

T = TypeVar("T")
Migration = Callable[[dict[str, Any]], dict[str, Any]]

# What a bad payload (or a migration or union hook fed one) raises while being structured.
_BAD_DATA_ERRORS = (
    cattrs.BaseValidationError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
)
_DETAIL_CHARS = 200


def make_converter() -> cattrs.Converter:
    """The one converter for state files.

    Tuples and frozensets round-trip (a set is stored as a sorted list, so files are stable),
    floats and None pass through. Fields declared `init=False` (such as a state's `name`
    discriminator) are written too, so a union hook can dispatch on them; they are ignored when
    structuring because attrs computes them.
    """
    converter = cattrs.Converter(unstruct_collection_overrides={Set: _sorted_list})
    converter.register_unstructure_hook_factory(
        attrs.has,
        lambda cl: make_dict_unstructure_fn(cl, converter, _cattrs_include_init_false=True),
    )
    return converter


def _sorted_list(items: Any) -> list[Any]:
    values = list(items)
    try:
        return sorted(values)
    except TypeError:  # mixed or unorderable elements: order by their JSON text instead
        return sorted(values, key=lambda v: json.dumps(v, sort_keys=True))


class _Corrupt(Exception):
    """Internal: the file's content is unusable; the message says why."""


class StateFile(Generic[T]):
    """One schema-versioned state file holding a value of type `T` (a class or a union)."""

    def __init__(
        self,
        path: Path,
        cls: Any,
        *,
        schema: int,
        converter: cattrs.Converter,
        migrations: Mapping[int, Migration] | None = None,
        on_warning: Callable[[str], None],
        clock: Callable[[], float] = wall_now,
    ) -> None:
        if schema < 1:
            raise ValueError(f"schema must be at least 1, got {schema}")
        migrations = dict(migrations or {})
        stray = sorted(n for n in migrations if not 1 <= n < schema)
        if stray:
            raise ValueError(f"migrations {stray} do not lead towards schema {schema}")
        self._path = path
        self._cls = cls
        self._schema = schema
        self._converter = converter
        self._migrations = migrations
        self._on_warning = on_warning
        self._clock = clock

    @property
    def path(self) -> Path:
        return self._path

    def load(self) -> T | None:
        """The stored value, or None when there is none or it was unusable (then warned)."""
        try:
            raw = read_file_bytes(self._path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._on_warning(
                f"State file {self._path} could not be read ({_os_reason(exc)}); "
                "starting from a fresh state."
            )
            return None
        try:
            return self._decode(raw)
        except _Corrupt as exc:
            self._move_aside(str(exc))
            return None

    def save(self, value: T) -> None:
        """Write `value` atomically under the current schema, creating the folder if needed."""
        envelope = {"schema": self._schema, "data": self._converter.unstructure(value)}
        text = json.dumps(envelope, ensure_ascii=False, indent=2)
        atomic_write_bytes(self._path, (text + "\n").encode("utf-8"))

    def _decode(self, raw: bytes) -> T:
        if not raw.strip():
            raise _Corrupt("it is empty")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise _Corrupt("it is not UTF-8 text") from exc
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise _Corrupt(f"not valid JSON: {exc.msg}, {where}") from exc
        except RecursionError as exc:
            raise _Corrupt("not valid JSON: nested too deeply") from exc
        if not isinstance(doc, dict) or "schema" not in doc or "data" not in doc:
            raise _Corrupt('not a JSON object with "schema" and "data"')
        schema = doc["schema"]
        if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
            raise _Corrupt(f"its schema {json.dumps(schema)} is not a positive whole number")
        if schema > self._schema:
            raise _Corrupt(f"schema {schema} is newer than the supported schema {self._schema}")
        data = self._migrate(doc["data"], schema)
        try:
            value: T = self._converter.structure(data, self._cls)
        except _BAD_DATA_ERRORS as exc:
            raise _Corrupt(f"its data does not fit: {_describe(exc)}") from exc
        return value

    def _migrate(self, data: Any, schema: int) -> Any:
        for version in range(schema, self._schema):
            step = self._migrations.get(version)
            if step is None:
                raise _Corrupt(f"no migration from schema {version} to schema {version + 1}")
            if not isinstance(data, dict):
                raise _Corrupt(f"its schema {version} data is not a JSON object")
            try:
                data = step(data)
            except _BAD_DATA_ERRORS as exc:
                raise _Corrupt(
                    f"migrating it from schema {version} failed: {_describe(exc)}"
                ) from exc
        return data

    def _move_aside(self, reason: str) -> None:
        stamp = dt.datetime.fromtimestamp(self._clock(), tz=dt.timezone.utc)
        target = _unused_name(
            self._path.with_name(f"{self._path.name}.corrupt-{stamp:%Y%m%dT%H%M%S%f}")
        )
        try:
            replace_file(self._path, target)
        except OSError as exc:
            self._on_warning(
                f"State file {self._path} was unreadable ({reason}) and could not be moved "
                f"aside ({_os_reason(exc)}); starting from a fresh state."
            )
            return
        self._on_warning(
            f"State file {self._path} was unreadable ({reason}) and was moved aside to "
            f"{target.name}; starting from a fresh state."
        )


def _unused_name(path: Path) -> Path:
    """`path`, or `path-1`, `path-2`, ... so one corrupt copy never overwrites another."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        text = "; ".join(cattrs.transform_error(exc)[:2])
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
