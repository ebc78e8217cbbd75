"""Formatting and expressions for scripts/make_benchmarks_page.py: how a value prints on the page
(``fmt``) and what a ``{{= ...}}`` or ``{{check ...}}`` placeholder may compute (``evaluate``).

The format and expression language is described in the script's docstring. Pure Python: no torch,
no numpy.
"""
from __future__ import annotations

import ast
import operator
import re
from decimal import ROUND_HALF_UP, Decimal

REF = re.compile(r"\$\{([^{}]*)\}")  # a ${REF} term in an expression


class PageError(Exception):
    """A placeholder that cannot be rendered: names the template line, the file and the key."""


# ---- formatting -------------------------------------------------------------------------------------

_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
_SPEC = re.compile(r"(?P<head>[^.]*?)(?:\.(?P<prec>\d+))?(?P<type>[f%])")


def _short(commit) -> str:
    text = str(commit)
    return text[:7] + ("-dirty" if text.endswith("-dirty") else "")


def _word(n, capital: bool = False) -> str:
    if not isinstance(n, int) or not 0 <= n < len(_WORDS):
        raise PageError(f"format word: {n!r} is not a whole number from 0 to {len(_WORDS) - 1}")
    return _WORDS[n].capitalize() if capital else _WORDS[n]


def _sci(x) -> str:
    mantissa, exp = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exp)}"


NAMED = {"short": _short, "word": _word, "Word": lambda n: _word(n, True), "sci": _sci}


def number(x, spec: str) -> str:
    """``format(x, spec)``, rounded half-up on x's shortest decimal form for f and %, minus as −."""
    m = _SPEC.fullmatch(spec)
    if m:
        prec = int(m.group("prec") or 6)
        d = Decimal(repr(float(x))) * (100 if m.group("type") == "%" else 1)
        d = d.quantize(Decimal(1).scaleb(-prec), rounding=ROUND_HALF_UP)
        text = format(abs(d) if d == 0 else d, f"{m.group('head')}.{prec}f") + ("%" if m.group("type") == "%" else "")
    else:
        try:
            text = format(x, spec)
        except ValueError as e:
            raise PageError(f"format {spec!r} does not apply to {x!r}: {e}") from e
    return text.replace("-", "−")


def fmt(value, spec: str = "") -> str:
    """A value as the page prints it (see the module docstring)."""
    spec = spec.strip()
    if isinstance(value, list):
        return ", ".join(fmt(v, spec) for v in value)
    if isinstance(value, dict) and {"mean", "sd"} <= value.keys():
        return f"{fmt(value['mean'], spec)} ± {fmt(value['sd'], spec)}"
    if spec in NAMED:
        return NAMED[spec](value)
    if isinstance(value, dict):
        raise PageError(f"is a group of values ({', '.join(map(str, value))[:200]}), not one figure")
    if isinstance(value, (str, bool)) or value is None:
        if spec:
            raise PageError(f"format {spec!r} given for the non-number {value!r}")
        return str(value)
    return number(value, spec)


# ---- expressions ------------------------------------------------------------------------------------

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_CMPOPS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
           ast.Eq: operator.eq, ast.NotEq: operator.ne}


def truth(value) -> bool:
    """A condition's truth: a list (an element-wise comparison) is true when all its elements are."""
    return all(truth(v) for v in value) if isinstance(value, list) else bool(value)


def _lift(op, a, b):
    """``op`` element-wise when a or b is a list (a scalar is broadcast)."""
    if isinstance(a, list) or isinstance(b, list):
        a_, b_ = (a if isinstance(a, list) else [a] * len(b)), (b if isinstance(b, list) else [b] * len(a))
        if len(a_) != len(b_):
            raise PageError(f"lists of different lengths ({len(a_)} and {len(b_)})")
        return [_lift(op, x, y) for x, y in zip(a_, b_)]
    return op(a, b)


def evaluate(expr: str, resolve, functions: dict):
    """Evaluate a placeholder expression; ``${REF}`` terms are read by ``resolve``, calls go to ``functions``."""
    refs: list = []

    def bind(m: re.Match) -> str:
        refs.append(resolve(m.group(1)))
        return f"_ref{len(refs) - 1}"

    try:
        tree = ast.parse(REF.sub(bind, expr).strip(), mode="eval")
    except SyntaxError as e:
        raise PageError(f"cannot parse the expression {expr.strip()!r}: {e.msg}") from e

    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
            return node.value
        if isinstance(node, ast.Name) and node.id.startswith("_ref"):
            return refs[int(node.id[4:])]
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _lift(_BINOPS[type(node.op)], ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            op = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}[type(node.op)]
            v = ev(node.operand)
            return [op(x) for x in v] if isinstance(v, list) else op(v)
        if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
            left, result = ev(node.left), True
            for o, c in zip(node.ops, node.comparators):
                right = ev(c)
                result = _lift(lambda r, x: r and x, result, _lift(_CMPOPS[type(o)], left, right))
                left = right
            return result
        if isinstance(node, ast.BoolOp):
            values = [truth(ev(v)) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id not in functions:
                raise PageError(f"unknown function {node.func.id!r} (known: {', '.join(functions)})")
            return functions[node.func.id](*[ev(a) for a in node.args])
        raise PageError(f"{ast.unparse(node)!r} is not allowed in a placeholder expression")

    try:
        return ev(tree.body)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, KeyError) as e:
        raise PageError(f"cannot evaluate {expr.strip()!r}: {e}") from e
