"""`assert_never` for Python 3.10 (typing has it from 3.11 only)."""

from __future__ import annotations

from typing import NoReturn


def assert_never(value: NoReturn) -> NoReturn:
    """Mark a `match` as exhaustive: mypy fails if a case is missing, runtime fails loudly."""
    raise AssertionError(f"Unhandled value: {value!r}")
