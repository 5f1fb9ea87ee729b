"""The key a reference row is asked for by: as written, and, when it reads as an identifier,
as a lookup on a field of that type asks for it."""

import pytest

from bpo_validation.domain.reference import Wanted, wanted_by_key


@pytest.mark.parametrize(
    ("key", "wanted"),
    [
        ("V-1", Wanted("d", "v-1")),
        ("  PO/2024/1 ", Wanted("d", "po/2024/1")),
        ("", Wanted("d", "")),
        ("DE89 3704 0044 0532 0130 00",
         Wanted("d", "de89 3704 0044 0532 0130 00", True, ("de89370400440532013000",))),
        ("DEUTDEFF", Wanted("d", "deutdeff", True, ("deutdeffxxx",))),
        ("DEUTDEFFXXX", Wanted("d", "deutdeffxxx", True, ("deutdeff",))),
        ("978-3-16-148410-0",
         Wanted("d", "978-3-16-148410-0", True, ("9783161484100", "316148410x"))),
        ("EL094259216", Wanted("d", "el094259216", True, ("gr094259216",))),
    ],
)  # fmt: skip
def test_a_key_is_asked_for_as_a_lookup_on_its_identifiers_type_asks(
    key: str, wanted: Wanted
) -> None:
    assert wanted_by_key("d", key) == wanted
