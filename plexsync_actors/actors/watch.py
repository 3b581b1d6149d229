"""A single-value broadcast: the owner publishes; readers see the latest value or await the next.

Like a watch channel: the breaker actor owns its state; the drain gate and the health actor
only read it and wake up when it changes.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import trio

T = TypeVar("T")


class Watch(Generic[T]):
    def __init__(self, value: T) -> None:
        self._value = value
        self._changed = trio.Event()

    @property
    def value(self) -> T:
        return self._value

    def publish(self, value: T) -> None:
        self._value = value
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    async def wait_changed(self) -> T:
        """Return the next published value."""
        await self._changed.wait()
        return self._value
