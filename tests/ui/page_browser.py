"""Helpers of the PlexSync page's browser test: what the page says on its console, opening it."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page
from stash_stand_in import StandInServer


class Console:
    """Everything the page said on its console or threw, kept for the test to judge."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def open_page(page: Page, server: StandInServer, path: str = "/plugins/plexsync") -> None:
    page.goto(server.url + path)
    page.wait_for_selector(".plexsync-page")
