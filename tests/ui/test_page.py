"""The PlexSync page in headless Chromium, shown what the real plugin answered (page_recordings).

Each test loads the stand-in Stash's page (tests/ui/page/: a small window.PluginApi with
React 17.0.2, react-bootstrap 1.6, react-router-dom 5 from package-lock.json), which loads
ui/plexsync.js and ui/plexsync.css as PlexSync.yml names them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from page_browser import Console, open_page
from page_recordings import PLEX_TOKEN, Recording
from playwright.sync_api import Page, expect
from stash_stand_in import StandIn, StandInServer

pytestmark = pytest.mark.slow

Served = tuple[StandIn, StandInServer]
Opened = tuple[Page, Console]


def section(page: Page, title: str) -> str:
    return page.inner_text(f"section[aria-label='{title}']")


def show(stand_in: Served, page: Opened, recording: Recording) -> Page:
    state, server = stand_in
    state.recording = recording
    open_page(page[0], server)
    expect(page[0].locator(".plexsync-grid, .plexsync-message").first).to_be_visible()
    return page[0]


def shot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    assert (tmp_path / f"{name}.png").stat().st_size > 1000


def status_of(recording: Recording) -> dict[str, Any]:
    status: dict[str, Any] = recording.before["queue_status"]
    return status


@pytest.mark.parametrize(
    ("scenario", "badge", "texts"),
    [
        (
            "healthy",
            "CLOSED",
            ["answers; saves reach it as they come", "Recorded\n1 outage", "Availability"],
        ),
        ("open_backlog", "OPEN", ["Next health probe", "Plex is unreachable", "Waiting\n5 scenes"]),
        ("recovering", "CLOSED", ["Recovery ramp", "jobs/s", "Drainer\nrunning (pid"]),
        ("empty", "CLOSED", ["No outage recorded yet.", "Waiting\n0 scenes", "Total\n0"]),
        ("dlq_after_outage", "CLOSED", ["PlexTemporaryError", "Plex answered 503", "Total\n1"]),
        ("fanning_out", "CLOSED", ["Fanning out\nTag 'Outdoors' renamed: waiting for the"]),
    ],
)
def test_each_state_shows_what_the_plugin_answered(
    stand_in: Served,
    page: Opened,
    recordings: dict[str, Recording],
    tmp_path: Path,
    scenario: str,
    badge: str,
    texts: list[str],
) -> None:
    recording = recordings[scenario]
    shown = show(stand_in, page, recording)
    expect(shown.locator(".plexsync-badge")).to_have_text(badge)
    expect(shown.locator("section[aria-label='Settings in force']")).to_contain_text("********")
    whole = shown.inner_text("body")
    for text in texts:
        assert text in whole, (scenario, text)
    assert PLEX_TOKEN not in whole  # the token is masked
    status = status_of(recording)
    outages = recording.before["outage_summary"]["outages"]
    assert shown.locator(".plexsync-bar").count() == len(outages)
    for event in status["recent_events"]:
        assert event["message"] in section(shown, "Recent events")
    for entry in status["dlq"]["newest"]:
        assert f"Scene {entry['scene_id']}: {entry['error_type']}" in section(shown, "Dead letters")
    shot(shown, tmp_path, scenario)
    state, _ = stand_in
    assert state.operations and all(op.get("quiet") == "true" for op in state.operations)
    assert page[1].errors == []


def test_the_page_follows_the_plugin_without_a_reload(
    stand_in: Served, page: Opened, recordings: dict[str, Recording]
) -> None:
    shown = show(stand_in, page, recordings["open_backlog"])
    probe = shown.locator("dt:text-is('Next health probe') + dd")  # "in 4m 55s"
    first = probe.inner_text()
    shown.evaluate("window.__sameDocument = true")
    expect(probe).not_to_have_text(first, timeout=5000)  # the countdown runs
    stand_in[0].recording = recordings["recovering"]  # Plex came back meanwhile
    expect(shown.locator(".plexsync-badge")).to_have_text("CLOSED", timeout=10_000)
    expect(shown.locator(".plexsync-ramp")).to_contain_text("Recovery ramp")
    assert shown.evaluate("window.__sameDocument") is True
    assert page[1].errors == []


def test_an_outage_bar_tells_its_story_on_hover_and_on_tap(
    stand_in: Served, page: Opened, recordings: dict[str, Recording]
) -> None:
    recording = recordings["healthy"]
    [outage] = recording.before["outage_summary"]["outages"]
    shown = show(stand_in, page, recording)
    bar = shown.locator(".plexsync-bar")
    title = bar.get_attribute("title") or ""
    assert f"Outage {outage['id']}:" in title and "3 scenes affected" in title
    assert f"first error {outage['first_error']}" in title
    bar.click()
    picked = shown.locator(".plexsync-picked")
    expect(picked).to_contain_text("started")
    expect(picked).to_contain_text("ended")
    expect(picked).to_contain_text(f"{outage['jobs_affected']} scenes affected")
    expect(picked).to_contain_text(outage["first_error"])
    assert page[1].errors == []


def test_recover_outage_jobs_previews_then_recovers_on_confirm(
    stand_in: Served, page: Opened, recordings: dict[str, Recording], tmp_path: Path
) -> None:
    state, _ = stand_in
    shown = show(stand_in, page, recordings["dlq_after_outage"])
    shown.get_by_role("button", name="Recover Outage Jobs").click()
    preview = shown.locator(".plexsync-preview")
    expect(preview).to_contain_text("1 dead letter from the last outage would go back to the queue")
    expect(preview).to_contain_text("PlexTemporaryError")
    shot(shown, tmp_path, "preview")
    assert state.tasks == []  # a preview is a dry run through runPluginOperation
    dry = [op for op in state.operations if op.get("mode") == "recover_outage_jobs"]
    assert dry == [{"mode": "recover_outage_jobs", "dry_run": "true", "quiet": "true"}]
    shown.get_by_role("button", name="Confirm recovery").click()
    message = shown.locator(".plexsync-message[role=status]")
    expect(message).to_have_text(
        "Recover Outage Jobs: 1 back in the queue (0 were already queued).", timeout=10_000
    )
    assert state.tasks == [("Recover Outage Jobs", {})]
    total = shown.locator("section[aria-label='Dead letters'] dt:text-is('Total') + dd")
    expect(total).to_have_text("0")
    shot(shown, tmp_path, "recovered")
    assert page[1].errors == []


def test_process_queue_runs_as_a_task_and_shows_its_result(
    stand_in: Served, page: Opened, recordings: dict[str, Recording]
) -> None:
    state, _ = stand_in
    recording = recordings["open_backlog"]
    result = recording.after["process_queue"]["queue_status"]["last_runs"]["process_queue"]
    shown = show(stand_in, page, recording)
    shown.get_by_role("button", name="Process Queue").click()
    message = shown.locator(".plexsync-message[role=status]")
    expected = result["result"]
    expect(message).to_have_text(
        f"Process Queue: {expected['synced']} synced, {expected['failed']} failed, "
        f"{expected['remaining']} remaining.",
        timeout=10_000,
    )
    assert state.tasks == [("Process Queue", {})]
    assert sum(job.looks for job in state.jobs.values()) >= 2  # followed with findJob
    assert page[1].errors == []


def test_health_check_and_check_setup_say_what_is_wrong_and_the_fix(
    stand_in: Served, page: Opened, recordings: dict[str, Recording]
) -> None:
    recording = recordings["open_backlog"]
    shown = show(stand_in, page, recording)
    shown.get_by_role("button", name="Health Check").click()
    message = shown.locator(".plexsync-message[role=status]")
    expect(message).to_contain_text("Plex did not answer: Plex is unreachable")
    shown.get_by_role("button", name="Check Setup").click()
    expect(message).to_have_text("Check Setup found something to fix:")
    checks = recording.before["check_setup"]["checks"]
    items = shown.locator(".plexsync-checks li")
    expect(items).to_have_count(len(checks))
    [failed] = [c for c in checks if c["status"] == "fail"]
    row = shown.locator(f".plexsync-check-fail:has-text('FAIL {failed['name']}:')")
    expect(row).to_contain_text("Fix: " + failed["fix"])
    expect(shown.locator(".plexsync-check-ok").first).to_contain_text("OK runtime:")
    assert page[1].errors == []


def test_a_dry_run_refused_while_the_circuit_is_open_shows_why(
    stand_in: Served, page: Opened, recordings: dict[str, Recording]
) -> None:
    recording = recordings["open_backlog"]
    refusal = recording.before["recover_outage_jobs:dry_run"]["__error__"]
    shown = show(stand_in, page, recording)
    shown.get_by_role("button", name="Recover Outage Jobs").click()
    expect(shown.locator(".plexsync-error")).to_have_text(refusal)
    assert stand_in[0].tasks == []


def test_a_disabled_plugin_and_a_missing_one_say_so(
    stand_in: Served, page: Opened, recordings: dict[str, Recording]
) -> None:
    shown = show(stand_in, page, recordings["disabled"])
    expect(shown.locator(".plexsync-message")).to_contain_text("PlexSync is switched off")
    stand_in[0].installed = False  # as Stash answers every read of a plugin it does not have
    shown.reload()
    error = shown.locator(".plexsync-error")
    expect(error).to_contain_text("PlexSync could not answer: plugin PlexSync not found")
    expect(error).to_contain_text("Is the plugin installed and enabled")


WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280x800", "375px"])
@pytest.mark.parametrize("scenario", ["open_backlog", "dlq_after_outage", "recovering"])
def test_no_horizontal_scroll_and_every_button_visible(
    stand_in: Served,
    page: Opened,
    recordings: dict[str, Recording],
    viewport: dict[str, int],
    scenario: str,
    tmp_path: Path,
) -> None:
    shown = show(stand_in, page, recordings[scenario])
    shown.get_by_role("button", name="Check Setup").click()  # the widest text the page shows
    expect(shown.locator(".plexsync-checks li").first).to_be_visible()
    widths = shown.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal scroll at {viewport['width']} px: {widths}"
    buttons = shown.locator(".plexsync-page button:not(.plexsync-bar)")
    names = [buttons.nth(i).inner_text() for i in range(buttons.count())]
    assert {"Process Queue", "Health Check", "Check Setup", "Recover Outage Jobs"} <= set(names)
    for i in range(buttons.count()):
        button = buttons.nth(i)
        button.scroll_into_view_if_needed()
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0
        assert box["x"] + box["width"] <= viewport["width"], names[i]
    shot(shown, tmp_path, f"{scenario}-{viewport['width']}")
    assert page[1].errors == []


def test_a_malformed_answer_stays_inside_the_page_and_other_routes_render(
    stand_in: Served, page: Opened, recordings: dict[str, Recording]
) -> None:
    good = recordings["healthy"].before
    broken = {**good["queue_status"], "recent_events": 42}  # not a list: the page throws
    stand_in[0].recording = Recording("malformed", {**good, "queue_status": broken})
    shown = page[0]
    open_page(shown, stand_in[1])
    error = shown.locator(".plexsync-error")
    expect(error).to_contain_text("The PlexSync page hit a problem")
    expect(shown.locator("#navbar")).to_be_visible()
    shown.click("#to-sibling")
    expect(shown.locator("#sibling-page")).to_have_text("Sibling plugin page works")
    shown.get_by_role("link", name="PlexSync").click()  # the navbar link the page added
    expect(shown.locator(".plexsync-page h3")).to_have_text("PlexSync")
