"""A page's image as it is meant to be seen, whatever the format's own ways of storing it:
turned as its orientation says exactly once, and its greys kept whatever its bit depth."""

import io
import struct

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


def _twelve_bit_tiff(rows: list[list[int]]) -> bytes:
    """A grey TIFF of 12 bits a pixel (a scanner's or an X-ray's), uncompressed, two pixels
    packed in three bytes: Pillow reads it as 16 bits a pixel, but has no writer for it."""
    data = b"".join(
        bytes([a >> 4, (a & 0xF) << 4 | b >> 8, b & 0xFF])
        for row in rows
        for a, b in zip(row[::2], row[1::2], strict=True)
    )
    tags = [  # (tag, is a LONG rather than a SHORT, value)
        (256, True, len(rows[0])),  # ImageWidth
        (257, True, len(rows)),  # ImageLength
        (258, False, 12),  # BitsPerSample
        (259, False, 1),  # Compression: none
        (262, False, 1),  # PhotometricInterpretation: 0 is black
        (273, True, 8 + 2 + 9 * 12 + 4),  # StripOffsets: the pixels follow the directory
        (277, False, 1),  # SamplesPerPixel
        (278, True, len(rows)),  # RowsPerStrip
        (279, True, len(data)),  # StripByteCounts
    ]
    directory = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHII", tag, 4, 1, value)
        if is_long
        else struct.pack("<HHIHH", tag, 3, 1, value, 0)
        for tag, is_long, value in tags
    )
    return b"II*\x00" + struct.pack("<I", 8) + directory + struct.pack("<I", 0) + data


def test_a_twelve_bit_scan_keeps_its_greys() -> None:
    # Black to white across the page, as a 12-bit scanner stores it (0 to 4,095).
    content = _twelve_bit_tiff([[x * 4095 // 63 for x in range(64)] for _ in range(8)])
    assert Image.open(io.BytesIO(content)).mode == "I;16"
    (page,) = render(describe("xray.tif", content, LIMITS).media_type, content)
    shown = _shades(page.image)
    left, middle, right = (_shade(shown, x, 4) for x in (1, 32, 62))
    assert left < 20
    assert 100 < middle < 156, "the middle is grey, not nearly black"
    assert right > 230, "white is white"


def test_a_sixteen_bit_scan_holding_only_dark_greys_stays_dark() -> None:
    # Scaled by its bit depth, not by its highest value: a dark 16-bit page is not brightened.
    picture = Image.new("I;16", (64, 8))
    for x in range(64):
        for y in range(8):
            picture.putpixel((x, y), x * 4095 // 63)
    out = io.BytesIO()
    picture.save(out, "TIFF")
    (page,) = render(MediaType.TIFF, out.getvalue())
    assert _shade(_shades(page.image), 62, 4) < 30
