"""Which screenshot becomes a poster: raster images only, by content type and first bytes."""

import pytest

from plexsync_actors.stash.models import Image
from plexsync_actors.sync.poster import MAX_POSTER_BYTES, is_raster, plan_poster

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'


@pytest.mark.parametrize(
    ("data", "kind", "raster"),
    [
        (JPEG, "image/jpeg", True),
        (PNG, "image/png", True),
        (WEBP, "image/webp", True),
        (JPEG, "IMAGE/JPEG; charset=binary", True),
        (SVG, "image/svg+xml", False),  # Stash's placeholder for a scene without a cover
        (JPEG, "image/svg+xml", False),
        (SVG, "image/jpeg", False),  # the type and the bytes must agree
        (PNG, "image/jpeg", False),
        (JPEG, "", False),
        (b"", "image/png", False),
    ],
)
def test_only_raster_images_whose_bytes_match_their_type_are_posters(
    data: bytes, kind: str, raster: bool
) -> None:
    assert is_raster(Image(data=data, content_type=kind)) is raster


def test_the_placeholder_is_pending_and_never_uploaded() -> None:
    plan = plan_poster(Image(data=SVG, content_type="image/svg+xml"), None)
    assert plan.pending and plan.upload is None and plan.digest is None


def test_the_same_bytes_are_not_uploaded_twice_and_too_big_ones_never() -> None:
    first = plan_poster(Image(data=JPEG, content_type="image/jpeg"), None)
    assert first.upload == JPEG and first.digest
    again = plan_poster(Image(data=JPEG, content_type="image/jpeg"), first.digest)
    assert again.upload is None and again.digest == first.digest
    huge = JPEG + b"\0" * MAX_POSTER_BYTES
    assert plan_poster(Image(data=huge, content_type="image/jpeg"), None) == plan_poster(None, None)
