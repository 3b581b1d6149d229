"""`make demo`: PlexSync end to end on an embedded fake Plex and fake Stash.

Installs the plugin into a temporary plugin folder, fires hooks exactly as Stash does (stdin JSON,
one JSON answer on stdout), and prints what reached Plex.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

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
                print(f"Plugin installed in {plugin.dir}\n")
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

                status = plugin.task("queue_status")
                print(f"\nTask queue_status answered: {status.stdout.strip()}")
                for level, message in status.log_messages():
                    print(f"  Stash log [{level}] {message}")
                kill_drainer(data_dir)
                ok = synced and stash.invalid_queries == []
                print("\nDemo finished: every save reached Plex." if ok else "\nDemo FAILED.")
                return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
