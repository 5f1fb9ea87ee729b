"""Cross-field rules: a small expression language read with `ast`, never run as Python.

A rule is parsed with `ast.parse(mode="eval")` and walked twice: once when the job spec is
validated (allowed syntax, known names, and the kind of every sub-expression), and once per
check on the field values. Nothing is compiled to a code object, so there is no way out to
Python: only the node types matched below exist in the language.

Kinds: numbers (integer and decimal fields, as `Decimal`), dates, text and booleans.
Allowed: literals, field names, `+ - * /`, unary `-`/`+`, comparisons (chained too),
`and`/`or`/`not`, `x in (a, b, ...)`, and the functions abs, round, min, max, len and
date("YYYY-MM-DD"). Dates support `date - date` (days) and `date ± days`.

Tables: `lines.qty` is the cell of column qty in a row of table field `lines`; a rule that
names cells outside an aggregate is checked on every row of that table
(`lines.qty * lines.unit_price == lines.amount`). `sum(...)` adds a number over every row
(`sum(lines.amount) == net`, `sum(lines.qty * lines.unit_price)`), `count(lines)` counts rows.
"""

import ast
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum
from typing import Any

MAX_RULE_LENGTH = 1000
MAX_RULE_DEPTH = 50
# The sums of the record being checked, by the sum() they are of (see sums_kept).
_SUMS: ContextVar[dict[int, "Decimal | Exception"] | None] = ContextVar("sums", default=None)

# Our own context, so a caller's decimal settings never change a rule's outcome; exact for
# the sums and products of values of as many digits as a field takes (60, rules.types).
_CONTEXT = Context(
    prec=130, rounding=ROUND_HALF_EVEN, traps=[DivisionByZero, InvalidOperation, Overflow]
)


class Kind(StrEnum):
    NUMBER = "number"
    DATE = "date"
    TEXT = "text"
    BOOLEAN = "boolean"
    # A table field as a whole: only count() takes it.
    TABLE = "table"


Value = Decimal | date | str | bool


class RuleSyntaxError(ValueError):
    """The rule is not part of the language, or mixes kinds that cannot go together."""


class RuleEvaluationError(ValueError):
    """The rule is well formed but these values cannot be computed (e.g. division by zero)."""


@dataclass(frozen=True)
class Rule:
    source: str
    # What the rule reads, in order of first use: fields, `table.column` cells of the row it
    # is checked on, and tables that sum() or count() reads whole.
    names: tuple[str, ...]
    tree: ast.expr = field(compare=False, repr=False)  # ast nodes compare by identity
    # The table on each of whose rows the rule is checked, when it names cells.
    rows: str | None = None

    def evaluate(self, values: Mapping[str, Any]) -> bool:
        """True when the rule holds; every name in `names` must have a value: a field's typed
        value, a cell's (`lines.qty`), or a table's rows (a list of column -> value)."""
        try:
            with localcontext(_CONTEXT):
                result = _eval(self.tree, values)
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise RuleEvaluationError(_explain(exc)) from exc
        if not isinstance(result, bool):
            raise RuleEvaluationError("the rule does not give true or false")
        return result


def compile_rule(source: str, kinds: Mapping[str, Kind]) -> Rule:
    """Parse and check a rule against the job's field kinds; raise RuleSyntaxError."""
    if len(source) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(f"longer than {MAX_RULE_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise RuleSyntaxError(f"not a valid expression: {exc.msg}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise RuleSyntaxError("not a valid expression") from exc
    if _depth(tree) > MAX_RULE_DEPTH:
        raise RuleSyntaxError(f"nested more than {MAX_RULE_DEPTH} levels deep")
    if _kind(tree, kinds) is not Kind.BOOLEAN:
        raise RuleSyntaxError("must be a condition that is true or false, e.g. a comparison")
    return Rule(source=source, names=_field_names(tree), tree=tree, rows=_row_scope(tree))


def _depth(tree: ast.AST) -> int:
    # Without a stack of our own: the checks below recurse, and a deep tree would overflow it.
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _field_names(tree: ast.expr) -> tuple[str, ...]:
    # Function names are ast.Name nodes too, and a field may be called `date` or `max`.
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    tables = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    whole = {id(n) for call in _aggregates(tree) for n in ast.walk(call)}
    named: list[tuple[int, int, str]] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            text = n.value.id if id(n) in whole else f"{n.value.id}.{n.attr}"
            named.append((n.lineno, n.col_offset, text))
        elif isinstance(n, ast.Name) and id(n) not in functions and id(n) not in tables:
            named.append((n.lineno, n.col_offset, n.id))
    return tuple(dict.fromkeys(text for _, _, text in sorted(named)))


def _aggregates(tree: ast.AST) -> list[ast.Call]:
    """The sum() and count() calls of a rule: they read a table's rows whole."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _AGGREGATES
    ]


def _cell_tables(tree: ast.AST) -> set[str]:
    return {
        node.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }


def _row_scope(tree: ast.expr) -> str | None:
    """The table on whose rows a rule is checked: the one whose cells it names outside sum()."""
    aggregates = _aggregates(tree)
    inside = {id(n) for call in aggregates for n in ast.walk(call)}
    for call in aggregates:
        if any(
            id(other) in {id(n) for n in ast.walk(call)}
            for other in aggregates
            if other is not call
        ):
            raise RuleSyntaxError(f"{_name(call)}() cannot hold another sum() or count()")
        tables = _cell_tables(call)
        if _name(call) == "sum" and not tables:
            raise RuleSyntaxError("sum() adds a column over a table's rows, e.g. sum(lines.amount)")
        if len(tables) > 1:
            raise RuleSyntaxError(f"sum() adds the rows of one table, not of {_listed(tables)}")
    outside = {
        node.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and id(node) not in inside
    }
    if len(outside) > 1:
        raise RuleSyntaxError(
            f"a rule is checked on the rows of one table, not of {_listed(outside)}"
        )
    return outside.pop() if outside else None


def _name(call: ast.Call) -> str:
    assert isinstance(call.func, ast.Name)
    return call.func.id


def _listed(tables: set[str]) -> str:
    return " and ".join(sorted(tables))


_ARITHMETIC: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_EQUALITY = (ast.Eq, ast.NotEq)
_MEMBERSHIP = (ast.In, ast.NotIn)
_AGGREGATES = ("sum", "count")
_FUNCTIONS = ("abs", "round", "min", "max", "len", "date", *_AGGREGATES)
_FORBIDDEN_HINTS: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Subscript: "indexing ('[...]') is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment (':=') is not allowed",
    ast.IfExp: "'... if ... else ...' is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
}


def _kind(node: ast.expr, kinds: Mapping[str, Kind]) -> Kind:
    """The kind of `node`, or RuleSyntaxError saying what is not allowed."""
    match node:
        case ast.Constant(value=bool()):
            return Kind.BOOLEAN
        case ast.Constant(value=int() | float() as number):
            if not Decimal(repr(number)).is_finite():
                raise RuleSyntaxError(f"{number!r} is not a finite number")
            return Kind.NUMBER
        case ast.Constant(value=str()):
            return Kind.TEXT
        case ast.Constant():
            raise RuleSyntaxError("only numbers, text and True/False can be written as values")
        case ast.Name(id=name):
            if name not in kinds:
                raise RuleSyntaxError(f"unknown name '{name}': not a field of this job")
            return kinds[name]
        case ast.Attribute(value=ast.Name(id=table), attr=column) if f"{table}.{column}" in kinds:
            return kinds[f"{table}.{column}"]
        case ast.Attribute(value=ast.Name(id=table), attr=column) if kinds.get(table) is Kind.TABLE:
            raise RuleSyntaxError(f"{table} has no column {column}")
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            _expect(_kind(operand, kinds), {Kind.BOOLEAN}, "'not'")
            return Kind.BOOLEAN
        case ast.UnaryOp(op=ast.USub() | ast.UAdd(), operand=operand):
            _expect(_kind(operand, kinds), {Kind.NUMBER}, "a sign")
            return Kind.NUMBER
        case ast.BoolOp(values=operands):
            for operand in operands:
                _expect(_kind(operand, kinds), {Kind.BOOLEAN}, "'and'/'or'")
            return Kind.BOOLEAN
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _ARITHMETIC:
            return _arithmetic_kind(_ARITHMETIC[type(op)], _kind(left, kinds), _kind(right, kinds))
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            for cmp, a, b in zip(ops, [left, *comparators[:-1]], comparators, strict=True):
                _check_comparison(cmp, a, b, kinds)
            return Kind.BOOLEAN
        case ast.Call(func=ast.Name(id=function), args=args, keywords=keywords) if (
            function in _FUNCTIONS
        ):
            if keywords:
                raise RuleSyntaxError("keyword arguments are not allowed")
            return _call_kind(function, args, kinds)
        case ast.BinOp():
            raise RuleSyntaxError("only the operators + - * / are allowed")
        case ast.Call(func=ast.Name()):
            raise RuleSyntaxError(f"only these functions may be called: {', '.join(_FUNCTIONS)}")
        case ast.Call(func=callee):
            _kind(callee, kinds)  # says what is wrong with it, e.g. attribute access
            raise RuleSyntaxError("only named functions may be called")
        case ast.Tuple() | ast.List() | ast.Set():
            raise RuleSyntaxError("a list of values may only follow 'in'")
    hint = _FORBIDDEN_HINTS.get(type(node), f"{type(node).__name__} is not allowed")
    raise RuleSyntaxError(hint)


def _expect(kind: Kind, allowed: set[Kind], what: str) -> None:
    if kind not in allowed:
        wanted = " or ".join(sorted(allowed))
        raise RuleSyntaxError(f"{what} needs a {wanted}, not a {kind}")


def _arithmetic_kind(symbol: str, left: Kind, right: Kind) -> Kind:
    if left is Kind.NUMBER and right is Kind.NUMBER:
        return Kind.NUMBER
    if symbol == "-" and left is Kind.DATE and right is Kind.DATE:
        return Kind.NUMBER
    if symbol in "+-" and left is Kind.DATE and right is Kind.NUMBER:
        return Kind.DATE
    raise RuleSyntaxError(f"cannot compute {left} {symbol} {right}")


def _check_comparison(op: ast.cmpop, a: ast.expr, b: ast.expr, kinds: Mapping[str, Kind]) -> None:
    left = _kind(a, kinds)
    if isinstance(op, _MEMBERSHIP):
        if not isinstance(b, ast.Tuple | ast.List | ast.Set) or not b.elts:
            raise RuleSyntaxError("'in' needs a list of values in parentheses, e.g. x in (1, 2)")
        others = [_kind(element, kinds) for element in b.elts]
    elif isinstance(op, _EQUALITY + _ORDERING):
        others = [_kind(b, kinds)]
    else:  # `is`, `is not`
        raise RuleSyntaxError("'is' is not allowed; use == or !=")
    if Kind.TABLE in (left, *others):
        raise RuleSyntaxError("a table is compared by its cells, sum() or count(), not whole")
    for right in others:
        if right is not left:
            raise RuleSyntaxError(f"cannot compare a {left} with a {right}")
    if isinstance(op, _ORDERING) and left is Kind.BOOLEAN:
        raise RuleSyntaxError("true/false values can only be compared with == or !=")


def _call_kind(function: str, args: Sequence[ast.expr], kinds: Mapping[str, Kind]) -> Kind:
    if any(isinstance(arg, ast.Starred) for arg in args):
        raise RuleSyntaxError("'*' arguments are not allowed")
    if function == "date":
        if len(args) != 1 or not isinstance(args[0], ast.Constant) or not _is_iso(args[0].value):
            raise RuleSyntaxError('date() takes one literal date, e.g. date("2024-12-31")')
        return Kind.DATE
    arg_kinds = [_kind(arg, kinds) for arg in args]
    if function == "count":
        if arg_kinds != [Kind.TABLE]:
            raise RuleSyntaxError("count() takes a table, e.g. count(lines)")
        return Kind.NUMBER
    if function == "sum":
        if arg_kinds != [Kind.NUMBER]:
            raise RuleSyntaxError(
                "sum() takes one number of a table's rows, e.g. sum(lines.amount)"
            )
        return Kind.NUMBER
    if function in ("min", "max"):
        if len(arg_kinds) < 2 or len(set(arg_kinds)) != 1:
            raise RuleSyntaxError(f"{function}() takes two or more numbers, or two or more dates")
        _expect(arg_kinds[0], {Kind.NUMBER, Kind.DATE}, f"{function}()")
        return arg_kinds[0]
    if function == "len":
        if arg_kinds != [Kind.TEXT]:
            raise RuleSyntaxError("len() takes one text value")
        return Kind.NUMBER
    if function == "round" and len(args) == 2:
        places = args[1]
        if not (isinstance(places, ast.Constant) and type(places.value) is int):
            raise RuleSyntaxError("round(x, n) needs n to be a whole number written out")
        if not 0 <= places.value <= 20:
            raise RuleSyntaxError("round(x, n) needs 0 <= n <= 20")
        arg_kinds = arg_kinds[:1]
    if arg_kinds != [Kind.NUMBER]:
        raise RuleSyntaxError(f"{function}() takes one number")
    return Kind.NUMBER


def _is_iso(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _eval(node: ast.expr, values: Mapping[str, Any]) -> Value:
    """Evaluate a tree that `_kind` accepted; anything else is a bug, not user input."""
    match node:
        case ast.Constant(value=bool() | str() as literal):
            return literal
        case ast.Constant(value=int() | float() as number):
            # repr() gives the shortest literal that round-trips: 0.01 stays 0.01.
            return Decimal(repr(number))
        case ast.Name(id=name):
            return _typed(values[name])
        case ast.Attribute(value=ast.Name(id=table), attr=column):
            return _typed(values[f"{table}.{column}"])
        case ast.Call(func=ast.Name(id="count"), args=[ast.Name(id=table)]):
            return Decimal(len(values[table]))
        case ast.Call(func=ast.Name(id="sum"), args=[cells]):
            return _sum(cells, values)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _eval(operand, values)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_number(_eval(operand, values))
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return +_number(_eval(operand, values))
        case ast.BoolOp(op=ast.And(), values=operands):
            return all(_eval(operand, values) for operand in operands)
        case ast.BoolOp(op=ast.Or(), values=operands):
            return any(_eval(operand, values) for operand in operands)
        case ast.BinOp(left=left, op=op, right=right):
            return _arithmetic(op, _eval(left, values), _eval(right, values))
        case ast.Compare():
            return _compare(node, values)
        case ast.Call(func=ast.Name(id=function), args=args):
            if function == "date":
                assert isinstance(args[0], ast.Constant)
                return date.fromisoformat(str(args[0].value))
            return _FUNCTION_IMPLS[function]([_eval(arg, values) for arg in args])
    raise AssertionError(f"unchecked node {type(node).__name__}")


def _typed(value: Value | int) -> Value:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


@contextmanager
def sums_kept() -> Iterator[None]:
    """Within it, each sum() is added up once: a rule checked on every row of a table reads
    the same whole table on each (a row's own cells never enter a sum), so the rows of one
    record are checked in linear time, not quadratic. For the rules of one record only."""
    token = _SUMS.set({})
    try:
        yield
    finally:
        _SUMS.reset(token)


def _sum(cells: ast.expr, values: Mapping[str, Any]) -> Decimal:
    """A number over every row of the table whose cells `cells` names, added up."""
    kept = _SUMS.get()
    if kept is None:
        return _added_up(cells, values)
    if id(cells) not in kept:
        try:
            kept[id(cells)] = _added_up(cells, values)
        except (ArithmeticError, TypeError, ValueError) as exc:
            kept[id(cells)] = exc  # an empty cell, a division by zero: on every row alike
    total = kept[id(cells)]
    if isinstance(total, Exception):
        raise type(total)(*total.args)
    return total


def _added_up(cells: ast.expr, values: Mapping[str, Any]) -> Decimal:
    (table,) = _cell_tables(cells)
    # Without the cells of the row a row rule is checked on: each row brings its own.
    outside = {name: value for name, value in values.items() if not name.startswith(f"{table}.")}
    total = Decimal(0)
    for i, row in enumerate(values[table]):
        scope = {f"{table}.{column}": value for column, value in row.items() if value is not None}
        try:
            total += _number(_eval(cells, {**outside, **scope}))
        except KeyError as exc:
            raise ValueError(f"{table}[{i}].{str(exc.args[0]).partition('.')[2]} is empty") from exc
    return total


def _compare(node: ast.Compare, values: Mapping[str, Any]) -> bool:
    current = _eval(node.left, values)
    for cmp, comparator in zip(node.ops, node.comparators, strict=True):
        if isinstance(cmp, _MEMBERSHIP):
            assert isinstance(comparator, ast.Tuple | ast.List | ast.Set)
            found = any(current == _eval(element, values) for element in comparator.elts)
            if found is isinstance(cmp, ast.NotIn):
                return False
            continue
        other = _eval(comparator, values)
        if not _COMPARE[type(cmp)](current, other):
            return False
        current = other
    return True


def _number(value: Value) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"expected a number, got {value!r}")
    return value


def _arithmetic(op: ast.operator, left: Value, right: Value) -> Value:
    if isinstance(left, date):
        if isinstance(right, date):
            return Decimal((left - right).days)
        days = _number(right)
        if days != days.to_integral_value():
            raise ValueError("only whole days can be added to a date")
        return left + timedelta(days=int(days)) * (1 if isinstance(op, ast.Add) else -1)
    a, b = _number(left), _number(right)
    match op:
        case ast.Add():
            return a + b
        case ast.Sub():
            return a - b
        case ast.Mult():
            return a * b
        case ast.Div():
            if b == 0:  # decimal reports 0/0 as an invalid operation, not a division by zero
                raise ZeroDivisionError
            return a / b
    raise AssertionError(f"unchecked operator {type(op).__name__}")


def _round(args: list[Value]) -> Decimal:
    places = int(_number(args[1])) if len(args) == 2 else 0
    # Half up, as on an invoice, not Python's banker's rounding.
    return _number(args[0]).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


_FUNCTION_IMPLS: dict[str, Callable[[list[Value]], Value]] = {
    "abs": lambda args: abs(_number(args[0])),
    "round": _round,
    "min": min,  # the arguments were checked to be all numbers or all dates
    "max": max,
    "len": lambda args: Decimal(len(str(args[0]))),
}
_COMPARE: dict[type[ast.cmpop], Callable[[Value, Value], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _explain(exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError):  # decimal's DivisionByZero and 0/0 included
        return "division by zero"
    if isinstance(exc, OverflowError | Overflow | InvalidOperation):
        return "a result is out of range"
    return str(exc) or type(exc).__name__
