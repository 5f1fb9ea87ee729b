"""Layouts on words in memory: which of a client's layouts a document is of."""

from bpo_intake.domain import layouts

COMMON = {"invoice", "total", "date"}
# A supplier's layout seen on 10 documents: its 40 own words and the common ones on each.
VENDOR = {f"vendorword{chr(97 + i)}": 10 for i in range(40)} | dict.fromkeys(COMMON, 10)
# A layout started by a first page read as three words (a poor scan, a fax cover).
TINY = dict.fromkeys(COMMON, 1)


def test_a_document_goes_to_the_layout_it_fits_best_not_to_one_of_a_few_common_words() -> None:
    # A new document of the supplier: 38 of its 40 words, the common ones, a customer's name.
    document = set(list(VENDOR)[:38]) | COMMON | {"customername"}
    for known in (
        [("vendor", VENDOR, 10), ("tiny", TINY, 1)],
        [("tiny", TINY, 1), ("vendor", VENDOR, 10)],
    ):
        assert layouts.match(document, known) == "vendor"
    # Another supplier's document holding the common words is of neither: it starts its own.
    other = {"acme", "rechnung", "summe"} | COMMON
    assert layouts.match(other, [("vendor", VENDOR, 10), ("tiny", TINY, 1)]) is None
    # The small layout is still matched by a page read as nearly the same few words.
    assert layouts.match(set(COMMON), [("vendor", VENDOR, 10), ("tiny", TINY, 1)]) == "tiny"


def test_a_small_layout_does_not_take_the_documents_of_the_suppliers_that_follow() -> None:
    known: list[tuple[int, dict[str, int], int]] = [(0, dict(TINY), 1)]
    members: dict[int, set[str]] = {0: {"tiny"}}
    for n in range(20):
        supplier = f"v{n % 5}"
        seen = COMMON | {f"{supplier}word{chr(97 + i)}" for i in range(15)}
        key = layouts.match(seen, known)
        if key is None:
            key = len(known)
            known.append((key, layouts.observe({}, seen), 1))
        else:
            _, counts, documents = known[key]
            known[key] = (key, layouts.observe(counts, seen), documents + 1)
        members.setdefault(key, set()).add(supplier)
    assert len(known) == 6
    assert known[0] == (0, TINY, 1)
    assert members == {0: {"tiny"}} | {n + 1: {f"v{n}"} for n in range(5)}


def test_a_tie_goes_to_the_layout_of_more_fixed_text_whatever_the_order() -> None:
    words = [f"word{chr(97 + i)}" for i in range(20)]
    # Both know each of the document's words and show all of their fixed text in it; the
    # smaller one saw its last 8 words once only.
    small = {word: 10 for word in words[:12]} | dict.fromkeys(words[12:], 1)
    large = dict.fromkeys(words, 10)
    for known in (
        [("small", small, 10), ("large", large, 10)],
        [("large", large, 10), ("small", small, 10)],
    ):
        assert layouts.match(set(words), known) == "large"
