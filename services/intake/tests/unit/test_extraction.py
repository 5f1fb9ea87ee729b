"""Extraction on words in memory: candidates and their labels, readings a layout learns,
layouts told apart by their fixed text, wrong values for control items; and the OCR engine
itself, on a real image."""

import io
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from bpo_common.rules import FieldSpec, JobSpec
from bpo_intake.domain import extraction, layouts, suggestions
from bpo_intake.domain.extraction import Page
from bpo_intake.domain.words import Word
from bpo_intake.service.ocr import OcrFailed, OcrNotNow, OcrUnavailable, Tesseract, words_of

LINE = 0.02  # a line's height, as a fraction of the page


def page(*lines: tuple[float, float, str], confidence: float = 1.0) -> Page:
    """Words from (x, y, text) runs: each run's words laid out left to right."""
    words = []
    for x, y, text in lines:
        for word in text.split():
            width = 0.012 * len(word)
            words.append(Word(word, (x, y, x + width, y + LINE), confidence))
            x += width + 0.01
    return Page("doc", 1, words)


def spec(**field: Any) -> FieldSpec:
    return JobSpec.model_validate({"fields": [field]}).fields[0]


def invoice(number: str, day: str, total: str, customer: str = "Jane Roe") -> Page:
    return page(
        (0.05, 0.05, "Brandt GmbH Hauptstrasse 5 Berlin"),
        (0.05, 0.10, f"Customer {customer}"),
        (0.05, 0.20, "Rechnungsnummer:"),
        (0.40, 0.20, number),
        (0.05, 0.25, "Datum"),
        (0.40, 0.25, day),
        (0.05, 0.30, "Netto"),
        (0.40, 0.30, "100,00 EUR"),
        (0.05, 0.35, "Gesamtbetrag"),
        (0.40, 0.35, f"{total} EUR"),
        (0.05, 0.90, "Zahlbar innerhalb von 30 Tagen"),
    )


NUMBER = spec(name="number", type="string", hints={"labels": ["Rechnungsnummer"]})
DAY = spec(name="day", type="date", date_formats=["%d/%m/%Y", "%m/%d/%Y"])
TOTAL = spec(name="total", type="decimal", decimal_places=2)
IBAN = spec(name="iban", type="iban")
SPECS = [NUMBER, DAY, TOTAL]


def test_a_value_is_labelled_by_the_words_before_it_to_its_left_or_above_it() -> None:
    seen = page(
        (0.05, 0.10, "Total: 12.50"),
        (0.05, 0.20, "Net"),
        (0.40, 0.20, "10.00"),
        (0.05, 0.30, "Tax"),
        (0.05, 0.33, "2.50"),
    )
    found = {(c.rule.label, c.rule.relation): c.value for c in extraction.candidates(TOTAL, [seen])}
    assert found[("total", "inline")] == "12.50"
    assert found[("net", "left")] == "10.00"
    assert found[("tax", "above")] == "2.50"


@pytest.mark.parametrize(
    ("printed", "separator", "read"),
    [
        ("Total: $1,234.56", ".", "1234.56"),
        ("Total: 1.234,56€", ",", "1234.56"),
        ("Total: USD1,234.56", ".", "1234.56"),
        ("Total: 1,234.56 EUR", ".", "1234.56"),
        ("Total: €100 200", ".", "100200.00"),
    ],
    ids=["sign-before", "sign-after", "code-before", "code-apart", "grouped-by-a-space"],
)
def test_a_currency_printed_on_an_amount_is_no_part_of_it(
    printed: str, separator: str, read: str
) -> None:
    total = spec(name="total", type="decimal", decimal_places=2, decimal_separator=separator)
    (shown,) = suggestions.suggest([total], [page((0.05, 0.10, printed))], {}).values()
    assert (shown.value, shown.confidence) == (read, suggestions.HINT_CONFIDENCE)


def test_hints_place_a_value_before_anything_is_learned_but_are_not_trusted() -> None:
    found = suggestions.suggest(SPECS, [invoice("R-1001", "03/04/2026", "1.190,00")], {})
    assert set(found) == {"number"}, "no hint for the date or the total: nothing guessed"
    assert found["number"].value == "R-1001"
    assert found["number"].confidence == suggestions.HINT_CONFIDENCE
    ((x0, y0, *_),) = found["number"].boxes
    assert (x0, y0) == (0.4, 0.2)


def test_a_layout_learns_labels_and_readings_and_gains_confidence_with_each_document() -> None:
    model = layouts.Model()
    for n in range(3):
        # German dates: 03/04 is the 3rd of April, which the first format gives too.
        keyed = {"number": f"R-{n}", "day": f"2026-04-0{n + 1}", "total": f"119{n}.00"}
        layouts.learn(model, SPECS, [invoice(f"R-{n}", f"0{n + 1}/04/2026", f"1.19{n},00")], keyed)
    found = suggestions.suggest(SPECS, [invoice("R-9", "05/06/2026", "2.000,50")], model.fields)
    assert {name: s.value for name, s in found.items()} == {
        "number": "R-9",
        "day": "2026-06-05",
        "total": "2000.50",
    }
    assert all(s.confidence == pytest.approx(0.8) for s in found.values())
    # A US layout of the same dates: the other reading wins there.
    us = layouts.Model()
    for n in range(3):
        keyed = {"number": f"R-{n}", "day": f"2026-0{n + 1}-04", "total": f"119{n}.00"}
        layouts.learn(us, SPECS, [invoice(f"R-{n}", f"0{n + 1}/04/2026", f"1.19{n},00")], keyed)
    found = suggestions.suggest(SPECS, [invoice("R-9", "05/06/2026", "2.000,50")], us.fields)
    assert found["day"].value == "2026-05-06"


def test_a_layout_learns_a_value_printed_otherwise_than_the_field_normalizes_it() -> None:
    supplier = spec(name="supplier", type="string", case="upper", hints={"labels": ["Lieferant"]})

    def letter(name: str) -> Page:
        return page((0.05, 0.10, "Lieferant:"), (0.40, 0.10, name))

    model = layouts.Model()
    for name in ("Brandt GmbH", "Acme Corp", "Muster AG"):
        layouts.learn(model, [supplier], [letter(name)], {"supplier": name.upper()})
    (shown,) = suggestions.suggest([supplier], [letter("Weber KG")], model.fields).values()
    assert shown.value == "Weber KG"
    assert shown.confidence == pytest.approx(0.8)
    # Canonical values compare as such: in a ',' field, "1.759" read with '.' is not 1759.
    net = spec(name="net", type="decimal", decimal_separator=",")
    model = layouts.Model()
    for _ in range(3):
        layouts.learn(model, [net], [page((0.05, 0.30, "Netto 1.759"))], {"net": "1759"})
    later = [page((0.05, 0.30, "Netto 2.500"))]
    (shown,) = suggestions.suggest([net], later, model.fields).values()
    assert shown.value == "2500"
    assert shown.confidence == pytest.approx(0.8)


def test_a_rule_that_found_other_values_loses_confidence_and_ocr_doubt_lowers_it() -> None:
    model = layouts.Model()
    for n in range(3):
        pages = [invoice(f"R-{n}", "01/04/2026", "1.000,00")]
        layouts.learn(model, [TOTAL], pages, {"total": "1000.00"})
    layouts.learn(model, [TOTAL], [invoice("R-3", "01/04/2026", "5,00")], {"total": "7.00"})
    # Either decimal separator reads these amounts: a record for each reading.
    records = [r for rule, r in model.fields["total"].items() if rule.label == "gesamtbetrag"]
    assert [(r.hits, r.misses) for r in records] == [(3, 1), (3, 1)]
    assert records[0].confidence() == pytest.approx(4 / 6)
    doubtful = page((0.05, 0.35, "Gesamtbetrag"), (0.40, 0.35, "9,99"), confidence=0.45)
    (shown,) = suggestions.suggest([TOTAL], [doubtful], model.fields).values()
    assert shown.confidence == pytest.approx(4 / 6 * 0.45 / suggestions.OCR_SURE)


def test_layouts_are_told_apart_by_their_fixed_text_not_by_what_varies() -> None:
    first = layouts.tokens([invoice("R-1", "01/04/2026", "1,00", customer="Jane Roe")])
    same = layouts.tokens([invoice("R-2", "02/04/2026", "2,00", customer="Max Mustermann")])
    other = layouts.tokens(
        [page((0.05, 0.05, "Acme Corporation Invoice"), (0.6, 0.2, "Total due 10.00"))]
    )
    known = [("brandt", *layouts.observe({}, {}, first), 1)]
    assert layouts.match(same, known) == "brandt"
    assert layouts.match(other, known) is None


def test_a_table_field_is_never_suggested_nor_learned_and_the_other_fields_still_are() -> None:
    lines = spec(
        name="lines",
        type="table",
        columns=[{"name": "description", "type": "string"}, {"name": "amount", "type": "decimal"}],
    )
    model = layouts.Model()
    for n in range(3):
        keyed = {"number": f"R-{n}", "lines": [{"description": "Netto", "amount": "100.00"}]}
        pages = [invoice(f"R-{n}", "01/04/2026", "1,00")]
        layouts.learn(model, [NUMBER, lines], pages, keyed)
    assert set(model.fields) == {"number"}
    found = suggestions.suggest([lines, NUMBER], [invoice("R-9", "01/04/2026", "1,00")], {})
    assert set(found) == {"number"}
    assert not extraction.extractable(lines)
    assert suggestions.wrong_value(lines, [{"description": "Netto", "amount": "100.00"}]) is None


@pytest.mark.parametrize(
    ("field", "value", "wrong"),
    [
        ({"type": "date"}, "2026-02-28", "2026-03-01"),
        ({"type": "enum", "choices": ["EUR", "USD"]}, "USD", "EUR"),
        ({"type": "decimal", "decimal_places": 2}, "1190.50", "1190.60"),
        ({"type": "integer"}, 17, 27),
        ({"type": "decimal"}, "90", "0"),
        ({"type": "string"}, "R-1001", "R-1011"),
        ({"type": "iban"}, "DE89370400440532013000", None),
        ({"type": "date"}, "9999-12-31", "9999-12-30"),
        ({"type": "string"}, "Area m² 4", "Area m² 5"),
        ({"type": "string"}, "m²", None),
    ],
    ids=[
        "date",
        "enum",
        "decimal",
        "integer",
        "leading-digit",
        "string",
        "identifier",
        "last-day",
        "superscript",
        "no-digit",
    ],
)
def test_a_planted_value_is_plausible_and_wrong(
    field: dict[str, Any], value: str | int, wrong: str | int | None
) -> None:
    assert suggestions.wrong_value(spec(name="f", **field), value) == wrong


async def test_tesseract_reads_words_with_their_boxes_and_a_failure_is_an_error() -> None:
    image = Image.new("L", (1240, 400), 255)
    font = ImageFont.load_default(40)
    ImageDraw.Draw(image).text((100, 150), "Total due 1.234,56", fill=0, font=font)
    out = io.BytesIO()
    image.save(out, "WEBP")
    words = await Tesseract().read(out.getvalue())
    assert [word.text for word in words] == ["Total", "due", "1.234,56"]
    x0, y0, x1, y1 = words[0].box
    assert 0.07 < x0 < x1 < 0.2
    assert 0.3 < y0 < y1 < 0.6
    assert all(0.5 < word.confidence <= 1 for word in words)
    # An engine without the language asked for reads no page: not the page's fault.
    with pytest.raises(OcrUnavailable, match="klingon"):
        await Tesseract(languages="klingon").read(out.getvalue())
    assert words_of("level\tleft\ttop\twidth\theight\tconf\ttext\n", 10, 10) == []
    # The page's own fault, read as a page without words; an engine that is not there is
    # not the page's: the batch fails, to be read again.
    with pytest.raises(OcrFailed, match="does not open"):
        await Tesseract().read(out.getvalue()[:200])
    with pytest.raises(FileNotFoundError):
        await Tesseract(executable="/nowhere/tesseract").read(out.getvalue())


def _tesseract_killed(tmp_path: Path, on_pages_over: int, by: str = "SIGSEGV") -> str:
    """Tesseract, run as it is, but killed (`by`) on any image of more bytes than given."""
    script = tmp_path / f"tesseract-{by}-{on_pages_over}"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, signal, subprocess, sys\n"
        "image = sys.stdin.buffer.read()\n"
        f"if len(image) > {on_pages_over}:\n"
        f"    os.kill(os.getpid(), signal.{by})\n"
        "done = subprocess.run(['tesseract', *sys.argv[1:]], input=image, capture_output=True)\n"
        "sys.stdout.buffer.write(done.stdout)\n"
        "sys.stderr.buffer.write(done.stderr)\n"
        "sys.exit(done.returncode)\n"
    )
    script.chmod(0o755)
    return str(script)


async def test_a_page_that_kills_tesseract_is_its_own_fault_only_if_it_reads_others(
    tmp_path: Path,
) -> None:
    # Read as a page without words, it no longer holds back every page after it.
    image = Image.new("L", (800, 300), 255)
    ImageDraw.Draw(image).text((50, 100), "Invoice 7", fill=0, font=ImageFont.load_default(40))
    out = io.BytesIO()
    image.save(out, "PNG")
    with pytest.raises(OcrFailed, match=r"killed \(signal 11\) on this page; it reads others"):
        await Tesseract(executable=_tesseract_killed(tmp_path, 1000)).read(out.getvalue())
    with pytest.raises(OcrUnavailable, match="killed"):
        await Tesseract(executable=_tesseract_killed(tmp_path, 0)).read(out.getvalue())
    # Killed for memory (SIGKILL) while it reads others: read again later, a few times.
    out_of_memory = Tesseract(executable=_tesseract_killed(tmp_path, 1000, "SIGKILL"))
    with pytest.raises(OcrNotNow, match=r"signal 9\) on this page; it reads others"):
        await out_of_memory.read(out.getvalue())
    # Killed on every page: the machine's fault; every page waits.
    killed_always = Tesseract(executable=_tesseract_killed(tmp_path, 0, "SIGKILL"))
    with pytest.raises(OcrUnavailable, match="signal 9") as caught:
        await killed_always.read(out.getvalue())
    assert "on this page" not in str(caught.value)
    # Out of time: not the page's fault yet either.
    with pytest.raises(OcrNotNow, match=r"took longer than 0\.001 s"):
        await Tesseract(timeout_s=0.001).read(out.getvalue())


def footer(printed: str, number: str, confidence: float = 1.0) -> Page:
    return page(
        (0.05, 0.20, "Rechnungsnummer:"),
        (0.40, 0.20, number),
        (0.05, 0.9, printed),
        confidence=confidence,
    )


def iban_seen_again_and_again(iban: str) -> layouts.Model:
    model = layouts.Model()
    for n in range(3):
        pages = [footer("IBAN DE89 3704 0044 0532 0130 00", f"R-{n}")]
        layouts.learn(model, [IBAN], pages, {"iban": iban})
    return model


def test_a_value_seen_again_and_again_is_suggested_through_an_ocr_slip() -> None:
    iban = "DE89370400440532013000"
    model = iban_seen_again_and_again(iban)
    # OCR read an O for a 0: no IBAN on the page passes its checksum, the one it keeps seeing
    # is still there.
    slipped = [footer("IBAN DE89 37O4 0044 0532 0130 00", "R-9")]
    (shown,) = suggestions.suggest([IBAN], slipped, model.fields).values()
    assert shown.value == iban
    assert shown.confidence == pytest.approx(0.8)
    # Another account printed there: not the old one.
    moved = [footer("IBAN GB82 WEST 1234 5698 7654 32", "R-10")]
    (other,) = suggestions.suggest([IBAN], moved, model.fields).values()
    assert other.value == "GB82WEST12345698765432"


def test_ocr_doubt_lowers_a_value_seen_again_and_again_as_it_does_a_value_read() -> None:
    iban = "DE89370400440532013000"
    model = iban_seen_again_and_again(iban)
    doubted = [footer("IBAN DE89 37O4 0044 0532 0130 00", "R-9", confidence=0.45)]
    (shown,) = suggestions.suggest([IBAN], doubted, model.fields).values()
    assert shown.value == iban
    assert shown.confidence == pytest.approx(0.8 * 0.45 / suggestions.OCR_SURE)
    # Its label doubted, the value read with no doubt (a slip aside): its own words count.
    clean = footer("IBAN DE89 37O4 0044 0532 0130 00", "R-9")
    label = [replace(word, confidence=0.3) if word.text == "IBAN" else word for word in clean.words]
    (shown,) = suggestions.suggest([IBAN], [replace(clean, words=label)], model.fields).values()
    assert shown.confidence == pytest.approx(0.8)
    # Its last group slipped and doubted: that doubt counts, the word being the value's.
    slipped = footer("IBAN DE89 3704 0044 0532 0130 0O", "R-9")
    doubt = [replace(word, confidence=0.2) if word.text == "0O" else word for word in slipped.words]
    (shown,) = suggestions.suggest([IBAN], [replace(slipped, words=doubt)], model.fields).values()
    assert shown.confidence == pytest.approx(0.8 * 0.2 / suggestions.OCR_SURE)


def test_an_amount_seen_again_and_again_is_read_afresh_on_each_page() -> None:
    def totalled(amount: str, label: str = "Gesamtbetrag", confidence: float = 1.0) -> Page:
        return page((0.05, 0.35, label), (0.40, 0.35, f"{amount} EUR"), confidence=confidence)

    model = layouts.Model()
    for _ in range(3):
        layouts.learn(model, [TOTAL], [totalled("100,00")], {"total": "100.00"})
    # 1.000,00 holds every character of 100.00: read with doubt, it is still what is shown.
    doubted = [totalled("1.000,00", confidence=0.8)]
    (shown,) = suggestions.suggest([TOTAL], doubted, model.fields).values()
    assert shown.value == "1000.00"
    assert shown.confidence == pytest.approx(0.8 * 0.8 / suggestions.OCR_SURE)
    # Its label lost to OCR: nothing is suggested, rather than the amount seen before, nor
    # by a layout whose record holds it (kept by an earlier release).
    unlabelled = [totalled("1.000,00", "Gesamtbetr4g")]
    assert suggestions.suggest([TOTAL], unlabelled, model.fields) == {}
    kept = {"total": {suggestions.constant_rule("100.00"): suggestions.Record(3, 0, 0.46, 0.36)}}
    assert suggestions.suggest([TOTAL], unlabelled, kept) == {}
