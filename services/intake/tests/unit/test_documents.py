"""Documents as bytes: what may be stored, and each page's image as it is meant to be seen."""

import io

import pytest
from PIL import Image

from bpo_intake.domain.documents import Limits, MediaType, PageSize, Refused, inspect, render

LIMITS = Limits(max_bytes=50 * 1024 * 1024, max_pages=10, max_pixels=100_000_000, max_members=10)


def _saved(picture: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, kind, **options)
    return out.getvalue()


def _drawn(page_image: bytes) -> Image.Image:
    return Image.open(io.BytesIO(page_image)).convert("RGB")


def _shade(page_image: bytes, x: int, y: int) -> int:
    """How light the page is at (x, y): 0 black to 255 white."""
    grey = Image.open(io.BytesIO(page_image)).convert("L")
    return grey.tobytes()[y * grey.width + x]


def test_a_transparent_image_is_drawn_on_white_paper() -> None:
    picture = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    picture.putpixel((5, 5), (0, 0, 0, 255))
    (page,) = render(MediaType.PNG, _saved(picture, "PNG"))
    drawn = _drawn(page.image)
    assert drawn.getpixel((30, 15)) == (255, 255, 255)
    darkest = min(drawn.convert("L").tobytes())
    assert darkest < 100, "the black dot stays dark"


def test_a_photo_stored_on_its_side_is_shown_upright() -> None:
    # A phone holds a portrait photo as a landscape one whose EXIF says: turn it.
    picture = Image.new("RGB", (80, 40), "white")
    picture.paste((0, 0, 0), (0, 0, 10, 40))  # a black band on the left as stored
    exif = picture.getexif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    content = _saved(picture, "JPEG", exif=exif, quality=95)
    assert inspect("photo.jpg", content, LIMITS).pages == [PageSize(40, 80)]
    (page,) = render(MediaType.JPEG, content)
    assert _drawn(page.image).size == (40, 80)
    assert _shade(page.image, 20, 3) < 60, "the band is at the top once turned"
    assert _shade(page.image, 20, 70) > 200


def test_a_sixteen_bit_scan_keeps_its_greys() -> None:
    picture = Image.new("I;16", (64, 8))
    for x in range(64):
        for y in range(8):
            picture.putpixel((x, y), x * 1024)  # black to almost white across the page
    (page,) = render(MediaType.PNG, _saved(picture, "PNG"))
    assert _shade(page.image, 1, 4) < 20
    assert 100 < _shade(page.image, 32, 4) < 156, "the middle is grey, not white"


def test_an_image_under_the_pixel_limit_is_taken_whatever_pillow_would_have_said() -> None:
    # 95 million pixels: over Pillow's own warning (89.5 million), under the limit set.
    content = _saved(Image.new("1", (10_000, 9_500), 1), "PNG")
    assert inspect("large.png", content, LIMITS).media_type is MediaType.PNG
    with pytest.raises(Refused, match="10000x9500 pixels"):
        inspect("large.png", content, Limits(50 * 1024 * 1024, 10, 90_000_000, 10))


def test_a_damaged_tiff_is_refused_as_corrupt_whatever_its_decoder_raises() -> None:
    pictures = [Image.new("RGB", (32, 24), (40 * n, 120, 200)) for n in range(2)]
    damaged = bytearray(_saved(pictures[0], "TIFF", save_all=True, append_images=pictures[1:]))
    damaged[131] = 0x10  # the second page's directory no longer gives its size
    with pytest.raises(Refused, match="corrupt"):
        inspect("scan.tiff", bytes(damaged), LIMITS)
