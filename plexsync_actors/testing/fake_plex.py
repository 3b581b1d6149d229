"""A fake Plex Media Server that answers the HTTP API the way a real PMS does.

Unit tests put it behind `httpx.MockTransport(fake.handle)`; end-to-end tests and the demo run it
as a real loopback server with `FakePlexServer(fake)`. Faithful points (see
`shared/spec/plex-api-notes.md`): token header (or query parameter, which is recorded as a leak),
XML unless `Accept: application/json`, truncated tag lists in listings, the loose `file=` filter,
python-plexapi style edit query strings, and the faults seen in the field (down, 503, start-up
400, latency, hang). Every piece of state is guarded by one lock, so tests may flip faults while
the loopback server's threads are answering.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Literal

import httpx

from plexsync_actors.testing import fake_plex_library as library
from plexsync_actors.testing import fake_plex_routes as routes
from plexsync_actors.testing import fake_plex_wire as wire
from plexsync_actors.testing.fake_plex_library import FakeItem, RecordedRequest, Section
from plexsync_actors.testing.fake_plex_server import FakePlexServer
from plexsync_actors.testing.fake_plex_wire import Answer

__all__ = ["FakeItem", "FakePlex", "FakePlexServer", "RecordedRequest"]

FIRST_RATING_KEY = 1000


_Outcome = Literal["answer", "timeout", "dropped"]


class FakePlex:
    """The library, the faults and the request log of one fake server."""

    def __init__(
        self,
        *,
        token: str = "plex-token",  # noqa: S107 - a fake server's well-known test token
        machine_id: str = "fake-plex",
        version: str = "1.40.0.0",
        tag_mode: library.TagMode = "replace",
    ) -> None:
        self.token = token
        self.tag_mode: library.TagMode = tag_mode
        self.machine_id = machine_id
        self.version = version
        self.requests: list[RecordedRequest] = []
        # (time.monotonic(), method, path, status) of every request that got an answer
        self.answers: list[tuple[float, str, str, int]] = []
        self.lock = threading.Lock()
        self._changed = threading.Condition(self.lock)
        self._sections: dict[int, Section] = {}
        self._items: dict[int, FakeItem] = {}
        self._next_location_id = 1
        self._next_rating_key = FIRST_RATING_KEY  # PMS never hands a ratingKey out twice
        self._down = False
        self._status_fault: int | None = None
        self._item_faults: dict[int, int] = {}
        self._starting_up = False
        self._latency = 0.0
        self._hang = False
        self._down_listeners: list[Callable[[bool], None]] = []

    # -- the library -----------------------------------------------------------------------

    def add_section(self, title: str, locations: list[str], *, kind: str = "movie") -> int:
        """Add a library section ("movie" or "show") with its folders; returns its id (1, 2, …)."""
        with self.lock:
            section_id = len(self._sections) + 1
            paths = []
            for path in locations:
                paths.append((self._next_location_id, path))
                self._next_location_id += 1
            self._sections[section_id] = Section(section_id, title, kind, paths)
            return section_id

    def add_movie(
        self,
        section_id: int,
        files: list[str] | str,
        *,
        title: str = "",
        summary: str = "",
        studio: str = "",
        genres: Sequence[str] = (),
        actors: Sequence[str] = (),
        collections: Sequence[str] = (),
        year: int | None = None,
        originally_available_at: str | None = None,
    ) -> int:
        """Add a movie (one Media per file); returns its ratingKey (1000, 1001, …).

        Without a title, Plex's scanner would name it after the first file, and so does this."""
        paths = [files] if isinstance(files, str) else list(files)
        if not paths:
            raise ValueError("a movie needs at least one file")
        with self.lock:
            if section_id not in self._sections:
                raise KeyError(f"no section {section_id}")
            rating_key = self._next_rating_key
            self._next_rating_key += 1
            self._items[rating_key] = FakeItem(
                rating_key=rating_key,
                section_id=section_id,
                title=title or library.stem(paths[0]),
                files=paths,
                summary=summary,
                studio=studio,
                originally_available_at=originally_available_at,
                year=year,
                genres=list(genres),
                actors=list(actors),
                collections=list(collections),
            )
            return rating_key

    def remove_movie(self, rating_key: int) -> None:
        """Plex drops the item (its file is gone and the trash was emptied): from now on its
        ratingKey answers 404 and no listing shows it."""
        with self.lock:
            del self._items[rating_key]

    def item(self, rating_key: int) -> FakeItem:
        """The live item (KeyError if there is none)."""
        with self.lock:
            return self._items[rating_key]

    # -- faults ----------------------------------------------------------------------------

    @property
    def down(self) -> bool:
        with self.lock:
            return self._down

    def set_down(self, down: bool) -> None:
        """Down: MockTransport raises `httpx.ConnectError`; a loopback server closes its socket
        and its connections (connection refused) and listens on the same port once back up."""
        with self._changed:
            self._down = down
            listeners = list(self._down_listeners)
            self._changed.notify_all()
        for listener in listeners:  # outside the lock: they wait for handler threads
            listener(down)

    def set_status_fault(self, status: int | None) -> None:
        """Answer every request, `/identity` included, with this status until None."""
        with self._changed:
            self._status_fault = status

    def set_item_fault(self, rating_key: int, status: int | None) -> None:
        """Answer every request about one item (its metadata, edits, posters) with `status`,
        while the rest of the library answers normally; None ends it."""
        with self._changed:
            if status is None:
                self._item_faults.pop(rating_key, None)
            else:
                self._item_faults[rating_key] = status

    def set_starting_up(self, on: bool) -> None:
        """`/identity` answers 200; everything else 400 with PMS's start-up message."""
        with self._changed:
            self._starting_up = on

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by `seconds`."""
        with self._changed:
            self._latency = seconds
            self._changed.notify_all()

    def set_hang(self, on: bool) -> None:
        """Hold every request unanswered until turned off (then the answers go out late).

        Loopback: the connection stays open; `stop()` or going down drops it. MockTransport:
        the handler blocks, for at most the request's read timeout, then raises
        `httpx.ReadTimeout`; without a read timeout it blocks until another thread turns the hang
        off, so use a client with a timeout (httpx's default is 5 s)."""
        with self._changed:
            self._hang = on
            self._changed.notify_all()

    def token_seen_in_urls(self) -> bool:
        """Whether the token appeared in any request's path or query (PlexSync must never)."""
        with self.lock:
            urls = [f"{r.path}?{r.query}" for r in self.requests]
        return any(self.token in url or self.token in urllib.parse.unquote(url) for url in urls)

    # -- serving ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The `httpx.MockTransport` handler."""
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        timeout = request.extensions.get("timeout", {}).get("read")
        target = request.url.raw_path.decode("ascii")
        headers = {name.lower(): value for name, value in request.headers.items()}
        body = request.read()
        outcome, answer = self.serve(request.method, target, headers, body, timeout=timeout)
        if outcome == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if answer is None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        response_headers = dict(answer.headers)
        if answer.content_type:
            response_headers["Content-Type"] = answer.content_type
        return httpx.Response(answer.status, headers=response_headers, content=answer.body)

    def serve(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        *,
        timeout: float | None = None,
        cancelled: threading.Event | None = None,
    ) -> tuple[_Outcome, Answer | None]:
        """Record a request, wait out latency and hang, then answer it (used by both transports).

        The answer is None when the server went down (or `cancelled` was set) meanwhile, or
        when `timeout` ran out first ("timeout")."""
        path, _, query = target.partition("?")
        with self.lock:
            self.requests.append(
                RecordedRequest(method, path, query, headers, body, time.monotonic())
            )
        outcome = self._wait_out(timeout, cancelled)
        if outcome != "answer":
            return outcome, None
        with self.lock:
            answer = self._respond(method, urllib.parse.unquote(path), query, headers, body)
            self.answers.append((time.monotonic(), method, path, answer.status))
            return outcome, answer

    def add_down_listener(self, listener: Callable[[bool], None]) -> None:
        """Call `listener(down)` on every `set_down` (how a loopback server learns of it)."""
        with self.lock:
            self._down_listeners.append(listener)

    def remove_down_listener(self, listener: Callable[[bool], None]) -> None:
        with self.lock:
            self._down_listeners.remove(listener)

    def wake(self) -> None:
        """Make waiting requests look at their `cancelled` event again."""
        with self._changed:
            self._changed.notify_all()

    def _wait_out(self, timeout: float | None, cancelled: threading.Event | None) -> _Outcome:
        start = time.monotonic()
        deadline = float("inf") if timeout is None else start + timeout

        def gone() -> bool:
            return self._down or (cancelled is not None and cancelled.is_set())

        def left(until: float) -> float | None:
            return None if until == float("inf") else max(0.0, until - time.monotonic())

        with self._changed:
            latency_end = start + self._latency
            if self._changed.wait_for(gone, left(min(latency_end, deadline))):
                return "dropped"
            if latency_end > deadline:
                return "timeout"
            if not self._changed.wait_for(lambda: gone() or not self._hang, left(deadline)):
                return "timeout"
            return "dropped" if gone() else "answer"

    def _respond(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Answer:
        """The answer of the server in its current state (caller holds the lock)."""
        if self._status_fault is not None:
            return wire.error(self._status_fault)
        if path != "/" and path.endswith("/"):
            path = path.rstrip("/")
        if self._starting_up and path != "/identity":
            return Answer(400, wire.STARTING_UP_BODY, "text/plain")
        params = wire.parse_query(query)
        if path != "/identity" and self.token not in (
            headers.get("x-plex-token"),
            wire.first(params, "X-Plex-Token"),
        ):
            return wire.error(401)
        for pattern, route in routes.ROUTES:
            if match := pattern.fullmatch(path):
                if method not in route:
                    return wire.error(405, {"Allow": ", ".join(sorted(route))})
                ids = tuple(int(group) for group in match.groups())
                if fault := self._item_fault(path, ids, params):
                    return wire.error(fault)
                call = routes.Call(ids, params, wire.wants_json(headers), body)
                return route[method](self, call)
        return wire.error(404)

    def _item_fault(
        self, path: str, ids: tuple[int, ...], params: list[tuple[str, str]]
    ) -> int | None:
        if path.startswith("/library/metadata/") and ids:
            return self._item_faults.get(ids[0])
        edited = wire.first(params, "id")
        if edited and edited.isdigit():
            return self._item_faults.get(int(edited))
        return None
