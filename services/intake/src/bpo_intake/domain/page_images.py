"""A page as it is shown: a decoded image brought to 8 bits a band, made small, turned as
its EXIF orientation says, and encoded as WebP. CPU work on pixels in memory: no I/O."""

import io
import math
from typing import cast

from PIL import ExifTags, Image, TiffImagePlugin

MAX_SIDE = 2400
WEBP_QUALITY = 80
# libwebp's fastest effort: a scanned A4 page encodes about five times faster than at its
# default (4), for images about a third larger (10 KB rather than 7 KB for a text page).
WEBP_METHOD = 0
# How an image stored with each EXIF orientation is turned upright (as ImageOps.exif_transpose
# does, on the page once it is made small).
_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def page_image(frame: Image.Image) -> Image.Image:
    """The frame as it is meant to be seen, at most MAX_SIDE a side: brought to 8 bits a band
    (`_eight_bits`), made small, then turned as its EXIF orientation says (a phone's photo).
    Made small before anything else is done to it, so that drawing a page takes some 5 bytes
    a pixel with the decoded frame (9 with transparency, whose resampling copies the frame;
    12 for a 16-bit scan, the most), not a copy at each step. The orientation is read once
    the frame is loaded: loading a TIFF turns it upright and drops its orientation (Pillow
    leaves a JPEG, a PNG or a WebP as stored)."""
    frame.load()
    orientation = frame.getexif().get(ExifTags.Base.Orientation)
    turn = _TURNS.get(orientation) if isinstance(orientation, int) else None
    if frame.mode in ("I", "F") or frame.mode.startswith("I;16"):
        frame = _eight_bits(frame)
    elif frame.mode in ("P", "PA", "LA") or (
        frame.mode in ("L", "RGB") and "transparency" in frame.info
    ):
        frame = frame.convert("RGBA")  # a palette's colours are drawn, not resampled
    elif frame.mode == "1":
        frame = frame.convert("L")
    scale = min(1.0, MAX_SIDE / max(frame.size))
    size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
    small = frame.resize(size, reducing_gap=2.0) if size != frame.size else frame
    return small.transpose(turn) if turn is not None else small


def _eight_bits(frame: Image.Image) -> Image.Image:
    """A frame of more than 8 bits a pixel in 8 (converted as they are, values past 255 turn
    white and floats from 0 to 1 black): 16 bits from 0 to their highest (65,535, or 4,095
    for a 12-bit TIFF, which Pillow reads as 16 bits a pixel); 32-bit whole numbers as 8
    or 16 bits where they fit, else from 0 to their highest; floats from 0 to 1, as 8 bits
    where they pass 1, else from 0 to their highest (an infinite one counts as white)."""
    if frame.mode.startswith("I;16"):
        scale = 255 / (2 ** _bits(frame) - 1)
        return frame.convert("I").point(lambda value: value * scale).convert("L")
    # One band: its lowest and highest value (getextrema's pair of a band).
    _, highest = cast(tuple[float, float], frame.getextrema())
    if frame.mode == "F" and (highest <= 1 or not math.isfinite(highest)):
        scale = 255.0
    elif highest <= 255:
        scale = 1.0
    elif frame.mode == "I" and highest <= 65535:
        scale = 1 / 257
    else:
        scale = 255 / highest
    return frame.point(lambda value: value * scale).convert("L")


def _bits(frame: Image.Image) -> int:
    """The bits a pixel of a 16-bit frame has as stored: a TIFF's BitsPerSample (Pillow reads
    a TIFF as 16 bits a pixel only for 12 or 16), else 16."""
    if isinstance(frame, TiffImagePlugin.TiffImageFile):
        return max(cast(tuple[int, ...], frame.tag_v2.get(TiffImagePlugin.BITSPERSAMPLE, (16,))))
    return 16


def webp(image: Image.Image) -> bytes:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent parts shown on white paper, not on black.
        paper = Image.new("RGBA", image.size, "white")
        paper.alpha_composite(image.convert("RGBA"))
        image = paper
    picture = image.convert("RGB")
    if max(picture.size) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return out.getvalue()
