"""A generated invoice corpus whose field values are known, for extraction and OCR figures.

Five supplier layouts (`LAYOUTS`), each with its own labels, date and amount formats and
fixed text (supplier, terms, footer), and per document a random customer, number, dates and
2-5 line items: their amounts and dates, the due date, net and tax are distractors, not
fields. A document is born-digital (`pdf`: fpdf2, core fonts, a real text layer, A4) or a
`scan`: that same PDF rendered by pypdfium2 at 150 dpi (1240x1754 px), rotated within
+-2 degrees, blurred and noised, as a grayscale PNG. The scan is rendered from the PDF so
that both kinds share one layout to the point; core fonts because embedding a TrueType font
costs fpdf2 some 85 ms per document. Everything follows from the seed; nothing is written.
"""

import io
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import pypdfium2
from fpdf import FPDF
from PIL import Image, ImageChops, ImageDraw, ImageFilter

Kind = Literal["pdf", "scan"]
Align = Literal["L", "R"]

DPI = 150
SCAN_SIZE = (1240, 1754)  # A4 at 150 dpi
CENT = Decimal("0.01")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

FIELDS: list[dict[str, object]] = [
    {"name": "invoice_number", "type": "string", "label": "Invoice number"},
    {
        "name": "invoice_date",
        "type": "date",
        "label": "Invoice date",
        # ISO dates need no format; "%d/%m/%Y" is left out, it would shadow "%m/%d/%Y".
        "date_formats": ["%d.%m.%Y", "%m/%d/%Y", "%d %B %Y"],
    },
    {"name": "total", "type": "decimal", "decimal_places": 2, "label": "Total (gross)"},
    {
        "name": "currency",
        "type": "enum",
        "choices": ["EUR", "USD", "GBP", "CHF"],
        "label": "Currency",
    },
    {"name": "supplier_vat", "type": "vat", "label": "Supplier VAT ID"},
    {"name": "iban", "type": "iban", "label": "Supplier IBAN"},
    {"name": "email", "type": "email", "label": "Supplier email"},
    {"name": "phone", "type": "phone", "required": False, "label": "Supplier phone"},
]


@dataclass(frozen=True)
class Sample:
    """One generated document: its bytes and the field values it shows.

    `truth` holds each field's canonical keyed form (a field the layout does not print is
    absent), `printed` the value text exactly as on the page, `labels` the label printed
    next to a field (fields printed without one are absent), `angle` a scan's rotation in
    degrees (counter-clockwise; 0 for a PDF).
    """

    layout: str
    kind: Kind
    filename: str
    media_type: str
    content: bytes
    truth: dict[str, str]
    printed: dict[str, str]
    labels: dict[str, str]
    angle: float = 0.0


@dataclass(frozen=True)
class Supplier:
    """The issuer: fixed text on every document of its layout, as printed."""

    name: str
    address: tuple[str, ...]
    vat: str
    iban: str
    bic: str
    email: str
    phone: str | None


@dataclass(frozen=True)
class _Line:
    description: str
    quantity: int
    price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class _Doc:
    number: str
    issued: date
    due: date
    delivered: date
    currency: str
    customer: tuple[str, ...]
    customer_no: str
    reference: str
    lines: tuple[_Line, ...]
    tax_rate: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class Layout:
    """One supplier's invoice design."""

    name: str
    language: Literal["en", "de"]
    font: str
    supplier: Supplier
    currencies: tuple[str, ...]
    date_format: str
    decimal_comma: bool
    tax_rate: Decimal
    labels: Mapping[str, str]
    numbering: Callable[[random.Random, date], str]
    catalog: tuple[tuple[str, int, int], ...]
    customers: tuple[tuple[str, ...], tuple[str, ...]]
    draw: Callable[["_Pen", "Layout", _Doc], None] = field(repr=False)

    def date_text(self, value: date) -> str:
        """The date as this layout prints it."""
        fmt = self.date_format.replace("%B", MONTHS[value.month - 1])
        return value.strftime(fmt)

    def money_text(self, value: Decimal) -> str:
        """The amount as this layout prints it: 1,234.56 or 1.234,56."""
        text = f"{value:,.2f}"
        return text.translate(str.maketrans(",.", ".,")) if self.decimal_comma else text

    def rate_text(self, rate: Decimal) -> str:
        """A tax rate as printed: "19 %" in German, "19%" in English."""
        number = f"{rate * 100:.0f}"
        return f"{number} %" if self.language == "de" else f"{number}%"


class _Pen:
    """Draws on one fpdf2 page in millimetres; `y` is the text baseline."""

    def __init__(self, pdf: FPDF, font: str) -> None:
        self.pdf = pdf
        self.font = font

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float = 9,
        *,
        bold: bool = False,
        align: Align = "L",
    ) -> None:
        self.pdf.set_font(self.font, "B" if bold else "", size)
        if align == "R":
            x -= self.pdf.get_string_width(text)
        self.pdf.text(x, y, text)

    def width(self, text: str, size: float, *, bold: bool = False) -> float:
        self.pdf.set_font(self.font, "B" if bold else "", size)
        return self.pdf.get_string_width(text)

    def pair(self, x: float, y: float, label: str, value: str, size: float) -> float:
        """Label, then value; returns where the value ends."""
        self.text(x, y, label, size, bold=True)
        x += self.width(label, size, bold=True) + 1.5
        self.text(x, y, value, size)
        return x + self.width(value, size)

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.2) -> None:
        self.pdf.set_line_width(width)
        self.pdf.line(x1, y1, x2, y2)

    def box(self, x: float, y: float, w: float, h: float, shade: int | None = None) -> None:
        self.pdf.set_line_width(0.2)
        if shade is None:
            self.pdf.rect(x, y, w, h)
        else:
            self.pdf.set_fill_color(shade)
            self.pdf.rect(x, y, w, h, style="DF")


Column = tuple[str, float, Align]


def _table(
    pen: _Pen,
    top: float,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    size: float = 9,
    grid: bool = False,
    shade: int | None = None,
    heights: tuple[float, float] = (7, 6),
) -> float:
    """A header row and rows; x is a left-aligned column's left edge or a right one's right
    edge. Returns the y below the table."""
    left = min(x for _, x, align in columns if align == "L") - 2
    right = max(x for _, x, align in columns if align == "R") + 2 if columns else 190
    head, height = heights
    if grid or shade is not None:
        pen.box(left, top, right - left, head, shade)
    for text, x, align in columns:
        pen.text(x, top + head - 2.2, text, size, bold=True, align=align)
    y = top + head
    if not grid:
        pen.rule(left, y, right, y)
    for row in rows:
        if grid:
            pen.box(left, y, right - left, height)
        for (_, x, align), text in zip(columns, row, strict=True):
            pen.text(x, y + height - 1.8, text, size, align=align)
        y += height
    if not grid:
        pen.rule(left, y, right, y)
    return y


def _items(lay: Layout, doc: _Doc, *, position: bool = False) -> list[list[str]]:
    rows = []
    for n, line in enumerate(doc.lines, 1):
        prices = [lay.money_text(line.price), lay.money_text(line.amount)]
        row = [line.description, str(line.quantity), *prices]
        rows.append([str(n), *row] if position else row)
    return rows


def _totals(
    pen: _Pen, top: float, rows: Sequence[tuple[str, str]], label_x: float, size: float = 9
) -> float:
    """Right-aligned at 190 mm; the last row bold under a rule. Returns its baseline."""
    y = top
    for n, (label, value) in enumerate(rows):
        last = n == len(rows) - 1
        if last:
            pen.rule(label_x, y - 3.6, 190, y - 3.6)
            y += 1.5
        pen.text(label_x, y, label, size, bold=last)
        pen.text(190, y, value, size, bold=last, align="R")
        y += 5.5
    return y - 5.5


def _lines(pen: _Pen, x: float, y: float, lines: Sequence[str], size: float, step: float) -> None:
    for n, line in enumerate(lines):
        pen.text(x, y + n * step, line, size)


def _draw_acme(pen: _Pen, lay: Layout, doc: _Doc) -> None:
    sup, lab = lay.supplier, lay.labels
    pen.text(20, 26, sup.name, 16, bold=True)
    _lines(pen, 20, 32, sup.address, 9, 4.2)
    pen.text(190, 28, "INVOICE", 24, bold=True, align="R")
    pen.text(20, 60, "Bill to:", 9, bold=True)
    _lines(pen, 20, 65, doc.customer, 10, 4.6)
    facts = [
        (lab["invoice_number"], doc.number),
        (lab["invoice_date"], lay.date_text(doc.issued)),
        ("Due Date:", lay.date_text(doc.due)),
        ("Customer ID:", doc.customer_no),
        ("PO Number:", doc.reference),
        (lab["currency"], doc.currency),
    ]
    for n, (label, value) in enumerate(facts):
        pen.text(118, 60 + n * 5.5, label, 9, bold=True)
        pen.text(152, 60 + n * 5.5, value, 10)
    columns: list[Column] = [
        ("Description", 22, "L"),
        ("Qty", 128, "R"),
        ("Unit Price", 158, "R"),
        ("Amount", 188, "R"),
    ]
    y = _table(pen, 104, columns, _items(lay, doc), shade=225)
    y = _totals(
        pen,
        y + 8,
        [
            ("Subtotal:", lay.money_text(doc.net)),
            (f"VAT ({lay.rate_text(doc.tax_rate)}):", lay.money_text(doc.tax)),
            (lab["total"], f"{doc.currency} {lay.money_text(doc.total)}"),
        ],
        130,
        10,
    )
    pen.text(20, y + 16, "Payment terms: net 30 days. Please quote the invoice number.", 9)
    pen.text(20, y + 24, "Thank you for your business!", 11, bold=True)
    pen.rule(20, 266, 190, 266)
    pen.pair(20, 272, lab["supplier_vat"], sup.vat, 8)
    pen.pair(75, 272, lab["iban"], sup.iban, 8)
    pen.pair(150, 272, "BIC:", sup.bic, 8)
    pen.pair(20, 277, lab["email"], sup.email, 8)
    pen.pair(75, 277, lab["phone"], sup.phone or "", 8)
    pen.text(20, 282, f"{sup.name}, registered in Ireland no. 604417", 7)


def _draw_brandt(pen: _Pen, lay: Layout, doc: _Doc) -> None:
    sup, lab = lay.supplier, lay.labels
    pen.text(190, 24, "Brandt", 24, bold=True, align="R")
    pen.text(190, 30, "Bürotechnik GmbH", 11, align="R")
    pen.text(25, 47, " · ".join([sup.name, *sup.address]), 7)
    pen.rule(25, 48.5, 105, 48.5, 0.1)
    _lines(pen, 25, 55, doc.customer, 10, 4.6)
    facts = [
        (lab["invoice_number"], doc.number),
        (lab["invoice_date"], lay.date_text(doc.issued)),
        ("Lieferdatum:", lay.date_text(doc.delivered)),
        ("Kundennummer:", doc.customer_no),
        ("Ihre Bestellung:", doc.reference),
    ]
    for n, (label, value) in enumerate(facts):
        pen.text(120, 55 + n * 5, label, 9)
        pen.text(160, 55 + n * 5, value, 9)
    pen.text(25, 100, "Rechnung", 16, bold=True)
    pen.text(25, 110, "Sehr geehrte Damen und Herren,", 10)
    pen.text(25, 116, "wir danken für Ihren Auftrag und berechnen Ihnen folgende Leistungen:", 10)
    columns: list[Column] = [
        ("Pos.", 27, "L"),
        ("Bezeichnung", 40, "L"),
        ("Menge", 130, "R"),
        ("Einzelpreis", 160, "R"),
        ("Gesamt", 188, "R"),
    ]
    y = _table(pen, 122, columns, _items(lay, doc, position=True))
    y = _totals(
        pen,
        y + 7,
        [
            ("Nettobetrag", f"{lay.money_text(doc.net)} {doc.currency}"),
            (
                f"zzgl. {lay.rate_text(doc.tax_rate)} USt.",
                f"{lay.money_text(doc.tax)} {doc.currency}",
            ),
            (lab["total"], f"{lay.money_text(doc.total)} {doc.currency}"),
        ],
        125,
        10,
    )
    pen.text(25, y + 14, f"Bitte überweisen Sie den Betrag bis zum {lay.date_text(doc.due)}.", 10)
    pen.text(25, y + 20, "Es gelten unsere Allgemeinen Geschäftsbedingungen.", 10)
    pen.text(25, y + 30, "Mit freundlichen Grüßen", 10)
    pen.text(25, y + 36, sup.name, 10)
    pen.rule(25, 264, 190, 264, 0.1)
    _lines(pen, 25, 269, [sup.name, *sup.address, "Amtsgericht Hamburg HRB 148213"], 7.5, 3.6)
    pen.pair(85, 269, lab["phone"], sup.phone or "", 7.5)
    pen.pair(85, 272.6, lab["email"], sup.email, 7.5)
    pen.pair(85, 276.2, lab["supplier_vat"], sup.vat, 7.5)
    pen.text(85, 279.8, "Geschäftsführer: Klaus Brandt", 7.5)
    pen.text(140, 269, "Hamburger Sparkasse", 7.5)
    pen.pair(140, 272.6, lab["iban"], sup.iban, 7.5)
    pen.pair(140, 276.2, "BIC:", sup.bic, 7.5)


def _draw_cobalt(pen: _Pen, lay: Layout, doc: _Doc) -> None:
    sup, lab = lay.supplier, lay.labels
    pen.text(20, 26, "COBALT", 28, bold=True)
    pen.text(20, 32, "PRINT & DESIGN", 10, bold=True)
    for n, line in enumerate(sup.address):
        pen.text(190, 22 + n * 4.4, line, 9, align="R")
    pen.text(20, 48, "Tax Invoice", 16, bold=True)
    cells = [
        (lab["invoice_number"], doc.number),
        (lab["invoice_date"], lay.date_text(doc.issued)),
        ("Due date", lay.date_text(doc.due)),
        ("Net amount", lay.money_text(doc.net)),
        (lab["currency"], doc.currency),
        (lab["total"], lay.money_text(doc.total)),
    ]
    width = 170 / 3
    for n, (label, value) in enumerate(cells):
        left, top = 20 + (n % 3) * width, 53 + (n // 3) * 14
        pen.box(left, top, width, 14)
        pen.text(left + 2.5, top + 4.6, label, 8)
        pen.text(left + 2.5, top + 11.2, value, 12, bold=True)
    pen.text(20, 92, "Invoice to", 9, bold=True)
    _lines(pen, 20, 97, doc.customer, 10, 4.6)
    pen.text(120, 92, "Your order", 9, bold=True)
    pen.text(120, 97, doc.reference, 10)
    pen.text(120, 104, "Account no.", 9, bold=True)
    pen.text(120, 109, doc.customer_no, 10)
    columns: list[Column] = [
        ("Description", 22, "L"),
        ("Qty", 130, "R"),
        ("Unit price", 158, "R"),
        ("Net", 188, "R"),
    ]
    y = _table(pen, 124, columns, _items(lay, doc), grid=True, shade=235, heights=(7, 7))
    y = _totals(
        pen,
        y + 8,
        [
            ("Net", lay.money_text(doc.net)),
            (f"VAT @ {lay.rate_text(doc.tax_rate)}", lay.money_text(doc.tax)),
            ("Total", lay.money_text(doc.total)),
        ],
        135,
        10,
    )
    pen.text(20, y + 14, "Payment within 30 days of the invoice date by bank transfer.", 9)
    pen.text(20, y + 19, "Goods remain our property until paid in full.", 9)
    pen.rule(20, 262, 190, 262, 0.3)
    pen.text(20, 268, f"{sup.name}, registered in Northern Ireland NI612345", 8)
    pen.pair(20, 273, lab["supplier_vat"], sup.vat, 8)
    pen.pair(80, 273, lab["iban"], sup.iban, 8)
    pen.pair(150, 273, "BIC", sup.bic, 8)
    pen.pair(20, 278, lab["email"], sup.email, 8)
    pen.pair(80, 278, lab["phone"], sup.phone or "", 8)


def _draw_dufour(pen: _Pen, lay: Layout, doc: _Doc) -> None:
    sup, lab = lay.supplier, lay.labels
    pen.text(20, 24, sup.name.upper(), 13, bold=True)
    _lines(pen, 20, 30, sup.address, 9, 4.2)
    facts = [
        (lab["invoice_number"], doc.number),
        (lab["invoice_date"], lay.date_text(doc.issued)),
        ("Kunden-Nr.", doc.customer_no),
        ("Fällig am", lay.date_text(doc.due)),
        ("Seite", "1 von 1"),
    ]
    for n, (label, value) in enumerate(facts):
        pen.text(122, 24 + n * 5, label, 9)
        pen.text(190, 24 + n * 5, value, 9, bold=n < 2, align="R")
    pen.text(20, 58, "An", 8)
    _lines(pen, 20, 63, doc.customer, 10, 4.6)
    pen.text(20, 96, "RECHNUNG", 14, bold=True)
    until = lay.date_text(doc.delivered)
    pen.text(20, 103, f"Ihr Auftrag {doc.reference}, Leistung bis {until}", 9)
    columns: list[Column] = [
        ("Bezeichnung", 22, "L"),
        ("Menge", 126, "R"),
        ("Preis", 156, "R"),
        ("Betrag", 188, "R"),
    ]
    y = _table(pen, 110, columns, _items(lay, doc))
    y = _totals(
        pen,
        y + 8,
        [
            ("Zwischensumme", lay.money_text(doc.net)),
            (f"USt. {lay.rate_text(doc.tax_rate)}", lay.money_text(doc.tax)),
            (lab["total"], f"{lay.money_text(doc.total)} {doc.currency}"),
        ],
        122,
    )
    skonto = (doc.total * Decimal("0.02")).quantize(CENT, ROUND_HALF_UP)
    early = lay.date_text(doc.issued + timedelta(days=8))
    pen.text(20, y + 14, f"Zahlbar bis {lay.date_text(doc.due)} ohne Abzug.", 9)
    pen.text(20, y + 19, f"Bei Zahlung bis {early} 2 % Skonto ({lay.money_text(skonto)}).", 9)
    pen.text(20, y + 29, "Vielen Dank für Ihr Vertrauen!", 9)
    pen.rule(20, 266, 190, 266)
    pen.pair(20, 272, lab["supplier_vat"], sup.vat, 8)
    pen.pair(110, 272, lab["phone"], sup.phone or "", 8)
    pen.pair(20, 277, lab["iban"], sup.iban, 8)
    pen.pair(110, 277, "BIC:", sup.bic, 8)
    pen.pair(20, 282, lab["email"], sup.email, 8)
    pen.text(110, 282, "FN 412345 x, LG Graz", 8)


def _draw_elm(pen: _Pen, lay: Layout, doc: _Doc) -> None:
    sup, lab = lay.supplier, lay.labels
    pen.text(20, 27, "elm freight", 24, bold=True)
    pen.text(20, 33, sup.name, 9)
    _lines(pen, 190 - pen.width(max(sup.address, key=len), 9), 22, sup.address, 9, 4.4)
    pen.text(20, 50, "INVOICE", 14, bold=True)
    header: list[Column] = [
        (lab["invoice_number"], 22, "L"),
        (lab["invoice_date"], 58, "L"),
        (lab["currency"], 100, "L"),
        ("Net", 155, "R"),
        (lab["total"], 188, "R"),
    ]
    row = [doc.number, lay.date_text(doc.issued), doc.currency, lay.money_text(doc.net)]
    row.append(lay.money_text(doc.total))
    _table(pen, 55, header, [row], grid=True, shade=215, heights=(7, 9), size=10)
    pen.text(20, 82, "Bill to", 9, bold=True)
    _lines(pen, 20, 87, doc.customer, 10, 4.6)
    pen.text(120, 82, "Shipment", 9, bold=True)
    pen.text(120, 87, f"Customer no. {doc.customer_no}", 10)
    pen.text(120, 91.6, f"Ref. {doc.reference}", 10)
    pen.text(120, 96.2, f"ETD {lay.date_text(doc.delivered)}", 10)
    columns: list[Column] = [
        ("Service", 22, "L"),
        ("Units", 128, "R"),
        ("Rate", 158, "R"),
        ("Amount", 188, "R"),
    ]
    y = _table(pen, 118, columns, _items(lay, doc))
    vat = f"VAT {lay.rate_text(doc.tax_rate)}" + (" (reverse charge)" if not doc.tax else "")
    y = _totals(
        pen,
        y + 8,
        [
            ("Net amount", lay.money_text(doc.net)),
            (vat, lay.money_text(doc.tax)),
            (f"Total {doc.currency}", lay.money_text(doc.total)),
        ],
        125,
    )
    pen.text(20, y + 14, f"Please pay within 30 days, by {lay.date_text(doc.due)}.", 9)
    pen.text(20, y + 19, "All services under the Dutch Forwarding Conditions (FENEX).", 9)
    pen.rule(20, 270, 190, 270)
    pen.text(20, 275, f"{sup.name} | {', '.join(sup.address[:2])} | KvK 71234567", 8)
    x = pen.pair(20, 280, lab["supplier_vat"], sup.vat, 8)
    x = pen.pair(x + 5, 280, lab["iban"], sup.iban, 8)
    x = pen.pair(x + 5, 280, "BIC:", sup.bic, 8)
    pen.pair(x + 5, 280, lab["email"], sup.email, 8)


_EN_STREETS = ("Market Street", "Oak Avenue", "Harbour Road", "Mill Lane", "King's Parade")
_DE_STREETS = ("Königstraße", "Hauptstraße", "Lindenallee", "Am Mühlbach", "Schloßstraße")
_EN_NAMES = ("Northwind", "Bluebell", "Kestrel", "Riverside", "Oakfield", "Brightwater")
_DE_NAMES = ("Müller", "Schäfer", "Köhler", "Weiß", "Krüger", "Schröder", "Jäger")
_EN_TRADES = ("Traders", "Consulting", "Foods", "Engineering", "Media", "Logistics")
_DE_TRADES = ("Logistik", "Metallbau", "Bürobedarf", "Elektrotechnik", "Gastronomie")
_PEOPLE = ("Sarah O'Brien", "Jürgen Weiß", "Anna Böhm", "Tom Fletcher", "Chloé Dubois")


def _customer(rng: random.Random, lay: Layout) -> tuple[str, ...]:
    suffixes, places = lay.customers
    number = rng.randint(1, 180)
    if lay.language == "de":
        name = f"{rng.choice(_DE_NAMES)} {rng.choice(_DE_TRADES)} {rng.choice(suffixes)}"
        street = f"{rng.choice(_DE_STREETS)} {number}"
        contact = f"z. Hd. {rng.choice(_PEOPLE)}"
    else:
        name = f"{rng.choice(_EN_NAMES)} {rng.choice(_EN_TRADES)} {rng.choice(suffixes)}"
        street = f"{number} {rng.choice(_EN_STREETS)}"
        contact = f"Attn: {rng.choice(_PEOPLE)}"
    lines = [name, contact] if rng.random() < 0.5 else [name]
    return (*lines, street, *rng.choice(places).split("|"))


def _document(rng: random.Random, lay: Layout) -> _Doc:
    issued = date(2023, 1, 1) + timedelta(days=rng.randrange(3 * 365))
    currency = rng.choice(lay.currencies)
    lines = []
    for description, low, high in rng.sample(lay.catalog, rng.randint(2, 5)):
        quantity = rng.randint(1, 2) if high > 1000 else rng.randint(1, 24)
        price = Decimal(rng.randint(low * 100, high * 100)) / 100
        lines.append(_Line(description, quantity, price, price * quantity))
    tax_rate = Decimal(0) if currency == "CHF" else lay.tax_rate
    net = sum((line.amount for line in lines), Decimal(0))
    tax = (net * tax_rate).quantize(CENT, ROUND_HALF_UP)
    return _Doc(
        number=lay.numbering(rng, issued),
        issued=issued,
        due=issued + timedelta(days=rng.choice((14, 30))),
        delivered=issued - timedelta(days=rng.randint(1, 12)),
        currency=currency,
        customer=_customer(rng, lay),
        customer_no=str(rng.randint(10000, 99999)),
        reference=f"PO-{rng.randint(1000, 9999)}-{rng.choice('ABCDEFGH')}",
        lines=tuple(lines),
        tax_rate=tax_rate,
        net=net,
        tax=tax,
        total=net + tax,
    )


def _pdf(lay: Layout, doc: _Doc) -> bytes:
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_creation_date(datetime(doc.issued.year, doc.issued.month, doc.issued.day, tzinfo=UTC))
    pdf.set_title(f"Invoice {doc.number}")
    pdf.set_author(lay.supplier.name)
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    lay.draw(_Pen(pdf, lay.font), lay, doc)
    return bytes(pdf.output())


def _scan(pdf: bytes, rng: random.Random) -> tuple[bytes, float]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0].render(scale=DPI / 72, grayscale=True).to_pil().convert("L")
    finally:
        document.close()
    image = Image.new("L", SCAN_SIZE, 255)
    image.paste(page, (0, 0))
    paper, ink = rng.randint(228, 248), rng.randint(15, 60)
    image = image.point([ink + v * (paper - ink) // 255 for v in range(256)])
    angle = rng.uniform(-2.0, 2.0)
    image = image.rotate(angle, Image.Resampling.BICUBIC, fillcolor=paper)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    # Two uniform noise images averaged: a bell-shaped noise, and deterministic.
    size = SCAN_SIZE[0] * SCAN_SIZE[1]
    spread = rng.uniform(0.15, 0.35)
    level = [round(128 + (v - 128) * spread) for v in range(256)]
    one, two = (Image.frombytes("L", SCAN_SIZE, rng.randbytes(size)).point(level) for _ in "ab")
    image = ImageChops.add(image, ImageChops.add(one, two, scale=2.0), offset=-128)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(200, 900)):
        spot = (rng.randrange(SCAN_SIZE[0]), rng.randrange(SCAN_SIZE[1]))
        draw.point(spot, fill=rng.choice((0, 255)))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue(), angle


def _fields(lay: Layout, doc: _Doc) -> tuple[dict[str, str], dict[str, str]]:
    sup = lay.supplier
    printed = {
        "invoice_number": doc.number,
        "invoice_date": lay.date_text(doc.issued),
        "total": lay.money_text(doc.total),
        "currency": doc.currency,
        "supplier_vat": sup.vat,
        "iban": sup.iban,
        "email": sup.email,
    }
    truth = {
        "invoice_number": doc.number,
        "invoice_date": doc.issued.isoformat(),
        "total": f"{doc.total:.2f}",
        "currency": doc.currency,
        "supplier_vat": re.sub(r"[\s.-]", "", sup.vat).upper(),
        "iban": re.sub(r"\s", "", sup.iban).upper(),
        "email": sup.email.lower(),
    }
    if sup.phone:
        printed["phone"] = sup.phone
        truth["phone"] = "+" + re.sub(r"\D", "", sup.phone)
    return truth, printed


def _year_serial(prefix: str, digits: int, sep: str) -> Callable[[random.Random, date], str]:
    def number(rng: random.Random, issued: date) -> str:
        return f"{prefix}{issued.year}{sep}{rng.randint(1, 10**digits - 1):0{digits}d}"

    return number


def _serial(prefix: str, digits: int) -> Callable[[random.Random, date], str]:
    def number(rng: random.Random, issued: date) -> str:
        return f"{prefix}{rng.randint(1, 10**digits - 1):0{digits}d}"

    return number


LAYOUTS: tuple[Layout, ...] = (
    Layout(
        name="acme-en",
        language="en",
        font="Helvetica",
        supplier=Supplier(
            name="Acme Software Europe Ltd",
            address=("Block C, Grand Canal Quay", "Dublin 2, D02 X576", "Ireland"),
            vat="IE 4821736P",
            iban="IE58 AIBK 9311 5245 9137 52",
            bic="AIBKIE2D",
            email="billing@acme-software.ie",
            phone="+353 1 437 8120",
        ),
        currencies=("USD",),
        date_format="%m/%d/%Y",
        decimal_comma=False,
        tax_rate=Decimal("0.23"),
        labels={
            "invoice_number": "Invoice No.:",
            "invoice_date": "Invoice Date:",
            "total": "Total Due:",
            "currency": "Currency:",
            "supplier_vat": "VAT No.:",
            "iban": "IBAN:",
            "email": "Email:",
            "phone": "Tel.:",
        },
        numbering=_year_serial("INV-", 5, "-"),
        catalog=(
            ("Cloud Workspace licence, annual", 300, 2400),
            ("Premium support plan", 150, 900),
            ("Onboarding workshop (per day)", 800, 1600),
            ("API calls, 100k bundle", 40, 120),
            ("Additional storage 1 TB", 20, 80),
            ("Professional services (hours)", 120, 220),
        ),
        customers=(
            ("Inc.", "LLC", "Corp."),
            ("San Francisco, CA 94103", "Austin, TX 78701", "New York, NY 10013|USA"),
        ),
        draw=_draw_acme,
    ),
    Layout(
        name="brandt-de",
        language="de",
        font="Helvetica",
        supplier=Supplier(
            name="Brandt Bürotechnik GmbH",
            address=("Hafenstraße 12", "20457 Hamburg"),
            vat="DE274193851",
            iban="DE53 2005 0550 1262 8301 47",
            bic="HASPDEHHXXX",
            email="rechnung@brandt-buerotechnik.de",
            phone="+49 40 3861 2270",
        ),
        currencies=("EUR",),
        date_format="%d.%m.%Y",
        decimal_comma=True,
        tax_rate=Decimal("0.19"),
        labels={
            "invoice_number": "Rechnungsnummer:",
            "invoice_date": "Rechnungsdatum:",
            "total": "Gesamtbetrag",
            "supplier_vat": "USt-IdNr.:",
            "iban": "IBAN:",
            "email": "E-Mail:",
            "phone": "Telefon:",
        },
        numbering=_serial("R-", 6),
        catalog=(
            ("Toner schwarz TK-5240", 45, 120),
            ("Multifunktionsdrucker Farblaser A3", 1800, 4200),
            ("Wartungspauschale Quartal", 90, 350),
            ("Kopierpapier A4, 80 g/m², 5 x 500 Blatt", 18, 32),
            ("Bürostuhl ergonomisch", 240, 690),
            ("Technikereinsatz je Stunde", 65, 110),
            ("Anfahrtspauschale", 35, 60),
        ),
        customers=(
            ("GmbH", "GmbH & Co. KG", "AG", "e. K."),
            ("80331 München", "50667 Köln", "40213 Düsseldorf", "70173 Stuttgart", "04109 Leipzig"),
        ),
        draw=_draw_brandt,
    ),
    Layout(
        name="cobalt-en",
        language="en",
        font="Times",
        supplier=Supplier(
            name="Cobalt Print & Design Ltd",
            address=("Unit 4, Duncrue Industrial Park", "Belfast BT3 9BP", "Northern Ireland"),
            vat="XI 349 1725 39",
            iban="GB41 ULSB 9800 1146 2022 91",
            bic="ULSBGB2B",
            email="accounts@cobaltprint.co.uk",
            phone="+44 28 9032 5471",
        ),
        currencies=("GBP",),
        date_format="%Y-%m-%d",
        decimal_comma=False,
        tax_rate=Decimal("0.20"),
        labels={
            "invoice_number": "Invoice number",
            "invoice_date": "Invoice date",
            "total": "Amount due",
            "currency": "Currency",
            "supplier_vat": "VAT reg. no.",
            "iban": "IBAN",
            "email": "Email",
            "phone": "Tel",
        },
        numbering=_serial("", 7),
        catalog=(
            ("Business cards, 500, 400gsm silk", 40, 95),
            ("A5 flyers, 2,000 full colour", 120, 380),
            ("Roller banner 850 x 2000 mm", 90, 180),
            ("Design time (hours)", 45, 75),
            ("Brochure A4, 16 pp, 1,000 copies", 900, 2600),
            ("Delivery", 8, 25),
        ),
        customers=(
            ("Ltd", "LLP", "& Sons Ltd"),
            ("Belfast|BT1 5GS", "Lisburn|BT28 1AG", "London|EC1V 9HX", "Newry|BT34 1DE"),
        ),
        draw=_draw_cobalt,
    ),
    Layout(
        name="dufour-de",
        language="de",
        font="Courier",
        supplier=Supplier(
            name="Dufour Haustechnik GmbH",
            address=("Annenstraße 48", "8020 Graz, Österreich"),
            vat="ATU58731466",
            iban="AT46 2081 5000 4187 2365",
            bic="STSPAT2GXXX",
            email="office@dufour-haustechnik.at",
            phone="+43 316 872 5410",
        ),
        currencies=("EUR",),
        date_format="%d.%m.%Y",
        decimal_comma=True,
        tax_rate=Decimal("0.20"),
        labels={
            "invoice_number": "Beleg-Nr.",
            "invoice_date": "Datum",
            "total": "Summe",
            "supplier_vat": "UID-Nr.:",
            "iban": "IBAN:",
            "email": "E-Mail:",
            "phone": "Tel.:",
        },
        numbering=_year_serial("", 4, "/"),
        catalog=(
            ("Wärmepumpe Luft/Wasser 12 kW", 8000, 14000),
            ("Heizkörper Typ 22, 600 x 1000", 180, 420),
            ("Montage Installateur (Std.)", 68, 95),
            ('Kugelhahn 3/4"', 12, 35),
            ("Thermostatventil", 25, 60),
            ("Druckprobe und Inbetriebnahme", 150, 400),
            ("Fahrtkosten pauschal", 40, 80),
        ),
        customers=(
            ("GmbH", "KG", "OG", "e.U."),
            ("1010 Wien", "8010 Graz", "4020 Linz", "5020 Salzburg", "9020 Klagenfurt"),
        ),
        draw=_draw_dufour,
    ),
    Layout(
        name="elm-en",
        language="en",
        font="Helvetica",
        supplier=Supplier(
            name="Elm Freight Services B.V.",
            address=("Coolsingel 104", "3011 AG Rotterdam", "The Netherlands"),
            vat="NL816403004B01",
            iban="NL45 RABO 0317 2845 96",
            bic="RABONL2U",
            email="finance@elmfreight.nl",
            phone=None,
        ),
        currencies=("EUR", "CHF"),
        date_format="%d %B %Y",
        decimal_comma=False,
        tax_rate=Decimal("0.21"),
        labels={
            "invoice_number": "Invoice no.",
            "invoice_date": "Date",
            "total": "Amount",
            "currency": "Currency",
            "supplier_vat": "VAT:",
            "iban": "IBAN:",
            "email": "E-mail:",
        },
        numbering=_year_serial("ELM-", 5, "-"),
        catalog=(
            ("Sea freight FCL 40' Rotterdam - Shanghai", 1800, 4800),
            ("Customs clearance", 90, 250),
            ("Terminal handling charges", 150, 420),
            ("Road transport, per pallet", 45, 120),
            ("Warehousing, per pallet and week", 4, 12),
            ("Documentation fee", 25, 60),
        ),
        customers=(
            ("AG", "GmbH", "B.V.", "S.A."),
            ("8001 Zürich|Switzerland", "4051 Basel|Switzerland", "3011 Rotterdam|Netherlands"),
        ),
        draw=_draw_elm,
    ),
)
_BY_NAME = {lay.name: lay for lay in LAYOUTS}


def samples(
    layout: str, count: int, seed: int = 0, kind: Kind = "pdf", start: int = 0
) -> Iterator[Sample]:
    """Documents `start`..`start + count - 1` of one layout. The same seed and number give
    the same invoice in both kinds."""
    lay = _BY_NAME[layout]
    for index in range(start, start + count):
        doc = _document(random.Random(f"{seed}/{layout}/{index}"), lay)
        truth, printed = _fields(lay, doc)
        labels = {name: label for name, label in lay.labels.items() if name in printed}
        content, angle = _pdf(lay, doc), 0.0
        if kind == "scan":
            content, angle = _scan(content, random.Random(f"{seed}/{layout}/{index}/scan"))
        yield Sample(
            layout=layout,
            kind=kind,
            filename=f"{layout}-{index:05d}.{'pdf' if kind == 'pdf' else 'png'}",
            media_type="application/pdf" if kind == "pdf" else "image/png",
            content=content,
            truth=truth,
            printed=printed,
            labels=labels,
            angle=angle,
        )


def corpus(per_layout: int = 200, seed: int = 0, scan_share: float = 0.5) -> Iterator[Sample]:
    """`per_layout` documents of every layout, distinct invoices: PDFs first, then scans."""
    scans = round(per_layout * scan_share)
    for lay in LAYOUTS:
        yield from samples(lay.name, per_layout - scans, seed, "pdf")
        yield from samples(lay.name, scans, seed, "scan", start=per_layout - scans)
