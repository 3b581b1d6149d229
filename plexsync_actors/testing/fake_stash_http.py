"""The fake Stash's HTTP side: a threaded loopback server that hands each request to
`FakeStash._respond` and writes its reply, keep-alive as Stash (Go's net/http) does."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple, Protocol

from plexsync_actors.testing.loopback import TrackingHTTPServer


class Reply(NamedTuple):
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = {}  # noqa: RUF012 - NamedTuple defaults are never mutated


def json_reply(status: int, answer: dict[str, object]) -> Reply:
    return Reply(status, json.dumps(answer).encode(), "application/json")


class Responder(Protocol):
    def _respond(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """The reply to one request (header names lower-cased)."""


class StashServer(TrackingHTTPServer):
    def __init__(self, address: tuple[str, int], fake: Responder) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection ends by itself
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        assert isinstance(self.server, StashServer)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-request (a killed drainer)
            self.close_connection = True
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.fake._respond(method, self.path, headers, body)
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # tests read `FakeStash.requests` instead of a log
