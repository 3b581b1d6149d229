"""`Record`: `typing.NamedTuple` for the modules the hook imports, without importing `typing`.

`typing` costs a hook a few milliseconds of its ~20 ms floor. A class body written as for
`NamedTuple` (annotated fields, defaults, methods) becomes a `collections.namedtuple` subclass,
as `NamedTuple` makes it. Type checkers see `typing.NamedTuple` itself:

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple as Record
    else:
        from plexsync_actors.core.records import Record
"""

from __future__ import annotations

import collections

_NOT_COPIED = frozenset({"__annotations__", "__qualname__", "__dict__"})


class _RecordType(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> type:
        if not bases:  # Record itself
            return super().__new__(mcs, name, bases, ns)
        fields = list(ns.get("__annotations__", {}))  # type: ignore[call-overload]
        defaults = [ns[field] for field in fields if field in ns]
        if any(field not in ns for field in fields[len(fields) - len(defaults) :]):
            raise TypeError(f"{name}: a field without a default follows one with a default")
        module = str(ns.get("__module__"))
        # mypy checks namedtuple() calls only with literal fields: these are known only here.
        base = collections.namedtuple(name, fields, defaults=defaults, module=module)  # type: ignore[misc]
        body = {k: v for k, v in ns.items() if k not in _NOT_COPIED and k not in fields}
        body["__slots__"] = ()
        record = type(name, (base,), body)
        record.__qualname__ = str(ns.get("__qualname__", name))
        return record


class Record(metaclass=_RecordType):
    """Subclass it as you would `typing.NamedTuple`."""
