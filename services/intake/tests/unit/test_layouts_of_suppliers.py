"""Layouts made from scratch, as extraction makes them, of invoices whose lines are many: each
supplier's invoices end in one layout of their own, which learns its fields, however many
words the invoices share with other suppliers' (the labels any invoice prints, the client's
address, a product list)."""

import random
import string
from typing import Any

from bpo_common.rules import JobSpec
from bpo_intake.domain import layouts, suggestions
from bpo_intake.domain.extraction import Page
from bpo_intake.domain.words import Word

SPECS = JobSpec.model_validate(
    {
        "fields": [
            {"name": "invoice_number", "type": "string"},
            {"name": "total", "type": "decimal", "decimal_places": 2, "decimal_separator": ","},
        ]
    }
).fields
# Words every supplier prints, each where its own form has it.
LABELS = [
    *("invoice", "customer", "order", "reference", "page", "payment", "terms", "bank", "iban"),
    *("phone", "email", "thank", "your", "business", "delivery", "address", "account", "tax"),
]
# Printed by every supplier at one place: the client's address in the envelope's window, the
# head of the table of lines.
CLIENT = {"clientcorp": (0.1, 0.15), "logistics": (0.22, 0.15), "hamburg": (0.1, 0.17)}
HEAD = {"description": (0.1, 0.3), "quantity": (0.55, 0.3), "amount": (0.7, 0.3)}
TOP, ROW = 0.33, 0.025


def made_up(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choices(string.ascii_lowercase, k=8)) for _ in range(count)]


# What the suppliers sell: 3 of its words describe a line.
PRODUCTS = made_up(random.Random(7), 400)


def form(seed: int) -> dict[str, tuple[float, float]]:
    """A supplier's form: its own words (name, address, footer) and the common labels at places
    of its header (left of the invoice's number) and footer, the client's address and the
    table's head where all print them."""
    rng = random.Random(seed)
    own = {word: (rng.uniform(0.05, 0.45), rng.uniform(0.03, 0.12)) for word in made_up(rng, 6)}
    own |= {word: (rng.uniform(0.05, 0.8), rng.uniform(0.9, 0.97)) for word in made_up(rng, 6)}
    labels = {word: (rng.uniform(0.05, 0.45), rng.uniform(0.03, 0.25)) for word in LABELS}
    return own | labels | CLIENT | HEAD


def word(text: str, x: float, y: float) -> Word:
    return Word(text, (x, y, x + 0.012 * len(text), y + 0.015))


def invoice(places: dict[str, tuple[float, float]], n: int, rng: random.Random) -> Page:
    """Invoice n of a supplier: its form, 15 to 20 lines, the total under them; scanned a
    little off."""
    dx, dy = rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01)
    texts = [(text, x, y) for text, (x, y) in places.items()]
    texts += [("Invoice", 0.6, 0.05), ("no:", 0.69, 0.05), (f"R-{1000 + n}", 0.74, 0.05)]
    y = TOP
    for _ in range(rng.randint(15, 20)):
        texts += [(text, 0.1 + i * 0.12, y) for i, text in enumerate(rng.sample(PRODUCTS, 3))]
        texts += [(str(rng.randint(1, 9)), 0.55, y), (f"{rng.randint(10, 99)},00", 0.7, y)]
        y += ROW
    texts += [("Total", 0.55, y + 0.03), ("due", 0.6, y + 0.03), (total(n), 0.7, y + 0.03)]
    return Page(f"invoice-{n}", 1, [word(text, x + dx, y + dy) for text, x, y in texts])


def total(n: int) -> str:
    return f"{n + 1}.{n * 37 % 1000:03},50"


def keyed(n: int) -> dict[str, Any]:
    return {"invoice_number": f"R-{1000 + n}", "total": f"{(n + 1) * 1000 + n * 37 % 1000}.50"}


def filed(known: list[layouts.Known], page: Page) -> int:
    """The layout a page is of, counted in, as extraction finds it (a new one if none fits)."""
    seen = layouts.tokens([page])
    key = layouts.match(seen, known)
    if key is None:
        known.append((len(known), *layouts.observe({}, {}, seen), 1))
        return len(known) - 1
    _, counts, places, documents = known[key]
    known[key] = (key, *layouts.observe(counts, places, seen), documents + 1)
    return int(key)


def test_a_suppliers_invoices_of_many_lines_make_one_layout_that_learns_their_fields() -> None:
    rng, places = random.Random(1), form(11)
    known: list[layouts.Known] = []
    models: dict[int, layouts.Model] = {}
    shown: list[dict[str, suggestions.Suggestion]] = []
    for n in range(8):
        page = invoice(places, n, rng)
        key = filed(known, page)
        model = models.setdefault(key, layouts.Model())
        shown.append(suggestions.suggest(SPECS, [page], model.fields))
        layouts.learn(model, SPECS, [page], keyed(n))
    # One layout from the first invoice on, whose fixed text is the supplier's form: none of
    # the lines' words, nor the total's label, printed lower the more lines there are.
    assert [documents for *_, documents in known] == [8]
    (_, counts, _, _) = known[0]
    assert layouts.fixed_text(counts, 8) == set(places)
    # From the second invoice on, its fields are pre-filled from what the layout learned,
    # surer than a hint, and surer with each invoice it learned from.
    assert shown[0] == {}
    for n, later in enumerate(shown[1:], start=1):
        assert {name: s.value for name, s in later.items()} == keyed(n)
        confidences = {round(s.confidence, 3) for s in later.values()}
        assert confidences == {round((n + 1) / (n + 2), 3)}
        assert min(confidences) > suggestions.HINT_CONFIDENCE


def test_suppliers_sharing_the_words_any_invoice_prints_and_products_keep_their_layouts() -> None:
    rng, forms = random.Random(2), [form(20 + supplier) for supplier in range(5)]
    pages = [(n % 5, invoice(forms[n % 5], n, rng)) for n in range(30)]
    # Two suppliers' invoices share more words (labels, the client's address, the table's
    # head, products) than the 12 of each supplier's own, each printing them where it does.
    first, second = layouts.tokens([pages[0][1]]), layouts.tokens([pages[1][1]])
    assert len(first.keys() & second.keys()) >= 25
    known: list[layouts.Known] = []
    suppliers: dict[int, set[int]] = {}
    for supplier, page in pages:
        suppliers.setdefault(filed(known, page), set()).add(supplier)
    assert suppliers == {n: {n} for n in range(5)}
    assert [documents for *_, documents in known] == [6] * 5


def test_a_word_printed_elsewhere_does_not_count_for_the_layout() -> None:
    counts, places = layouts.observe({}, {}, {"brandt": (0.1, 0.05), "widget": (0.1, 0.4)})
    # The same supplier's next page: its name where it was, the product on another line.
    counts, places = layouts.observe(counts, places, {"brandt": (0.11, 0.06), "widget": (0.1, 0.6)})
    assert counts == {"brandt": 2, "widget": 1}
    assert places == {"brandt": [0.105, 0.055], "widget": [0.1, 0.4]}
    # A word kept without a place (by an earlier release) counts where the page prints it.
    assert layouts.observe({"acme": 3}, {}, {"acme": (0.5, 0.5)}) == (
        {"acme": 4},
        {"acme": [0.5, 0.5]},
    )


def test_a_page_whose_words_under_its_lines_moved_down_is_still_of_the_layout() -> None:
    header = {f"header{chr(97 + i)}": (0.1 + i * 0.05, 0.05) for i in range(11)}
    under = {f"under{chr(97 + i)}": (0.1 + i * 0.05, 0.6) for i in range(9)}
    fixed = header | under
    known: list[layouts.Known] = [("supplier", dict.fromkeys(fixed, 10), fixed, 10)]
    # Five lines more: what the invoice prints under them is lower.
    lower = {word: (x, y + 0.125) for word, (x, y) in under.items()}
    assert layouts.match(header | lower, known) == "supplier"
    # Not so if fewer than half of its words are in their places, nor if it prints fewer
    # than 60 % of them.
    assert layouts.match(dict(list(header.items())[:9]) | lower, known) is None
    assert layouts.match(header, known) is None
