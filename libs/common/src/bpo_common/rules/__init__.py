"""The field rule engine: job specs, checking a record, canonical values. Pure: no I/O.

Intake checks a contractor's submission with `check(spec, data)`; validation compares two
keyings with `equal_after_normalization` / `differing_fields`.

Canonical (normalized) forms, all JSON-ready:
- string: NFC, trimmed, every whitespace run made one space, then upper/lower if `case` says.
- integer: int. Accepts 1000, "1,000", "1 000", "1000.0".
- decimal: a plain decimal string, never a float: "1000.5". With `decimal_places` it has
  exactly that many places ("1000.50") and more non-zero places are an error; without it
  trailing zeros are stripped ("1000.50" -> "1000.5", "3.0" -> "3"). Inputs may group
  thousands ("1,000.50", "1.000,50", "1 000,5"). When both '.' and ',' appear the last is
  the decimal point; otherwise `decimal_separator` (default '.') is the point, and the other
  one is a point too unless it separates groups of three digits (after a lone 0 it is a point:
  "0,500" is 0.5 with '.'). So with
  `decimal_separator: ","` "1.500" is 1500: a canonical value with exactly three decimals
  and under 1000 ("1.500") does not read back the same there; send such values as JSON
  numbers. What the platform made canonical itself it reads with '.' as the point
  (`JobSpec.reading_canonical`). JSON floats are read through repr() (0.1 -> "0.1").
- date: "YYYY-MM-DD". Accepts ISO 8601 dates and each of `date_formats`, first match wins.
- email: email-validator's normalized form (domain lower-cased, local part as typed);
  no DNS lookups.
- phone: E.164 ("+4930123456"); `country` is the region for numbers without "+".
- iban, vat, bic, isin, lei, ean, us_ein: python-stdnum's compact form, upper-case
  ("DE89370400440532013000", "DE136695976"); isbn as ISBN-13; a BIC ending in XXX is
  shortened to its 8 letters. vat takes `country` as the prefix when none is typed.
- enum: the choice as written in the spec, matched ignoring case and extra whitespace.
- boolean: true/false from true/false, yes/no, 1/0 (any case).
- an empty optional field: None (empty means missing, None, or only whitespace).

Comparing two keyings: equal when their canonical forms are equal, ignoring required, limits
and pattern. So strings compare after trimming and collapsing whitespace, case-sensitively
unless the field sets `case: upper/lower` (then case cannot differ): in a double-keyed job
a difference in case is a difference in the stored result. A value that cannot be parsed
equals only an identical value.

`min_length`/`max_length`/`pattern` apply to the canonical value; `pattern` must match the
whole value, in RE2 syntax (linear time; no look-around, no back-references). Identifiers
are read with spaces, dots and dashes removed.

A field may name a `lookup`: its value must be a key of one of the client's reference datasets,
and `checks` compare other fields with that row (numbers within a `tolerance`). That needs
the data, so `check` ignores it; validation applies it when it decides.

A field of type `table` holds rows: `columns` are field specs of the types above, each cell is
checked and normalized as such a field, and a bad cell is reported at its path (`lines[3].qty`,
rows from 0). `min_rows`/`max_rows` bound the rows (at most 500), and `key` names the column that
identifies a row (required and unique in every row). Two keyings of a table compare after their
rows are aligned (`rows.align`): on the key column, else in order with inserted and removed rows
found. Rules speak of a row's cells (`lines.qty`, checked on every row) and of a table's rows
(`sum(lines.amount)`, `count(lines)`).

A field or a table column with `pii: true` holds personal data (`personal.Personal`): its values
are sealed with the job's data key wherever a service keeps them, and masked for whoever may not
see them. Matching keeps the values it reads, so a field or column a `match` rule reads cannot
be pii.

A job's `match` rule (`matching.Match`) matches an invoice's lines against the client's
purchase orders and goods receipts; validation applies it when it decides.

Limits that keep a check cheap: text up to 10,000 characters, numbers up to 100 characters
and 60 digits, rules up to 1,000 characters and 50 levels of nesting.
"""

from bpo_common.rules.check import (
    CheckResponse,
    CheckResult,
    FieldProblem,
    check,
    differing_fields,
)
from bpo_common.rules.expressions import (
    Kind,
    Rule,
    RuleEvaluationError,
    RuleSyntaxError,
    compile_rule,
)
from bpo_common.rules.matching import Match, Tolerance
from bpo_common.rules.names import WORK_TYPE_PATTERN
from bpo_common.rules.personal import MASK, Personal, Reader
from bpo_common.rules.spec import (
    APPLIES_TO,
    IDENTIFIERS,
    MAX_FIELDS,
    Case,
    CrossCheck,
    FieldSpec,
    FieldType,
    JobSpec,
    Lookup,
    rule_kind,
    spec_errors,
    spec_for,
)
from bpo_common.rules.types import (
    InvalidValue,
    Json,
    Typed,
    canonical_form,
    equal_after_normalization,
    is_empty,
    normalize_value,
    other_spellings,
    parse_value,
    to_json,
)

__all__ = [
    "APPLIES_TO",
    "IDENTIFIERS",
    "MASK",
    "MAX_FIELDS",
    "WORK_TYPE_PATTERN",
    "Case",
    "CheckResponse",
    "CheckResult",
    "CrossCheck",
    "FieldProblem",
    "FieldSpec",
    "FieldType",
    "InvalidValue",
    "JobSpec",
    "Json",
    "Kind",
    "Lookup",
    "Match",
    "Personal",
    "Reader",
    "Rule",
    "RuleEvaluationError",
    "RuleSyntaxError",
    "Tolerance",
    "Typed",
    "canonical_form",
    "check",
    "compile_rule",
    "differing_fields",
    "equal_after_normalization",
    "is_empty",
    "normalize_value",
    "other_spellings",
    "parse_value",
    "rule_kind",
    "spec_errors",
    "spec_for",
    "to_json",
]
