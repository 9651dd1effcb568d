"""JSON as Helm's toPrettyJson writes it (Go's encoding/json MarshalIndent, two spaces): the chart and
ml-gen put the same text in an object."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
"""What Go escapes in strings beyond JSON's own escapes (HTML-safe output)."""


def _string(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    for char, escape in _HTML.items():
        out = out.replace(char, escape)
    return out


def _number(value: float) -> str:
    """Go writes a float64 (Helm reads every values number as one) plainly from 1e-6 to 1e21, else with an
    exponent without leading zeros (1e-07 -> 1e-7); both with the fewest digits that read back the same."""
    if not math.isfinite(value):
        raise ValueError(f"JSON has no {value}")
    magnitude = abs(value)
    if magnitude == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    if 1e-6 <= magnitude < 1e21:
        return format(Decimal(repr(float(value))), "f").removesuffix(".0")
    mantissa, exponent = repr(float(value)).split("e")
    return f"{mantissa.removesuffix('.0')}e{exponent[0]}{exponent[1:].lstrip('0')}"


def dumps(value: Any, indent: str = "") -> str:
    """VALUE (maps with string keys, in key order; lists; strings; numbers; booleans; None) as toPrettyJson."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_string(key)}: {dumps(value[key], inner)}" for key in sorted(value)]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(f"{inner}{dumps(item, inner)}" for item in value) + f"\n{indent}]"
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return _number(float(value)) if abs(value) >= 10**21 else str(value)
    return _number(value)
