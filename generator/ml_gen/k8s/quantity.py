"""Kubernetes resource quantities: parsed and bounded as resource.Quantity parses and counts them."""

from __future__ import annotations

import re
from decimal import ROUND_UP, Context, Decimal
from functools import lru_cache

_SUFFIXES: dict[str, Decimal | int] = {
    "": 1,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"\+?(?P<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>[eE][+-]?[0-9]+|[a-zA-Z]*)\Z")
MAX_QUANTITY = 2**63 - 1
"""Kubernetes reads quantities as int64 (Value() for bytes, MilliValue() for CPU); beyond this they overflow."""
_NANO = Decimal("1e-9")
_EXPONENT_CAP = 10**6  # |exponent| beyond this is out of every range anyway; keeps the arithmetic small


@lru_cache(maxsize=1024, typed=True)  # the same few values recur in every environment (Decimal is immutable)
def quantity(value: str | int | float) -> Decimal:
    """The value of a Kubernetes quantity (pattern-checked by the schema), rounded up to 1n as Kubernetes does."""
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = Decimal(match["num"]), match["suffix"]
    context = Context(prec=len(match["num"]) + 40, Emax=10 * _EXPONENT_CAP, Emin=-10 * _EXPONENT_CAP)
    if suffix in _SUFFIXES:  # before the exponent form: "E" and "Ei" are suffixes too
        amount = context.multiply(number, Decimal(_SUFFIXES[suffix]))
    elif not re.fullmatch("[eE][-+]?[0-9]+", suffix):
        raise ValueError(f"not a quantity: {value!r}")
    else:
        digits = suffix[1:].lstrip("+-").lstrip("0") or "0"
        exponent = min(int(digits[:8]), _EXPONENT_CAP) * (-1 if suffix[1] == "-" else 1)
        amount = number.scaleb(exponent, context)
    if amount and amount < _NANO:
        return _NANO
    return amount if amount > 10**30 else amount.quantize(_NANO, rounding=ROUND_UP, context=context)


def quantity_problem(name: str, value: str | int | float) -> str | None:
    """Why a resource quantity cannot be used, or None: not a quantity, or too large for Kubernetes to count."""
    try:
        amount = quantity(value)
    except ValueError:  # YAML's .inf and .nan are numbers the schema lets through
        return f"{value} is not a Kubernetes quantity"
    scale = 1000 if name == "cpu" else 1  # CPU is counted in millicores
    if amount > Decimal(MAX_QUANTITY) / scale:
        unit = "millicores" if name == "cpu" else "units"
        return f"{value} is too large: Kubernetes counts {name} in int64 {unit} (at most {MAX_QUANTITY})"
    return None
