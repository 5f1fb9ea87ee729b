"""A PDF page's text layer: its words and their boxes on the rendered page, and whether
they are what the page says (a scan carrying a stamp as text is read by OCR instead)."""

import ctypes
from collections.abc import Iterator

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from bpo_intake.domain.words import Word

# A PDF page whose text layer holds fewer words than this is read by OCR, as a page without
# one is: a scanned page can carry a few words as text (an AP stamp's "RECEIVED 12.03.2024", a
# Bates number, a scanner's page footer) that are not what the page says, while a page typed
# as text holds dozens. A page typed with fewer loses nothing: OCR reads those few words.
MIN_TEXT_WORDS = 5
# A scan (a page an image covers this share of, or more) is read by OCR when its text layer is
# thin: its words cover under TEXT_SHARE of it and lie on HEADER_LINES lines or fewer, or
# number under STAMP_WORDS on STAMP_LINES lines or fewer. Words' boxes are tight around their
# letters: a stamp, a fax header or a Bates line of up to ten words covers some 0.3 % of an A4
# page, 35 words of 10-point text 1 %, a page of 360 such words 9 %. What is put on a scan as
# text is a line or three (a fax header, a Bates or confidentiality line, however long), or a
# stamp's block of short lines beside them: a receipt stamp of four lines and a Bates line hold
# some ten words, twenty with a fax header. More than that is the scanner's own OCR of the page,
# or a page typed over a letterhead or a form printed as one page-sized image, which looks like a
# scan. Such a typed page with fewer words (a last page of totals and bank details, say) is read
# by OCR, which loses little: it reads those words off the image, where a scan's stamp taken for
# its words would lose all the page says.
SCANNED = 0.5
TEXT_SHARE = 0.01
HEADER_LINES = 3
STAMP_LINES = 8
STAMP_WORDS = 30
# How deep in forms (a form wraps a page's content when a tool lays something over it) an
# image is looked for.
_FORM_DEPTH = 15
# The square a page is mapped onto to read where its words lie (fractions to 1e-6).
_DEVICE = 1_000_000


def read_as_text(page: pdfium.PdfPage, words: list[Word] | None) -> bool:
    """Whether the page's text layer says what the page does: MIN_TEXT_WORDS words or more,
    not thin (`_thin`) if an image covers most of it (a scan carrying a stamp, a fax header or
    a Bates number as text is read by OCR)."""
    if words is None or len(words) < MIN_TEXT_WORDS:
        return False
    return not _thin(words) or _image_share(page) < SCANNED


def _thin(words: list[Word]) -> bool:
    """Whether the words are what a scan may carry as text on top of its image, not what it
    says: under TEXT_SHARE of the page, on HEADER_LINES lines or fewer, or fewer than
    STAMP_WORDS on STAMP_LINES lines or fewer."""
    covered = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in (word.box for word in words))
    if covered >= TEXT_SHARE:
        return False
    lines = _lines(words)
    return lines <= HEADER_LINES or (lines <= STAMP_LINES and len(words) < STAMP_WORDS)


def _lines(words: list[Word]) -> int:
    """How many lines the words lie on, top to bottom: a word whose middle is below the bottom
    of the line's first word starts the next one."""
    lines, bottom = 0, -1.0
    for middle, low in sorted(((word.box[1] + word.box[3]) / 2, word.box[3]) for word in words):
        if middle > bottom:
            lines, bottom = lines + 1, low
    return lines


def _image_share(page: pdfium.PdfPage) -> float:
    """The share of the rendered page its images cover (0 to 1): their boxes within the page,
    added up."""
    covered = 0.0
    for left, bottom, right, top in _image_boxes(page, None, pdfium.PdfMatrix(), 0):
        (x0, y0), (x1, y1) = _on_image(page, left, top), _on_image(page, right, bottom)
        width = _fraction(max(x0, x1)) - _fraction(min(x0, x1))
        covered += width * (_fraction(max(y0, y1)) - _fraction(min(y0, y1)))
    return min(covered, 1.0)


def _image_boxes(
    page: pdfium.PdfPage, form: pdfium.PdfObject | None, matrix: pdfium.PdfMatrix, depth: int
) -> Iterator[tuple[float, float, float, float]]:
    """The boxes (left, bottom, right, top, in the page's points) of the images drawn in the
    page or in `form`, which `matrix` places on the page: PDFium gives the box of an image in a
    form in the form's space."""
    for item in page.get_objects(max_depth=1, form=form):
        if item.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            yield matrix.on_rect(*item.get_bounds())
        elif item.type == pdfium_c.FPDF_PAGEOBJ_FORM and depth < _FORM_DEPTH:
            yield from _image_boxes(page, item, item.get_matrix().multiply(matrix), depth + 1)


def flattened(document: pdfium.PdfDocument, index: int) -> pdfium.PdfPage:
    """The page with its form fields' values (and the other annotations it shows) drawn into
    its content, so that its text layer holds them too. A page flattened is loaded again: the
    one loaded before still holds its content as it was."""
    page = document[index]
    if page.flatten() != pdfium_c.FLATTEN_SUCCESS:
        return page  # nothing to flatten
    page.close()
    return document[index]


def words(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage) -> list[Word]:
    """The text layer's words: runs of characters between spaces, each with the box around
    its characters, in fractions of the page as it is rendered (turned as the page says)."""
    words: list[Word] = []
    chars: list[str] = []
    box = [0.0, 0.0, 0.0, 0.0]
    for index in range(textpage.count_chars()):
        char = textpage.get_text_range(index, 1)
        if not char or char.isspace():
            if chars:
                words.append(_word(page, chars, box))
                chars = []
            continue
        left, bottom, right, top = textpage.get_charbox(index)
        if chars:
            box = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
        else:
            box = [left, bottom, right, top]
        chars.append(char)
    if chars:
        words.append(_word(page, chars, box))
    return words


def _word(page: pdfium.PdfPage, chars: list[str], box: list[float]) -> Word:
    left, bottom, right, top = box
    (x0, y0), (x1, y1) = _on_image(page, left, top), _on_image(page, right, bottom)
    return Word(
        "".join(chars),
        (
            _fraction(min(x0, x1)),
            _fraction(min(y0, y1)),
            _fraction(max(x0, x1)),
            _fraction(max(y0, y1)),
        ),
    )


def _on_image(page: pdfium.PdfPage, x: float, y: float) -> tuple[float, float]:
    """Where a point of the page (PDF points from its origin) lands on its rendered image, in
    fractions from the top left: PDFium's own mapping, its box's origin and the page's turn
    (/Rotate) taken into account."""
    device_x, device_y = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDF_PageToDevice(
        page.raw, 0, 0, _DEVICE, _DEVICE, 0, x, y, ctypes.byref(device_x), ctypes.byref(device_y)
    )
    return device_x.value / _DEVICE, device_y.value / _DEVICE


def _fraction(value: float) -> float:
    return round(min(max(value, 0.0), 1.0), 4)
