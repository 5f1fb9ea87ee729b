"""Documents as bytes: what may be stored, and each page's image as it is meant to be seen."""

import io
import zlib

import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from PIL import Image

from bpo_devtools.pdfs import pdf_of
from bpo_intake.domain.documents import Limits, MediaType, PageSize, Refused, describe, render

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


@pytest.mark.parametrize(
    ("stored", "shown"),
    [((80, 40), (40, 80)), ((6000, 2400), (960, 2400))],  # the second made small to be shown
)
def test_a_photo_stored_on_its_side_is_shown_upright(
    stored: tuple[int, int], shown: tuple[int, int]
) -> None:
    # A phone holds a portrait photo as a landscape one whose EXIF says: turn it.
    width, height = stored
    picture = Image.new("RGB", stored, "white")
    picture.paste((0, 0, 0), (0, 0, width // 8, height))  # a black band on the left as stored
    exif = picture.getexif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    content = _saved(picture, "JPEG", exif=exif, quality=95)
    assert describe("photo.jpg", content, LIMITS).pages == [PageSize(*shown)]
    (page,) = render(MediaType.JPEG, content)
    assert _drawn(page.image).size == shown
    assert _shade(page.image, shown[0] // 2, shown[1] // 40) < 60, "the band is at the top"
    assert _shade(page.image, shown[0] // 2, shown[1] * 7 // 8) > 200


@pytest.mark.parametrize(
    ("mode", "step", "kind", "saved_as"),
    [
        ("I;16", 1024, MediaType.PNG, "PNG"),  # 16 bits a pixel
        ("I", 1024, MediaType.TIFF, "TIFF"),  # 32-bit whole numbers
        ("F", 1 / 64, MediaType.TIFF, "TIFF"),  # floats from 0 to 1
    ],
)
def test_a_scan_of_more_than_eight_bits_a_pixel_keeps_its_greys(
    mode: str, step: float, kind: MediaType, saved_as: str
) -> None:
    picture = Image.new(mode, (64, 8))
    for x in range(64):
        for y in range(8):
            picture.putpixel((x, y), x * step)  # black to almost white across the page
    (page,) = render(kind, _saved(picture, saved_as))
    assert _shade(page.image, 1, 4) < 20
    assert 100 < _shade(page.image, 32, 4) < 156, "the middle is grey, not white nor black"
    assert _shade(page.image, 62, 4) > 230


def test_a_nearly_blank_sixteen_bit_page_stays_nearly_blank() -> None:
    picture = Image.new("I;16", (64, 8), 65000)
    picture.putpixel((10, 4), 65535)  # a speck of noise: no reason to turn the page black
    (page,) = render(MediaType.PNG, _saved(picture, "PNG"))
    assert _shade(page.image, 40, 4) > 240


def test_a_phone_photo_with_a_gain_map_is_one_page_its_main_picture() -> None:
    # A JPEG with MPF (Ultra HDR, a camera's preview) holds more pictures after the photo;
    # Pillow opens it as an MPO.
    photo = Image.new("RGB", (80, 60), "white")
    gain_map = Image.new("RGB", (40, 30), (128, 128, 128))
    content = _saved(photo, "MPO", save_all=True, append_images=[gain_map])
    assert Image.open(io.BytesIO(content)).format == "MPO"
    described = describe("photo.jpg", content, LIMITS)
    assert (described.media_type, described.pages) == (MediaType.JPEG, [PageSize(80, 60)])
    (page,) = render(MediaType.JPEG, content)
    assert _drawn(page.image).size == (80, 60)
    assert _shade(page.image, 40, 30) > 240, "the photo, not the grey gain map"


def test_an_image_under_the_pixel_limit_is_taken_whatever_pillow_would_have_said() -> None:
    # 95 million pixels: over Pillow's own warning (89.5 million), under the limit set.
    content = _saved(Image.new("1", (10_000, 9_500), 1), "PNG")
    assert describe("large.png", content, LIMITS).media_type is MediaType.PNG
    with pytest.raises(Refused, match="10000x9500 pixels"):
        describe("large.png", content, Limits(50 * 1024 * 1024, 10, 90_000_000, 10))


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's own, of the damage done
def test_a_damaged_tiff_is_refused_as_corrupt_whatever_its_decoder_raises() -> None:
    pictures = [Image.new("RGB", (32, 24), (40 * n, 120, 200)) for n in range(2)]
    damaged = bytearray(_saved(pictures[0], "TIFF", save_all=True, append_images=pictures[1:]))
    damaged[131] = 0x10  # the second page's directory no longer gives its size
    with pytest.raises(Refused, match="corrupt"):
        describe("scan.tiff", bytes(damaged), LIMITS)


@pytest.mark.parametrize(
    "before",
    [b"\xef\xbb\xbf", b"\r\n", b"   ", b"X-Scanned-By: gateway 4.2\n" * 30],
    ids=["byte-order-mark", "blank-line", "spaces", "a-gateways-lines"],
)
def test_a_pdf_whose_header_comes_after_a_few_bytes_is_a_pdf(before: bytes) -> None:
    # Readers look for the header in the first 1024 bytes, and so does the sniffing.
    content = before + _pdf_saying()
    described = describe("x.pdf", content, LIMITS)
    assert (described.media_type, len(described.pages)) == (MediaType.PDF, 1)
    (page,) = render(MediaType.PDF, content)
    assert [word.text for word in page.words or []] == ["Hello"]


def test_a_file_whose_pdf_header_starts_past_its_first_kilobyte_is_no_pdf() -> None:
    with pytest.raises(Refused, match="not a document"):
        describe("x.pdf", b" " * 1024 + _pdf_saying(), LIMITS)


def _pdf_saying(
    said: str = "Hello", rotation: int = 0, mediabox: tuple[float, ...] | None = None
) -> bytes:
    """An A4 page with `said` at its top left, turned `rotation` degrees when shown."""
    pdf = FPDF(format="A4")
    pdf.set_font("helvetica", size=16)
    pdf.add_page()
    pdf.cell(text=said)
    document = pdfium.PdfDocument(bytes(pdf.output()))
    document[0].set_rotation(rotation)
    if mediabox is not None:
        document[0].set_mediabox(*mediabox)
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


def _ink(page_image: bytes) -> tuple[float, float, float, float]:
    """The box around the dark pixels of a page image, in fractions from its top left."""
    grey = Image.open(io.BytesIO(page_image)).convert("L")
    dark = grey.point(lambda shade: 255 if shade < 128 else 0).getbbox()
    assert dark is not None, "the page shows something"
    left, top, right, bottom = dark
    return left / grey.width, top / grey.height, right / grey.width, bottom / grey.height


def _holds(box: tuple[float, ...], ink: tuple[float, ...], slack: float = 0.01) -> bool:
    return (
        box[0] <= ink[0] + slack
        and box[1] <= ink[1] + slack
        and box[2] >= ink[2] - slack
        and box[3] >= ink[3] - slack
    )


@pytest.mark.parametrize(
    ("rotation", "mediabox"),
    [(0, None), (90, None), (180, None), (270, None), (0, (20, 30, 595, 842))],
)
def test_a_pdfs_words_are_boxed_where_the_page_image_shows_them(
    rotation: int, mediabox: tuple[float, ...] | None
) -> None:
    # A landscape scan is a portrait page turned; a cropped one's box starts elsewhere than 0.
    (page,) = render(MediaType.PDF, _pdf_saying(rotation=rotation, mediabox=mediabox))
    assert page.words is not None
    (word,) = page.words
    assert word.text == "Hello"
    ink = _ink(page.image)
    assert _holds(word.box, ink), (word.box, ink)
    left, top, right, bottom = word.box
    assert max(right - left, bottom - top) < 0.2, "around the word, not the page"


def _filled_in_form(value: str) -> bytes:
    """A 300x200 pt page with one text field holding `value`. Written by hand: no library
    in the lock file makes form fields (fpdf2 makes only signature fields)."""
    shown = b"/Tx BMC BT /Helv 14 Tf 0 g 2 6 Td (%s) Tj ET EMC" % value.encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Annots [4 0 R] >>",
        # The field and its widget in one: its value, where it sits, and its appearance
        # stream (object 5), what a viewer shows.
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (name) /V (%s) /P 3 0 R /F 4"
        b" /Rect [20 120 220 144] /DA (/Helv 14 Tf 0 g) /AP << /N 5 0 R >> >>" % value.encode(),
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 200 24] /Length %d"
        b" /Resources << /Font << /Helv 6 0 R >> >> >>\nstream\n%s\nendstream"
        % (len(shown), shown),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_of(objects)


def test_a_filled_in_pdf_form_shows_its_values_and_has_their_words() -> None:
    content = _filled_in_form("HELLO WORLD")
    (page,) = render(MediaType.PDF, content)
    assert describe("form.pdf", content, LIMITS).pages == [PageSize(*_drawn(page.image).size)]
    field = (20 / 300, 56 / 200, 220 / 300, 80 / 200)  # its /Rect, from the page's top left
    assert _holds(field, _ink(page.image))
    assert page.words is not None
    assert [word.text for word in page.words] == ["HELLO", "WORLD"]
    assert all(_holds(field, word.box) for word in page.words)


@pytest.mark.parametrize(
    ("said", "read"),
    [
        ("Hello", False),
        ("   ", False),
        ("RECEIVED 12.03.2024", False),  # a stamp on a scan
        ("Invoice R-1 from Acme GmbH", True),
    ],
    ids=["a-word", "spaces", "a-stamp", "a-line"],
)
def test_a_pdf_page_is_read_from_its_text_layer_only_when_it_holds_a_few_words(
    said: str, read: bool
) -> None:
    # Else OCR reads it (a scan with a few words of text on it, or a page of spaces).
    (page,) = render(MediaType.PDF, _pdf_saying(said))
    assert page.read is read


def _scan(*lines: str, in_a_form: bool = False, scanned: bool = True) -> bytes:
    """A letter page scanned (a grey image over all of it; none if not `scanned`) with `lines`
    of 10-point text on it from its top; the image drawn by the page, or by a form the page
    draws twice as large (as a tool that lays something over a page wraps its content)."""
    width, height = 20, 26
    pixels = zlib.compress(bytes([230]) * (width * height))
    text = b"".join(
        b"BT /F1 10 Tf 40 %d Td (%s) Tj ET " % (760 - 14 * n, line.encode())
        for n, line in enumerate(lines)
    )
    # In a form, the image fills the form's 306x396 points, which the page draws twice as large.
    form = b"q 306 0 0 396 0 0 cm /Im1 Do Q"
    scan = b"q 2 0 0 2 0 0 cm /Fm1 Do Q " if in_a_form else b"q 612 0 0 792 0 0 cm /Im1 Do Q "
    content = (scan if scanned else b"") + text
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R /Resources"
        b" << /XObject << /Im1 4 0 R /Fm1 7 0 R >> /Font << /F1 5 0 R >> >> >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
        % (width, height, len(pixels), pixels),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 306 396] /Length %d"
        b" /Resources << /XObject << /Im1 4 0 R >> >> >>\nstream\n%s\nendstream"
        % (len(form), form),
    ]
    return pdf_of(objects)


STAMP = "Received 12.03.2024 by AP Dept Berlin"
FAX = "Fax from +49 30 1234567 12.03.2024 10:15 Page 1/2"
LINE = "Widget blue large 3 x 12.50 EUR = 37.50"
BATES = "ACME 000123"


@pytest.mark.parametrize(
    ("content", "read"),
    [
        (_scan(STAMP), False),
        (_scan(FAX), False),
        (_scan(STAMP, in_a_form=True), False),
        (_scan(FAX, STAMP, BATES), False),
        (_scan(*[LINE] * 8), True),  # a searchable scan: its text layer is its words
        (_scan(LINE, LINE, LINE, "Invoice R-1 from Acme", scanned=False), True),  # typed
        # Typed over a letterhead printed as one page-sized image: 36 words, under 1 % of it.
        (_scan(*[LINE] * 4), True),
    ],
    ids=[
        "a-stamp",
        "a-fax-header",
        "a-stamp-on-a-scan-in-a-form",
        "a-fax-header-a-stamp-and-a-bates-line",
        "searchable",
        "typed",
        "typed-over-a-letterhead",
    ],
)
def test_a_scan_whose_text_layer_is_a_stamp_or_a_header_is_read_by_ocr(
    content: bytes, read: bool
) -> None:
    (page,) = render(MediaType.PDF, content)
    assert len(page.words or []) >= 5
    assert page.read is read


def _stamped_scan(*typed: str) -> bytes:
    """An A4 scan (a grey picture over all of it) that a tool stamped as text: a receipt
    stamp's four 12-point lines at its top right and a Bates number at its foot, with `typed`
    lines of 10-point text between them."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(io.BytesIO(_saved(Image.new("L", (210, 297), 230), "PNG")), x=0, y=0, w=210, h=297)
    pdf.set_font("helvetica", size=12)
    for n, line in enumerate(["RECEIVED", "12 MAR 2024", "Accounts Payable", "Checked: KM"]):
        pdf.text(150, 20 + 6 * n, line)
    pdf.set_font("helvetica", size=10)
    for n, line in enumerate(typed):
        pdf.text(20, 100 + 5 * n, line)
    pdf.text(160, 290, BATES)
    return bytes(pdf.output())


@pytest.mark.parametrize(
    ("content", "read"),
    [(_stamped_scan(), False), (_stamped_scan(*[LINE] * 3), True)],
    ids=["a-stamp-and-a-bates-line", "typed-between-them"],
)
def test_a_scan_stamped_on_more_than_three_lines_is_read_by_ocr(content: bytes, read: bool) -> None:
    # Ten words on five lines, under 1 % of the page: the stamp's, not the page's (as text,
    # the page's words were the stamp's ten); with three lines typed, 37 words on eight.
    (page,) = render(MediaType.PDF, content)
    said = {word.text for word in page.words or []}
    assert {"RECEIVED", "Payable", "000123"} <= said, "the stamp and the Bates line as text"
    assert page.read is read


@pytest.mark.parametrize(
    "name",
    [
        "0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
        "0193A2B4-5C6D-7E8F-9A0B-1C2D3E4F5A6B",
        "0193a2b45c6d7e8f9a0b1c2d3e4f5a6b",
        "{0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b}",
    ],
)
def test_a_name_an_item_would_read_as_a_document_id_is_refused(name: str) -> None:
    with pytest.raises(Refused, match="a document's name cannot be a document id, in any case"):
        describe(name, _pdf_saying(), LIMITS)
