"""A control item's planted wrong pre-fill: a field drawn at random, shown as the machine's
real suggestion of it would be (its place, its boxes, its confidence)."""

import json
from dataclasses import replace

from bpo_common.rules import FieldSpec
from bpo_intake.domain import suggestions
from bpo_intake.domain.extraction import Page
from bpo_intake.domain.words import Word

NUMBER = FieldSpec.model_validate(
    {"name": "invoice_number", "type": "string", "hints": {"labels": ["Invoice no"]}}
)
DAY = FieldSpec(name="invoice_date", type="date", date_formats=["%d.%m.%Y"])
TOTAL = FieldSpec.model_validate(
    {
        "name": "total",
        "type": "decimal",
        "decimal_places": 2,
        "decimal_separator": ",",
        "hints": {"labels": ["Total due"]},
    }
)
SPECS = [NUMBER, DAY, TOTAL]
GOLDEN = {"invoice_number": "R-2024-17", "invoice_date": "2024-03-01", "total": "119.00"}
PAGE = Page(
    "doc",
    1,
    [
        Word("Invoice", (0.10, 0.10, 0.16, 0.12)),
        Word("no:", (0.165, 0.10, 0.19, 0.12)),
        Word("R-2024-17", (0.20, 0.10, 0.28, 0.12)),
        Word("Date:", (0.10, 0.20, 0.15, 0.22)),
        Word("01.03.2024", (0.16, 0.20, 0.24, 0.22)),
        Word("Total", (0.10, 0.50, 0.15, 0.52)),
        Word("due:", (0.155, 0.50, 0.19, 0.52)),
        Word("119,00", (0.60, 0.50, 0.66, 0.52), 0.81),
    ],
)


def test_the_planted_field_is_drawn_among_those_suggested_and_looks_as_their_suggestion() -> None:
    found = suggestions.suggest(SPECS, [PAGE], {})
    assert set(found) == {"invoice_number", "total"}
    wrong = {"invoice_number": "R-2024-27", "total": "119.10"}
    drawn = set()
    for _ in range(200):
        planted = suggestions.planted(SPECS, GOLDEN, found, [PAGE])
        assert planted is not None
        name, shown = planted
        drawn.add(name)
        # Nothing but the value tells it from the machine's own: boxes, place, confidence.
        assert shown == replace(found[name], value=wrong[name])
        assert shown.boxes
    assert drawn == {"invoice_number", "total"}


def test_only_a_suggested_field_is_planted_when_there_is_one() -> None:
    # The snippet's item: extraction suggested the total only, with its boxes, at 0.8.
    total = suggestions.Suggestion("119.00", 0.8, "doc", 1, [(0.6, 0.5, 0.66, 0.52)])
    for _ in range(50):
        planted = suggestions.planted(SPECS, GOLDEN, {"total": total}, [PAGE])
        assert planted == ("total", replace(total, value="119.10"))


def test_failing_a_suggested_field_one_printed_is_planted_as_sure_as_another_suggestion() -> None:
    # The machine suggested an identifier only, which has no plausible wrong value.
    iban = FieldSpec(name="iban", type="iban")
    account = suggestions.Suggestion(
        "DE89370400440532013000", 0.75, "doc", 1, [(0.1, 0.9, 0.4, 0.92)]
    )
    golden = {"invoice_date": "2024-03-01", "iban": "DE89370400440532013000"}
    planted = suggestions.planted([DAY, iban], golden, {"iban": account}, [PAGE])
    assert planted == (
        "invoice_date",
        suggestions.Suggestion("2024-03-02", 0.75, "doc", 1, [(0.16, 0.20, 0.24, 0.22)]),
    )
    # An item the machine suggested nothing for gets no lone pre-fill.
    assert suggestions.planted(SPECS, GOLDEN, {}, [PAGE]) is None


def test_a_planted_value_is_of_the_type_the_machines_suggestion_of_its_field_is() -> None:
    # A keyer's own tooling reading a claim's JSON would tell a quantity planted as text.
    quantity = FieldSpec.model_validate(
        {"name": "quantity", "type": "integer", "hints": {"labels": ["Quantity"]}}
    )
    currency = FieldSpec(name="currency", type="enum", choices=["EUR", "USD"])
    day = FieldSpec.model_validate(
        {
            "name": "invoice_date",
            "type": "date",
            "date_formats": ["%d.%m.%Y"],
            "hints": {"labels": ["Date"]},
        }
    )
    specs = [NUMBER, day, TOTAL, quantity, currency]
    words = [
        *PAGE.words,
        Word("Quantity:", (0.10, 0.30, 0.17, 0.32)),
        Word("17", (0.18, 0.30, 0.20, 0.32)),
        Word("Currency:", (0.10, 0.40, 0.17, 0.42)),
        Word("EUR", (0.18, 0.40, 0.21, 0.42)),
    ]
    page = Page("doc", 1, words)
    found = suggestions.suggest(specs, [page], {})
    golden = {name: suggestion.value for name, suggestion in found.items()}
    assert golden == GOLDEN | {"quantity": 17, "currency": "EUR"}
    planted = {}
    for name, real in found.items():
        drawn = suggestions.planted(specs, golden, {name: real}, [page])
        assert drawn is not None
        planted[name] = drawn[1].value
        assert type(drawn[1].value) is type(real.value), name
    assert planted == {
        "invoice_number": "R-2024-27",
        "invoice_date": "2024-03-02",
        "total": "119.10",
        "quantity": 27,
        "currency": "USD",
    }
    assert json.dumps(planted["quantity"]) == "27"
