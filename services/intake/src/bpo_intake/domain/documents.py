"""Documents as a client uploads them: what the bytes are (sniffed, never taken from the
name), whether they may be stored (size, pages, pixels; not corrupt, not encrypted, not a
bomb), the size each page's web image will have, and the pages rendered to those images
with a PDF's text layer and word boxes.

Everything here is CPU work on bytes in memory: no I/O. The service runs `describe` and
`render` in a process apart, within a time and a memory limit (`service.decoding`).
"""

import io
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha256
from uuid import UUID

import pypdfium2 as pdfium
from PIL import ExifTags, Image, ImageSequence, UnidentifiedImageError

from bpo_common.text import MESSAGE, has_unstorable
from bpo_intake.domain import pdf_text
from bpo_intake.domain.page_images import MAX_SIDE, page_image, webp
from bpo_intake.domain.words import Word

# The notification channel of documents' work (bpo_common.notifications): a transaction that
# leaves work for the renderer, the page reader or extraction notifies it, and the three loops
# wait on it (workers.py): an upload, an append of items with documents, a render, a read, an
# accepted item whose layout learns from it.
WORK_CHANNEL = "intake_documents"
# How far into a file a PDF's header may start: readers (PDFium, Acrobat, browsers) look for it
# that far, past a byte order mark, blank lines or a line a mail gateway put before it.
PDF_HEADER_WITHIN = 1024
# PDFium's error code for a document that needs a password.
_PDF_PASSWORD = 4
# A PDF is rendered at this resolution, unless its longest side would exceed MAX_SIDE.
RENDER_DPI = 150
MAX_NAME = 255
# A document id as text, as other systems write one too: in capitals (SQL Server's
# uniqueidentifier), without hyphens, in braces.
_ANY_ID = re.compile(r"\{?[0-9a-f]{8}(?:-?[0-9a-f]{4}){3}-?[0-9a-f]{12}\}?", re.IGNORECASE)
# EXIF orientations of an image stored on its side: its width is the page's height.
_TURNED = {5, 6, 7, 8}


def id_text(reference: str) -> str | None:
    """The document id an item's reference reads as, as text (`0193ab4c-…`), in whatever
    case or form it is written; None when it reads as no id."""
    return str(UUID(reference)) if _ANY_ID.fullmatch(reference) else None


def document_name(name: str) -> str:
    """A document's name as it is stored and looked up: in Unicode NFC, so that an accent sent
    as one character or as two (a name from a Mac's files, typed on another system) is the
    same name."""
    return unicodedata.normalize("NFC", name)


class MediaType(StrEnum):
    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"
    TIFF = "image/tiff"
    WEBP = "image/webp"


_PILLOW_FORMATS = {
    "PNG": MediaType.PNG,
    "JPEG": MediaType.JPEG,
    "MPO": MediaType.JPEG,
    "TIFF": MediaType.TIFF,
    "WEBP": MediaType.WEBP,
}
ACCEPTED = ", ".join(kind.name for kind in MediaType)


@dataclass(frozen=True)
class Limits:
    """What one document may be."""

    max_bytes: int
    max_pages: int
    max_pixels: int  # per page of an image
    max_members: int  # of a zip


class Refused(Exception):
    """The bytes cannot be stored as a document; the message says why, for the uploader."""


class MemberRefused(Refused):
    """A member of a zip cannot be stored."""

    def __init__(self, member: str, message: str) -> None:
        super().__init__(message)
        self.member = member


@dataclass(frozen=True)
class PageSize:
    """A page's web image, in pixels."""

    width: int
    height: int


@dataclass(frozen=True)
class Description:
    """What a file's bytes are, and its pages' image sizes."""

    media_type: MediaType
    sha256: str
    pages: list[PageSize]


@dataclass(frozen=True)
class Inspected:
    """A document that may be stored: its bytes, what they are, and its pages' image sizes."""

    filename: str
    content: bytes
    media_type: MediaType
    sha256: str
    pages: list[PageSize]

    @classmethod
    def of(cls, filename: str, content: bytes, description: Description) -> "Inspected":
        return cls(filename, content, description.media_type, description.sha256, description.pages)


@dataclass(frozen=True)
class RenderedPage:
    number: int
    image: bytes  # WebP
    text: str | None
    words: list[Word] | None  # a PDF's text layer's
    # Whether the text layer's words are the page's (`pdf_text.read_as_text`); if not, OCR reads the
    # page, and its words are the page's.
    read: bool = False


def describe(filename: str, content: bytes, limits: Limits) -> Description:
    """What these bytes are, or Refused saying what is wrong with them."""
    if not 1 <= len(filename) <= MAX_NAME:
        raise Refused(f"a document's name has 1 to {MAX_NAME} characters")
    if has_unstorable(filename):
        raise Refused(f"a document's name {MESSAGE}")
    if ";" in filename:
        raise Refused(
            "a document's name cannot hold ';': a CSV append's documents cell separates names "
            "with it, as CSV results do"
        )
    if filename != filename.strip():
        raise Refused(
            "a document's name cannot begin or end with white space: a CSV append's documents "
            "cell drops it"
        )
    if id_text(filename) is not None:
        raise Refused(
            "a document's name cannot be a document id, in any case, with or without hyphens or "
            "braces: items name documents by either"
        )
    if not content:
        raise Refused("the file is empty")
    if len(content) > limits.max_bytes:
        raise Refused(f"the file is larger than the limit of {limits.max_bytes} bytes")
    if b"%PDF-" in content[:PDF_HEADER_WITHIN]:
        media_type, pages = MediaType.PDF, _pdf_pages(content, limits)
    else:
        media_type, pages = _image_pages(content, limits)
    if len(pages) > limits.max_pages:
        raise Refused(f"the document has {len(pages)} pages; the limit is {limits.max_pages}")
    return Description(media_type, sha256(content).hexdigest(), pages)


def _pdf_scale(width_pt: float, height_pt: float) -> float:
    return min(RENDER_DPI / 72, MAX_SIDE / max(width_pt, height_pt, 1.0))


def _pdf_pages(content: bytes, limits: Limits) -> list[PageSize]:
    try:
        document = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        if exc.err_code == _PDF_PASSWORD:
            raise Refused("the PDF is password-protected; upload it without a password") from exc
        raise Refused("the PDF is corrupt: PDFium cannot open it") from exc
    try:
        count = len(document)
        if count == 0:
            raise Refused("the PDF has no pages")
        if count > limits.max_pages:
            raise Refused(f"the document has {count} pages; the limit is {limits.max_pages}")
        sizes = []
        for index in range(count):
            try:
                width, height = document.get_page_size(index)
            except pdfium.PdfiumError as exc:
                raise Refused(f"the PDF is corrupt: PDFium cannot read page {index + 1}") from exc
            scale = _pdf_scale(width, height)
            sizes.append(PageSize(max(1, round(width * scale)), max(1, round(height * scale))))
        return sizes
    finally:
        document.close()


def _image_pages(content: bytes, limits: Limits) -> tuple[MediaType, list[PageSize]]:
    with warnings.catch_warnings():
        # Pixels are counted against `limits` before a page is decoded (`_frames`); Pillow's
        # own limit, below the default one, refuses only twice its size.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content)) as image:
                media_type = _PILLOW_FORMATS.get(image.format or "")
                if media_type is None:
                    raise Refused(f"a {image.format} image is not accepted; send {ACCEPTED}")
                return media_type, _frames(image, limits)
        except Refused:
            raise
        except UnidentifiedImageError as exc:
            raise Refused(f"the file is not a document: send {ACCEPTED}") from exc
        except Image.DecompressionBombError as exc:
            raise Refused(
                "the image decompresses to too many pixels (a decompression bomb)"
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise Refused(f"the image is corrupt: {exc}") from exc
        except MemoryError:
            raise  # the file is not corrupt: it needs more memory than the decoder has
        except Exception as exc:  # a damaged file makes a decoder raise whatever it raises
            raise Refused("the image is corrupt") from exc


def _pages(image: Image.Image) -> Iterable[Image.Image]:
    """The image's frames that are pages: every frame (a TIFF's scanned pages), but only the
    first of an MPO (a phone's JPEG, whose other pictures are its gain map or a preview)."""
    return [image] if image.format == "MPO" else ImageSequence.Iterator(image)


def _frames(image: Image.Image, limits: Limits) -> list[PageSize]:
    sizes = []
    for number, frame in enumerate(_pages(image), start=1):
        if number > limits.max_pages:
            raise Refused(f"the document has more than {limits.max_pages} pages")
        width, height = frame.size
        if width * height > limits.max_pixels:
            raise Refused(
                f"page {number} has {width}x{height} pixels; the limit is {limits.max_pixels} "
                "(a decompression bomb?)"
            )
        frame.load()  # decodes the page: a truncated or corrupt one fails here, not later
        # Read once loaded: loading turns a TIFF upright and drops its orientation (a JPEG
        # keeps both as stored, for `page_image` to turn).
        width, height = frame.size
        if frame.getexif().get(ExifTags.Base.Orientation) in _TURNED:
            width, height = height, width
        scale = min(1.0, MAX_SIDE / max(width, height))
        sizes.append(PageSize(max(1, round(width * scale)), max(1, round(height * scale))))
    return sizes


def render(media_type: MediaType, content: bytes) -> Iterator[RenderedPage]:
    """The pages as WebP images of the sizes `describe` gave, with a PDF's words."""
    if media_type is MediaType.PDF:
        yield from _render_pdf(content)
        return
    with Image.open(io.BytesIO(content)) as image:
        for number, frame in enumerate(_pages(image), start=1):
            yield RenderedPage(number, webp(page_image(frame)), None, None)


def _render_pdf(content: bytes) -> Iterator[RenderedPage]:
    document = pdfium.PdfDocument(content)
    try:
        # Before any page is loaded: without its form environment PDFium leaves a filled-in
        # form's fields out of the drawing, and cannot flatten them (`pdf_text.flattened`).
        forms = document.init_forms()  # false for a document without forms
        for index in range(len(document)):
            page = pdf_text.flattened(document, index) if forms else document[index]
            width, height = page.get_size()
            bitmap = page.render(scale=_pdf_scale(width, height))
            image = webp(bitmap.to_pil())
            textpage = page.get_textpage()
            text = textpage.get_text_range() or None
            words = pdf_text.words(page, textpage) if text else None
            yield RenderedPage(index + 1, image, text, words, pdf_text.read_as_text(page, words))
    finally:
        document.close()
