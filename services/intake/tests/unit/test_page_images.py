"""A page's image as it is meant to be seen, whatever the format's own ways of storing it:
turned as its orientation says exactly once."""

import io

import pytest
from PIL import Image

from bpo_intake.domain.documents import Limits, MediaType, PageSize, describe, render

LIMITS = Limits(max_bytes=50 * 1024 * 1024, max_pages=10, max_pixels=100_000_000, max_members=10)
# How a page is stored for each orientation, its tag telling a viewer how to turn it back.
STORED_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
UPRIGHT = (60, 120)


def _shades(page_image: bytes) -> Image.Image:
    return Image.open(io.BytesIO(page_image)).convert("L")


def _shade(shown: Image.Image, x: int, y: int) -> int:
    """How light the page is at (x, y): 0 black to 255 white."""
    return shown.tobytes()[y * shown.width + x]


def _stored(orientation: int, kind: str, compression: str | None) -> bytes:
    """A page 60 wide and 120 tall, black in its top left corner, stored turned as
    `orientation` says it is to be turned back."""
    page = Image.new("RGB", UPRIGHT, "white")
    page.paste((0, 0, 0), (0, 0, 20, 20))
    out = io.BytesIO()
    if kind == "JPEG":
        exif = Image.Exif()
        exif[0x0112] = orientation
        page.transpose(STORED_AS[orientation]).save(out, "JPEG", exif=exif, quality=95)
    else:
        options = {"compression": compression} if compression else {}
        page.transpose(STORED_AS[orientation]).save(
            out, "TIFF", tiffinfo={0x0112: orientation}, **options
        )
    return out.getvalue()


@pytest.mark.parametrize("orientation", sorted(STORED_AS))
@pytest.mark.parametrize(
    ("kind", "media_type", "compression"),
    [
        ("JPEG", MediaType.JPEG, None),
        ("TIFF", MediaType.TIFF, None),
        ("TIFF", MediaType.TIFF, "tiff_lzw"),  # decoded by libtiff rather than by Pillow
    ],
)
def test_a_page_stored_turned_is_shown_upright_once(
    orientation: int, kind: str, media_type: MediaType, compression: str | None
) -> None:
    content = _stored(orientation, kind, compression)
    described = describe("scan", content, LIMITS)
    assert (described.media_type, described.pages) == (media_type, [PageSize(*UPRIGHT)])
    (page,) = render(media_type, content)
    shown = _shades(page.image)
    assert shown.size == UPRIGHT
    assert _shade(shown, 5, 5) < 60, "the black corner is at the top left"
    corners = [_shade(shown, x, y) for x, y in [(54, 5), (5, 114), (54, 114)]]
    assert min(corners) > 200, f"the other corners are white: {corners}"
