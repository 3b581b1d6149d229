"""Fixtures for the PlexSync page's browser test: recordings, the stand-in Stash, Chromium.

Chromium is Debian's `chromium` package (`make test` installs it when missing), driven by
Playwright with `executable_path`: no browser download. Running as root needs --no-sandbox.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from page_browser import Console
from page_recordings import SCENARIOS, Recording
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from stash_stand_in import HERE, StandIn, StandInServer

CHROMIUM_ARGS = [
    "--no-sandbox",  # as root there is no sandbox to have
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str:
    found = os.environ.get("PLEXSYNC_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("no chromium: `make test` installs Debian's package (apt-get install chromium)")
    return found


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    """Every scenario recorded from the real plugin, side by side (each has its own fakes)."""
    if not (HERE / "node_modules" / "react").is_dir():
        pytest.fail("the page's test libraries are missing: run `npm ci --prefix tests/ui`")
    root = tmp_path_factory.mktemp("page-recordings")
    # Four at a time: each runs its own fakes and plugin processes, and seven at once load the
    # 2-core CI machine hard while the other test worker runs its own end-to-end tests.
    with ThreadPoolExecutor(max_workers=min(4, len(SCENARIOS))) as pool:
        futures = {name: pool.submit(make, root / name) for name, make in SCENARIOS.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def stand_in(recordings: dict[str, Recording]) -> Iterator[tuple[StandIn, StandInServer]]:
    state = StandIn(recordings["healthy"])
    server = StandInServer(state)
    server.start()
    try:
        yield state, server
    finally:
        server.stop()
        assert state.invalid == [], "the page sent GraphQL Stash would reject"


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 800}


@pytest.fixture
def page(browser: Browser, viewport: dict[str, int]) -> Iterator[tuple[Page, Console]]:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    console = Console(opened)
    try:
        yield opened, console
    finally:
        context.close()
