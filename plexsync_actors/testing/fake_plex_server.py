"""`FakePlexServer`: a `FakePlex` served over real HTTP/1.1 on a loopback port.

Each request runs in its own daemon thread (keep-alive connections, like httpx keeps them).
When the fake goes down the listening socket and every open connection are closed, so the next
request is refused as by a stopped PMS; when it comes back up the server listens again on the
same port.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import TYPE_CHECKING, Any

from plexsync_actors.testing.loopback import TrackingHTTPServer

if TYPE_CHECKING:
    from plexsync_actors.testing.fake_plex import FakePlex

logger = logging.getLogger(__name__)

# How often the accept loop looks for a shutdown request: bounds how long going down takes.
_POLL_SECONDS = 0.02


class FakePlexServer:
    """Serves `fake` on `http://host:port` (port 0: any free port, kept across down/up)."""

    def __init__(self, fake: FakePlex, host: str = "127.0.0.1", port: int = 0) -> None:
        self._fake = fake
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._started = False
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if not self._started:
            raise RuntimeError("FakePlexServer has not been started")
        return f"http://{self._host}:{self._port}"

    def start(self) -> None:
        """Bind and serve (when the fake is down: bind, learn the port, then close again)."""
        with self._lock:
            if self._started:
                raise RuntimeError("FakePlexServer is already started")
            self._bring_up()
            self._started = True
            self._fake.add_down_listener(self._on_down)
            if self._fake.down:
                self._bring_down()

    def stop(self) -> None:
        """Close the port and every connection; requests held by a hang are dropped."""
        with self._lock:
            if not self._started:
                return
            self._started = False
            self._fake.remove_down_listener(self._on_down)
            self._bring_down()

    def __enter__(self) -> FakePlexServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _on_down(self, down: bool) -> None:
        with self._lock:
            if not self._started:
                return
            if down:
                self._bring_down()
            else:
                self._bring_up()

    def _bring_up(self) -> None:
        if self._httpd is not None:
            return
        httpd = _Server((self._host, self._port), self._fake)
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"fake-plex-{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _bring_down(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._httpd = self._thread = None
        httpd.stopping.set()
        httpd.shutdown()  # no accept after this returns
        httpd.server_close()
        self._fake.wake()  # release requests held by latency or a hang
        httpd.drop_connections()
        thread.join()


class _Server(TrackingHTTPServer):
    def __init__(self, address: tuple[str, int], fake: FakePlex) -> None:
        self.fake = fake
        self.stopping = threading.Event()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection ends by itself
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        if server.stopping.is_set() or server.fake.down:
            self.close_connection = True  # a dying server answers nothing
            return
        body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        _, answer = server.fake.serve(
            self.command, self.path, headers, body, cancelled=server.stopping
        )
        if answer is None:
            self.close_connection = True
            return
        self.send_response(answer.status)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                continue  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
