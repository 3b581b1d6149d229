"""A stand-in for Stash's web server, for the PlexSync page's browser test.

It serves a test page (tests/ui/page/) that provides `window.PluginApi` the way Stash's UI does,
with the libraries Stash ships installed from the npm registry (tests/ui/node_modules, pinned in
package-lock.json), then the plugin's own ui/ files as PlexSync.yml names them. Its `/graphql`
validates every request against Stash's schema at head and at v0.26.2 (the oldest release the
page supports) and answers `runPluginOperation`, `runPluginTask` and `findJob` from a recording
of the real plugin (page_recordings.py). Every other path gets the page, as Stash's SPA does.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import yaml
from page_recordings import Recording, answer_key

from plexsync_actors.testing.fake_stash_graphql import (
    answer_graphql,
    load_stash_schema,
    query_errors,
    schema_folder,
)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MANIFEST = yaml.safe_load((ROOT / "PlexSync.yml").read_text(encoding="utf-8"))
TASK_MODES = {task["name"]: task["defaultArgs"]["mode"] for task in MANIFEST["tasks"]}
OLDEST = "v0.26.2"
FILES = {"/node_modules/": HERE / "node_modules", "/page/": HERE / "page"}
# The files PlexSync.yml names under `ui`, at the URLs the test page loads them from.
UI_FILES = [*MANIFEST["ui"].get("css", []), *MANIFEST["ui"]["javascript"]]
PLUGIN_UI = {f"/plugin/PlexSync/{name}": ROOT / name for name in UI_FILES}


def page_html() -> bytes:
    """The test page, loading the plugin's ui files in the order PlexSync.yml lists them."""
    css = [f'<link rel="stylesheet" href="/plugin/PlexSync/{n}">' for n in MANIFEST["ui"]["css"]]
    js = [f'<script src="/plugin/PlexSync/{n}"></script>' for n in MANIFEST["ui"]["javascript"]]
    tags = css + js
    page = (HERE / "page" / "index.html").read_text(encoding="utf-8")
    return page.replace("<!-- the plugin's ui files -->", "\n    ".join(tags)).encode()


@attrs.define
class Job:
    mode: str
    looks: int = 0


@attrs.define
class StandIn:
    """What the page asked and what it is answered; swap `recording` between page loads."""

    recording: Recording
    phase: str = ""  # "" before any task; else the mode of the task whose answers are given
    installed: bool = True  # False: Stash knows no plugin PlexSync (every operation says so)
    operations: list[dict[str, Any]] = attrs.Factory(list)
    tasks: list[tuple[str, dict[str, Any]]] = attrs.Factory(list)
    invalid: list[str] = attrs.Factory(list)
    jobs: dict[str, Job] = attrs.Factory(dict)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def answers(self) -> dict[str, Any]:
        return self.recording.after.get(self.phase, self.recording.before)

    # -- the resolvers graphql-core calls (root fields of Stash's schema) --

    def runPluginOperation(self, info: object, plugin_id: str, args: Any = None) -> Any:
        args = dict(args or {})
        with self.lock:
            self.operations.append(args)
        if plugin_id != "PlexSync" or not self.installed:
            raise ValueError(f"plugin {plugin_id} not found")
        answers = self.answers()
        key = answer_key(args)
        if key not in answers and key not in self.recording.before:
            raise ValueError(f"the stand-in has no recorded answer for {key!r}")
        answer = answers.get(key, self.recording.before.get(key))
        if isinstance(answer, dict) and "__error__" in answer:
            raise ValueError(answer["__error__"])  # as Stash answers a plugin's error
        return answer

    def runPluginTask(
        self, info: object, plugin_id: str, task_name: str | None = None, **rest: Any
    ) -> str:
        if plugin_id != "PlexSync" or task_name not in TASK_MODES:
            raise ValueError(f"no task {task_name!r} in plugin {plugin_id}")
        args = dict(rest.get("args_map") or {})
        with self.lock:
            self.tasks.append((task_name, args))
            job_id = str(40 + len(self.tasks))
            self.jobs[job_id] = Job(TASK_MODES[task_name])
        return job_id

    def findJob(self, info: object, input: dict[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            job = self.jobs.get(str(input["id"]))
            if job is None:
                return None  # Stash forgets finished jobs after a while
            job.looks += 1
            if job.looks < 2:
                return {"id": input["id"], "status": "RUNNING", "progress": 0.5, "error": None}
            self.phase = job.mode
        return {"id": input["id"], "status": "FINISHED", "progress": 1.0, "error": None}


class StandInServer:
    def __init__(self, stand_in: StandIn) -> None:
        self.stand_in = stand_in
        self.head = load_stash_schema(schema_folder("head"))
        self.oldest = load_stash_schema(schema_folder(OLDEST))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def graphql(self, body: bytes) -> tuple[int, dict[str, object]]:
        try:
            payload = json.loads(body)
            errors = query_errors(self.oldest, payload["query"], payload.get("variables") or {})
        except (ValueError, KeyError, TypeError):
            errors = ["json body could not be decoded"]
        if errors:
            self.stand_in.invalid.append(f"{OLDEST}: {errors}")
        status, answer = answer_graphql(body, self.stand_in, self.stand_in.invalid, self.head)
        return status, answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                if self.path != "/graphql":
                    self._send(404, b"not found", "text/plain")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                status, answer = server.graphql(self.rfile.read(length))
                self._send(status, json.dumps(answer).encode(), "application/json")

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in PLUGIN_UI:
                    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
                    self._send(200, PLUGIN_UI[path].read_bytes(), kind)
                    return
                for prefix, folder in FILES.items():
                    if path.startswith(prefix):
                        target = (folder / path[len(prefix) :]).resolve()
                        if not target.is_relative_to(folder.resolve()) or not target.is_file():
                            self._send(404, b"not found", "text/plain")
                            return
                        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                        self._send(200, target.read_bytes(), kind)
                        return
                self._send(200, page_html(), "text/html; charset=utf-8")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        return Handler
