"""`make demo`: PlexSync end to end on an embedded fake Plex and fake Stash.

Installs the plugin into a temporary plugin folder, fires hooks exactly as Stash does (stdin JSON,
one JSON answer on stdout), and prints what reached Plex.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from plexsync_actors.actors.announce import counted
from plexsync_actors.testing.fake_plex import FakePlex, FakePlexServer
from plexsync_actors.testing.fake_stash import FakeStash
from plexsync_actors.testing.harness import Plugin, install_plugin, kill_drainer, wait_for

TOKEN = "demo-token"  # noqa: S105 - the fake Plex's token

SCENES = [
    (
        "Sunset Drive",
        "A long drive west.",
        "2024-05-01",
        "Northwind",
        ("Ann Lee", "Bo Chen"),
        ("outdoor", "travel", "golden hour"),
    ),
    ("City Lights", "Night in the city.", "2023-11", "Northwind", ("Cy Park",), ("night", "urban")),
    ("Harbor", "", "2022-07-19", "Blue Harbor", ("Ann Lee",), ("sea",)),
    ("Quiet Room", "Still life.", "2021", None, (), ("indoor", "calm")),
    ("Last Train", "Departures.", "2020-01-02", "Blue Harbor", ("Bo Chen", "Di Ray"), ("rail",)),
]


def show_item(plex: FakePlex, rating_key: int) -> str:
    item = plex.item(rating_key)
    date = item.originally_available_at or (str(item.year) if item.year else "-")
    return (
        f"  [{rating_key}] {item.title!r} | {date} | studio {item.studio or '-'} | "
        f"genres {', '.join(item.genres) or '-'} | actors {', '.join(item.actors) or '-'} | "
        f"collections {', '.join(item.collections) or '-'} | "
        f"locked {', '.join(sorted(item.locked))}"
    )


COMPRESSED = (
    "Time is compressed so the story takes seconds: the circuit opens after 3 failures in a row\n"
    "(default 5), health probes back off from 0.5 s to 2 s (default 5 s to 60 s), and after a\n"
    "recovery the drain rises from 2 to 10 scenes a second over 4 s (default 5 to 20 over 5 min)."
)


def status_lines(status: dict[str, Any]) -> list[str]:
    """Queue Status's answer as a few aligned lines."""
    breaker, queue, dlq, drainer = (
        status["breaker"], status["queue"], status["dlq"], status["drainer"],
    )  # fmt: skip
    circuit = breaker["state"]
    if breaker["state"] != "closed" and breaker.get("next_probe_at"):
        circuit += f" (next health probe at {breaker['next_probe_at'][11:19]} UTC)"
    outages = status["outages"]
    rows = [
        ("circuit", circuit),
        ("waiting", f"{counted(queue['pending'], 'scene')} ({queue['in_flight']} in flight, "
                    f"{queue['waiting_retry']} waiting for a retry)"),
        ("dead letters", str(dlq["total"])),
        ("drainer", "running" if drainer["running"] else "not running"),
        ("outages", f"{counted(len(outages), 'outage')} shown" if outages else "none yet"),
    ]  # fmt: skip
    return [f"    {name:<13} {value}" for name, value in rows]


def studio_rename(plugin: Plugin, plex: FakePlex, stash: FakeStash, pairs: dict[int, int]) -> bool:
    """A studio renamed in Stash: no scene hook fires, yet every item it is on follows."""
    print("\nRenaming studio 'Northwind' to 'Northwind Films' in Stash (no scene hook fires):")
    run = plugin.hook_context(stash.rename_entity("studio", "Northwind", "Northwind Films"))
    print(f"  Studio.Update.Post hook: {run.stdout.strip()}")
    keys = [key for scene, key in pairs.items() if stash.scene(scene).studio == "Northwind Films"]

    def moved() -> bool:
        return all(plex.item(k).studio == "Northwind Films" for k in keys)

    done = wait_for(moved, 30)
    for key in keys:
        print(show_item(plex, key))
    return done and all("Northwind" not in plex.item(k).collections for k in keys)


def outage_drill(plugin: Plugin, plex: FakePlex, stash: FakeStash, section: int) -> bool:
    """Plex goes down, saves queue up, Plex comes back, the backlog drains on a ramp."""
    print("\n--- Outage drill ---")
    pairs = {}
    for n in range(6, 31):
        scene_id = stash.add_scene(
            title=f"Backlog scene {n}", tags=("backlog",), files=(f"/data/movies/scene{n}.mp4",)
        )
        pairs[scene_id] = plex.add_movie(section, f"/media/movies/scene{n}.mp4", title=f"s{n}")
    plex.set_down(True)
    print("Plex is DOWN. Saving 25 scenes in Stash...")
    for scene_id in pairs:
        plugin.hook(scene_id)
    wait_for(lambda: plugin.task("queue_status").output["breaker"]["state"] == "open", 30)
    time.sleep(3)
    status = plugin.task("queue_status")
    for event in status.output["recent_events"]:
        print(f"  drainer event: {event['message']}")
    for level, message in status.log_messages():
        print(f"  Stash log [{level}] {message}")
    print("  Queue Status now:")
    print("\n".join(status_lines(status.output)))
    up_at = time.monotonic()
    plex.set_down(False)
    print("Plex is UP again. No task, no save: the drainer's health probe finds it.")
    done = wait_for(lambda: all(plex.item(k).put_count for k in pairs.values()), 60)
    puts = sorted(r.time - up_at for r in plex.requests if r.method == "PUT" and r.time > up_at)
    print(f"  {len(puts)} scenes reached Plex; PUTs per second after Plex came back:")
    for second in range(int(puts[-1]) + 1 if puts else 0):
        count = sum(1 for t in puts if second <= t < second + 1)
        print(f"    {second:2d}-{second + 1:2d} s  {'#' * count} {count}")
    report = plugin.task("outage_summary")
    for level, message in report.log_messages():
        print(f"  Stash log [{level}] {message}")
    outages = report.output["outages"]
    return done and len(outages) == 1 and outages[0]["jobs_affected"] == 25


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="plexsync-demo-") as tmp:
        root = Path(tmp)
        stash_dir = root / "stash"
        stash_dir.mkdir()
        data_dir = stash_dir / "plugin_data" / "PlexSync"
        plex = FakePlex(token=TOKEN)
        section = plex.add_section("Movies", ["/media/movies"])
        with FakePlexServer(plex) as plex_server:
            stash = FakeStash(
                plugin_settings={
                    "plex_url": plex_server.url,
                    "plex_token": TOKEN,
                    "path_map": "/data/movies=>/media/movies",
                    "drainer_idle_exit_seconds": 2,
                    # Outage handling compressed so the drill takes seconds, not minutes.
                    "breaker_failure_threshold": 3,
                    "health_interval_min": 0.5,
                    "health_interval_max": 2,
                    "ramp_seconds": 4,
                    "ramp_initial_rate": 2,
                    "max_rate": 10,
                    "connect_timeout": 0.5,
                },
                stash_dir=str(stash_dir),
            )
            with stash:
                pairs = {}
                for n, (title, details, date, studio, performers, tags) in enumerate(SCENES, 1):
                    scene_id = stash.add_scene(
                        title=title,
                        details=details,
                        date=date,
                        studio=studio,
                        performers=performers,
                        tags=tags,
                        files=(f"/data/movies/scene{n}.mp4",),
                    )
                    pairs[scene_id] = plex.add_movie(
                        section, f"/media/movies/scene{n}.mp4", title=f"scene{n}"
                    )
                plugin = Plugin(install_plugin(root / "plugins"), stash.server_connection(), root)
                print(f"Fake Plex at {plex_server.url}, fake Stash at {stash.url}")
                print(f"Plugin installed in {plugin.dir}")
                print(COMPRESSED + "\n")
                print("Plex before any sync:")
                for key in pairs.values():
                    print(show_item(plex, key))
                print("\nSaving 5 scenes in Stash (one Scene.Update.Post hook each):")
                for scene_id in pairs:
                    start = time.perf_counter()
                    run = plugin.hook(scene_id)
                    took = (time.perf_counter() - start) * 1000
                    print(f"  hook scene {scene_id}: {run.stdout.strip()} in {took:.0f} ms")
                synced = wait_for(lambda: all(plex.item(k).put_count for k in pairs.values()), 30)
                print(
                    f"\nPlex after the background drainer ran ({'ok' if synced else 'TIMED OUT'}):"
                )
                for key in pairs.values():
                    print(show_item(plex, key))

                first = next(iter(pairs))
                print(f"\nEditing scene {first} in Stash: new title, tag 'travel' removed.")
                stash.update_scene(
                    first, title="Sunset Drive (Director's Cut)", tags=("outdoor", "golden hour")
                )
                plugin.hook(first)
                wait_for(lambda: "travel" not in plex.item(pairs[first]).genres, 30)
                print(show_item(plex, pairs[first]))

                renamed = studio_rename(plugin, plex, stash, pairs)

                status = plugin.task("queue_status")
                print("\nQueue Status (the task's answer, in short):")
                print("\n".join(status_lines(status.output)))
                for level, message in status.log_messages():
                    print(f"  Stash log [{level}] {message}")
                drilled = outage_drill(plugin, plex, stash, section)
                kill_drainer(data_dir)
                ok = synced and renamed and drilled and stash.invalid_queries == []
                print("\nDemo finished: every save reached Plex." if ok else "\nDemo FAILED.")
                return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
