"""Layouts on words in memory: which of a client's layouts a document is of, what a layout
remembers as a field's constant, and how it reads dates and amounts in each of the client's
jobs, whatever order a job lists its readings in."""

import zlib
from collections.abc import Iterable

import pytest

from bpo_common.rules import FieldSpec
from bpo_intake.domain import layouts, suggestions
from bpo_intake.domain.extraction import Page
from bpo_intake.domain.layouts import Place
from bpo_intake.domain.words import Word

COMMON = {"invoice", "total", "date"}
# A supplier's layout seen on 10 documents: its 40 own words and the common ones on each.
VENDOR = {f"vendorword{chr(97 + i)}": 10 for i in range(40)} | dict.fromkeys(COMMON, 10)
# A layout started by a first page read as three words (a poor scan, a fax cover).
TINY = dict.fromkeys(COMMON, 1)


def placed(words: Iterable[str]) -> dict[str, Place]:
    """Each word at a place of its own, the same on every page that prints it."""
    return {word: (zlib.crc32(word.encode()) % 997 / 997, len(word) / 20) for word in words}


def test_a_document_goes_to_the_layout_it_fits_best_not_to_one_of_a_few_common_words() -> None:
    # A new document of the supplier: 38 of its 40 words, the common ones, a customer's name.
    document = set(list(VENDOR)[:38]) | COMMON | {"customername"}
    vendor, tiny = ("vendor", VENDOR, placed(VENDOR), 10), ("tiny", TINY, placed(TINY), 1)
    for known in ([vendor, tiny], [tiny, vendor]):
        assert layouts.match(placed(document), known) == "vendor"
    # Another supplier's document holding the common words is of neither: it starts its own.
    other = {"acme", "rechnung", "summe"} | COMMON
    assert layouts.match(placed(other), [vendor, tiny]) is None
    # The small layout is still matched by a page read as nearly the same few words.
    assert layouts.match(placed(COMMON), [vendor, tiny]) == "tiny"


def test_a_suppliers_longer_invoices_stay_of_its_layout_whatever_their_lines() -> None:
    # Each invoice of the supplier: its 40 words, the common ones, and 60 words of its own
    # lines (products, customers) that no other invoice printed.
    for n in range(5):
        lines = {f"line{n}word{i}" for i in range(60)}
        known = [("vendor", VENDOR, placed(VENDOR), 10)]
        assert layouts.match(placed(set(VENDOR) | lines), known) == "vendor"


def test_a_small_layout_does_not_take_the_documents_of_the_suppliers_that_follow() -> None:
    known: list[layouts.Known] = [(0, dict(TINY), placed(TINY), 1)]
    members: dict[int, set[str]] = {0: {"tiny"}}
    for n in range(20):
        supplier = f"v{n % 5}"
        seen = placed(COMMON | {f"{supplier}word{chr(97 + i)}" for i in range(15)})
        key = layouts.match(seen, known)
        if key is None:
            key = len(known)
            known.append((key, *layouts.observe({}, {}, seen), 1))
        else:
            _, counts, places, documents = known[key]
            known[key] = (key, *layouts.observe(counts, places, seen), documents + 1)
        members.setdefault(key, set()).add(supplier)
    assert len(known) == 6
    assert known[0] == (0, TINY, placed(TINY), 1)
    assert members == {0: {"tiny"}} | {n + 1: {f"v{n}"} for n in range(5)}


def test_a_tie_goes_to_the_layout_of_more_fixed_text_whatever_the_order() -> None:
    words = [f"word{chr(97 + i)}" for i in range(20)]
    # Both know each of the document's words and show all of their fixed text in it; the
    # smaller one saw its last 8 words once only.
    small = {word: 10 for word in words[:12]} | dict.fromkeys(words[12:], 1)
    large = dict.fromkeys(words, 10)
    everywhere = placed(words)
    for known in (
        [("small", small, everywhere, 10), ("large", large, everywhere, 10)],
        [("large", large, everywhere, 10), ("small", small, everywhere, 10)],
    ):
        assert layouts.match(everywhere, known) == "large"


NUMBER = FieldSpec(name="invoice_number", type="string")


def numbered(label: str, number: str) -> list[Page]:
    words = [
        Word(label, (0.10, 0.10, 0.17, 0.12), 0.95),
        Word("No:", (0.175, 0.10, 0.20, 0.12), 0.95),
        Word(number, (0.21, 0.10, 0.33, 0.12), 0.95),
        Word("Total:", (0.10, 0.50, 0.15, 0.52), 0.95),
        Word("100.00", (0.16, 0.50, 0.22, 0.52), 0.95),
    ]
    return [Page("doc", 1, words)]


def test_one_documents_value_is_not_suggested_on_the_next_as_a_constant() -> None:
    model = layouts.learn(
        layouts.Model(),
        [NUMBER],
        numbered("Invoice", "INV-2024-000123"),
        {"invoice_number": "INV-2024-000123"},
    )
    found = suggestions.suggest([NUMBER], numbered("Invoice", "INV-2024-000124"), model.fields)
    assert (found["invoice_number"].value, round(found["invoice_number"].confidence, 3)) == (
        "INV-2024-000124",
        0.667,
    )
    # The label slipped: what the rule read is not there, nor is the last document's number.
    slipped = suggestions.suggest([NUMBER], numbered("lnvoice", "INV-2024-000124"), model.fields)
    assert slipped == {}


def test_a_value_accepted_on_two_documents_in_a_row_is_a_constant() -> None:
    model = layouts.Model()
    for _ in range(2):
        pages = numbered("Invoice", "INV-2024-000123")
        layouts.learn(model, [NUMBER], pages, {"invoice_number": "INV-2024-000123"})
    (shown,) = suggestions.suggest(
        [NUMBER], numbered("lnvoice", "INV-2024-00O123"), model.fields
    ).values()
    assert (shown.value, shown.confidence) == ("INV-2024-000123", 0.75)
    # Another value accepted ends the run: it has to be seen twice again.
    layouts.learn(
        model,
        [NUMBER],
        numbered("Invoice", "INV-2024-000777"),
        {"invoice_number": "INV-2024-000777"},
    )
    assert suggestions.suggest([NUMBER], numbered("lnvoice", "INV-2024-00O777"), model.fields) == {}


IBAN = FieldSpec(name="iban", type="iban")
OLD_ACCOUNT, NEW_ACCOUNT = "DE89 3704 0044 0532 0130 00", "DE08 3704 0044 0532 0131 00"


def paid_to(account: str, far: bool = False, label: str = "IBAN:") -> list[Page]:
    """The label and the account on one line: close together, or far enough apart to be two
    segments (as OCR cuts a line one way or another from scan to scan)."""
    x = 0.30 if far else 0.16
    groups = [
        Word(group, (x + i * 0.045, 0.90, x + i * 0.045 + 0.04, 0.92))
        for i, group in enumerate(account.split())
    ]
    return [Page("doc", 1, [Word(label, (0.10, 0.90, 0.15, 0.92)), *groups])]


def test_a_remembered_account_gives_way_to_another_valid_one_printed_in_its_place() -> None:
    model = layouts.Model()
    for far in (False, True, False, True):
        pages = paid_to(OLD_ACCOUNT, far)
        layouts.learn(model, [IBAN], pages, {"iban": OLD_ACCOUNT.replace(" ", "")})
    # The constant was seen on 4 documents, each rule on 2: it is the surer of them.
    assert sorted(r.hits for r in model.fields["iban"].values()) == [2, 2, 4]
    # The supplier's new account: the page's, however the line was cut, not the old one.
    for far in (False, True):
        (shown,) = suggestions.suggest([IBAN], paid_to(NEW_ACCOUNT, far), model.fields).values()
        assert (shown.value, shown.confidence) == ("DE08370400440532013100", 0.75)
    # Its label misread, no rule reads it: still not the old account.
    misread = paid_to(NEW_ACCOUNT, label="lBAN:")
    assert suggestions.suggest([IBAN], misread, model.fields) == {}
    # The old account with a slipped digit (no IBAN passes its checksum there): remembered.
    slipped = paid_to("DE89 37O4 0044 0532 0130 00", label="lBAN:")
    (shown,) = suggestions.suggest([IBAN], slipped, model.fields).values()
    assert (shown.value, round(shown.confidence, 3)) == ("DE89370400440532013000", 0.833)


@pytest.mark.parametrize(
    ("spec", "label", "printed", "slipped", "remembered"),
    [
        (
            FieldSpec(name="email", type="email"),
            "Email:",
            "billing@brandt-gmbh.de",
            "bi11ing@brandt-gmbh.de",
            "billing@brandt-gmbh.de",
        ),
        (
            FieldSpec(name="phone", type="phone"),
            "Tel:",
            "+49 30 1234 5678",
            "+49 30 1284 5678",
            "+493012345678",
        ),
        (FieldSpec(name="bic", type="bic"), "BIC:", "COBADEFFXXX", "COBADEFF0XX", "COBADEFF"),
    ],
)
def test_a_remembered_value_without_a_checksum_puts_a_slip_of_one_character_right(
    spec: FieldSpec, label: str, printed: str, slipped: str, remembered: str
) -> None:
    model = layouts.Model()
    for far in (False, True) * 5:
        layouts.learn(model, [spec], paid_to(printed, far, label), {spec.name: remembered})
    # The slip still reads as an email, a phone number, a BIC: the remembered value is shown.
    (shown,) = suggestions.suggest([spec], paid_to(slipped, label=label), model.fields).values()
    assert (shown.value, round(shown.confidence, 3)) == (remembered, 0.917)


@pytest.mark.parametrize(
    ("spec", "label", "old", "new", "keyed"),
    [
        (FieldSpec(name="email", type="email"), "Email:", "ap@acme.com", "ap2@acme.com",
         "ap2@acme.com"),
        (FieldSpec(name="phone", type="phone"), "Tel:", "+49 30 1234 5678", "+49 30 1284 5678",
         "+493012845678"),
    ],
)  # fmt: skip
def test_a_new_value_like_the_remembered_one_is_pre_filled_once_a_keyer_put_it_right(
    spec: FieldSpec, label: str, old: str, new: str, keyed: str
) -> None:
    model = layouts.Model()
    for far in (False, True) * 5:
        layouts.learn(model, [spec], paid_to(old, far, label), {spec.name: old.replace(" ", "")})
    # The supplier's new address or number, one character off the old one, as a slip would
    # be: the first document of it is pre-filled with the remembered one.
    (shown,) = suggestions.suggest([spec], paid_to(new, label=label), model.fields).values()
    assert shown.value == old.replace(" ", "")
    # A keyer put it right: from the next document on, the new one is pre-filled.
    layouts.learn(model, [spec], paid_to(new, label=label), {spec.name: keyed})
    for far in (True, False, True):
        (shown,) = suggestions.suggest([spec], paid_to(new, far, label), model.fields).values()
        assert shown.value == keyed
        assert shown.confidence >= 0.8  # the default suggestion threshold
        layouts.learn(model, [spec], paid_to(new, far, label), {spec.name: keyed})


def dated(value: str) -> list[Page]:
    words = [Word("Date:", (0.10, 0.10, 0.15, 0.12)), Word(value, (0.16, 0.10, 0.24, 0.12))]
    return [Page("doc", 1, words)]


def test_a_layout_reads_a_date_as_it_learned_in_another_job_of_the_client() -> None:
    def day(*formats: str) -> FieldSpec:
        return FieldSpec(name="invoice_date", type="date", date_formats=list(formats))

    model = layouts.Model()
    for printed in ("13/04/2024", "21/05/2024", "30/06/2024"):
        d, m, y = printed.split("/")
        layouts.learn(
            model, [day("%d/%m/%Y", "%m/%d/%Y")], dated(printed), {"invoice_date": f"{y}-{m}-{d}"}
        )
    for formats in (("%d/%m/%Y", "%m/%d/%Y"), ("%m/%d/%Y", "%d/%m/%Y")):
        (shown,) = suggestions.suggest([day(*formats)], dated("03/04/2024"), model.fields).values()
        assert (shown.value, shown.confidence) == ("2024-04-03", 0.8)
    # A job that does not read day first finds nothing the layout learned.
    assert suggestions.suggest([day("%m/%d/%Y")], dated("03/04/2024"), model.fields) == {}
    # What is stored names the format, which reads back as it was.
    assert layouts.Model.from_json(model.as_json()) == model
    assert [row[2] for row in model.as_json()["invoice_date"]] == ["%d/%m/%Y"]


def test_a_layout_reads_an_amount_with_the_separator_it_learned_in_another_job() -> None:
    def net(separator: str) -> FieldSpec:
        return FieldSpec(name="net", type="decimal", decimal_separator=separator)

    def netto(amount: str) -> list[Page]:
        words = [Word("Netto", (0.10, 0.30, 0.16, 0.32)), Word(amount, (0.17, 0.30, 0.23, 0.32))]
        return [Page("doc", 1, words)]

    model = layouts.Model()
    for _ in range(3):
        layouts.learn(model, [net(",")], netto("1.759"), {"net": "1759"})
    (shown,) = suggestions.suggest([net(".")], netto("2.500"), model.fields).values()
    assert (shown.value, shown.confidence) == ("2500", 0.8)


def test_rules_an_earlier_release_kept_by_the_place_of_their_reading_are_left_out() -> None:
    stored = {
        "invoice_date": [
            ["date", "inline", 0, 3, 0, 0.2, 0.11],
            ["date", "inline", "%d/%m/%Y", 2, 0, 0.2, 0.11],
        ]
    }
    (rule,) = layouts.Model.from_json(stored).fields["invoice_date"]
    assert rule.reading == "%d/%m/%Y"
