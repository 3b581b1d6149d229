"""Doorbell: lets a hook wake an idle drain actor at once instead of at its next poll.

SQLite cannot notify another process, so an idle drainer looks at the queue every
`POLL_SECONDS`; that poll stays as the fallback. A hook that queued a save rings the drainer's
doorbell, a UDP datagram to a loopback port the drainer names in its heartbeat
(`drainer.control.ring`), and the listener here turns it into a wake-up. A datagram carries
no meaning beyond "look at the queue now", so any stray one costs one extra look, nothing more.
"""

from __future__ import annotations

import trio


class Doorbell:
    def __init__(self) -> None:
        self._rung = trio.Event()

    def ring(self) -> None:
        self._rung.set()

    async def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, less when rung meanwhile (or since the last wait)."""
        with trio.move_on_after(seconds):
            await self._rung.wait()
        if self._rung.is_set():
            self._rung = trio.Event()


async def listen(sock: trio.socket.SocketType, doorbell: Doorbell) -> None:
    """Ring `doorbell` for every datagram `sock` receives (run until cancelled)."""
    while True:
        try:
            await sock.recv(64)
        except OSError:  # Windows reports an earlier send's ICMP error here: not ours to mind
            await trio.sleep(0.05)
            continue
        doorbell.ring()
