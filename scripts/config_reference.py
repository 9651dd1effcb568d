"""Write the config reference (docs/config-reference.md) from the JSON Schema ml-gen ships, between its markers.

    python scripts/config_reference.py          # rewrite docs/config-reference.md
    python scripts/config_reference.py --check  # exit 1 if docs/config-reference.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "config-reference.md"
BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"


def _type(prop: dict) -> str:
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    if "object" in kinds and isinstance(prop.get("additionalProperties"), dict) and "properties" not in prop:
        return "map"
    return " or ".join(k for k in kinds if k)


def _resolved(prop: dict, schema: dict) -> dict:
    """A property with its local `$ref` (`#/$defs/...`) followed: the referenced schema plus the keywords beside it."""
    if "$ref" not in prop:
        return prop
    target = schema
    for part in prop["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolved(target, schema), **{k: v for k, v in prop.items() if k != "$ref"}}


def _rows(props: dict, schema: dict, prefix: str = "") -> list[str]:
    rows = []
    for name, ref in props.items():
        prop, path = _resolved(ref, schema), f"{prefix}{name}"
        rows.append(f"| `{path}` | {_type(prop)} | {prop.get('description', '')} |")
        if "properties" in prop:
            rows += _rows(prop["properties"], schema, f"{path}.")
    return rows


def reference() -> str:
    from ml_gen import config  # the installed package's schema (`ml-gen schema`), wherever its source lives

    schema = config.schema()
    lines = ["| key | type | meaning |", "|---|---|---|"] + _rows(schema["properties"], schema)
    env = schema["properties"]["environments"]["additionalProperties"]["properties"]
    lines.append(f"| `environments.<env>.namespace` | string | {env['namespace']['description']} (required) |")
    return "\n".join(lines)


def main() -> int:
    text = REFERENCE.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{reference()}\n{END}{tail}"
    if "--check" in sys.argv:
        if new != text:
            print("docs/config-reference.md is stale: run python scripts/config_reference.py")
            return 1
        return 0
    REFERENCE.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
