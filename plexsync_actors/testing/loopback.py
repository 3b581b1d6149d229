"""The threaded loopback HTTP server both fakes run on."""

from __future__ import annotations

import socket
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any


class TrackingHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so going down (or stopping) can cut keep-alive connections too."""

    daemon_threads = True
    # Real servers accept bursts (Stash runs hooks several at once during scans); the default
    # backlog of 5 would drop SYNs and cost clients seconds of retransmission.
    request_queue_size = 128
    allow_reuse_address = True  # re-bind the same port while old connections sit in TIME_WAIT

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue  # already closed by its handler

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client, or going down, cutting a connection mid-request is routine; not so the rest.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)
