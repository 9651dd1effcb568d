"""The byte promise of set-image, set-model and promote, over generated layouts: the edited file equals the
original but at the changed scalar (and the spaces before its end-of-line comment), or at a new entry
where there was none; or the edit is refused, exit 2, and the file keeps its bytes and mtime."""

from __future__ import annotations

import itertools
import os
import tempfile
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ml_gen import yamlio
from ml_gen.cli import main

DIGEST = "sha256:" + "0123456789abcdef" * 4
NEW_DIGEST = "sha256:" + "fedcba9876543210" * 4


class Writer:
    """Builds a config text line by line, each line with its own line break, trailing spaces and comment."""

    def __init__(self, draw: Any):
        self.draw = draw
        self.parts: list[str] = []

    def line(self, text: str, comment: bool = True) -> None:
        tail = self.draw(st.sampled_from(["", " ", "  ", " # note", "\t# a tab before", "      # aligned"]))
        if not comment and "#" in tail:
            tail = ""
        self.parts.append(text + tail + self.draw(st.sampled_from(["\n", "\r\n"])))

    def text(self) -> str:
        return "".join(self.parts)


def quoted(draw: Any, value: str) -> str:
    """A string scalar in a drawn style, sometimes with an unused anchor."""
    style = draw(st.sampled_from(["plain", "single", "double"]))
    text = {"plain": value, "single": f"'{value}'", "double": f'"{value}"'}[style]
    if style == "plain" and not yamlio.is_plain(value):
        text = f'"{value}"'
    return f"&unused{next(_ANCHORS)} {text}" if draw(st.booleans()) else text


_ANCHORS = itertools.count()  # anchors are unique: a second one of the same name is refused


def key(draw: Any, name: str, pad: str) -> tuple[str, str]:
    """How an entry's key is written, and what comes before its value: `name: `, `"name": ` or `? name` + `: `."""
    style = draw(st.sampled_from(["plain", "quoted", "explicit"]))
    if style == "explicit":
        return f"? {name}", f"{pad}: "
    return (f'"{name}": ' if style == "quoted" else f"{name}: "), ""


def block_map(w: Writer, pad: str, step: str, entries: list[tuple[str, str]]) -> None:
    for name, value in entries:
        written, value_prefix = key(w.draw, name, pad)
        if value_prefix:
            w.line(pad + written)
            w.line(value_prefix + value)
        else:
            w.line(pad + written + value)


def image_section(w: Writer, pad: str, step: str, entries: list[tuple[str, str]], header: str) -> None:
    """An image or model map in block style, flow style, or a flow map over several lines."""
    style = w.draw(st.sampled_from(["block", "flow", "multiline-flow"]))
    if style == "block":
        w.line(pad + header)
        block_map(w, pad + step, step, entries)
    elif style == "flow":
        w.line(pad + header + " {" + ", ".join(f"{k}: {v}" for k, v in entries) + "}")
    else:
        w.line(pad + header + " {", comment=False)
        for index, (k, v) in enumerate(entries):
            last = index == len(entries) - 1
            w.line(f"{pad}{step}{step}{k}: {v}" + ("" if last else ","), comment=False)
        w.line(pad + step + "}")


@st.composite
def configs(draw: Any) -> tuple[str, dict[str, Any]]:
    """A valid config in a drawn layout, and facts about its dev environment."""
    w = Writer(draw)
    step = draw(st.sampled_from(["  ", "   ", "    "]))
    if draw(st.booleans()):
        w.parts.append("\ufeff")
    if draw(st.booleans()):
        w.line("---")
    w.line("# a comment line: café, 模型, 😀 (positions count code points)")
    w.line("name: churn")
    image_section(w, "", step, [("repository", "r/churn"), ("tag", quoted(draw, "1.0"))], "image:")
    image_section(w, "", step, [("name", "churn"), ("version", quoted(draw, "0.9"))], "model:")
    dash = draw(st.sampled_from(["", step]))  # sequences indented under their key, or not
    w.line("tolerations:")
    w.line(f"{dash}- key: dedicated")
    w.line(f"{dash}  operator: Exists")
    w.line("environments:")
    facts: dict[str, Any] = {"image": draw(st.sampled_from(["none", "tag", "digest"])), "model": draw(st.booleans())}
    if draw(st.booleans()):  # dev in flow style, its sections too
        facts["flow"] = True
        sections = ""
        if facts["image"] != "none":
            value = quoted(draw, "2.0") if facts["image"] == "tag" else f'"{DIGEST}"'
            sections += f", image: {{{facts['image']}: {value}}}"
        if facts["model"]:
            sections += f", model: {{version: {quoted(draw, '0.8')}}}"
        w.line(f"{step}dev: {{namespace: churn-dev{sections}, replicas: 1}}")
    for env in ("qa",) if facts.get("flow") else ("dev", "qa"):
        pad = step
        w.line(f"{pad}{env}:")
        inner = pad + step
        w.line(f"{inner}namespace: churn-{env}")
        if draw(st.booleans()):
            w.line("", comment=False)  # a blank line (perhaps with trailing spaces)
        if env == "dev" and facts["image"] != "none":
            value = quoted(draw, "2.0") if facts["image"] == "tag" else f'"{DIGEST}"'
            image_section(w, inner, step, [(facts["image"], value)], "image:")
        if env == "dev" and facts["model"]:
            image_section(w, inner, step, [("version", quoted(draw, "0.8"))], "model:")
        other_dash = draw(st.sampled_from(["", step]))
        w.line(f"{inner}tolerations:")
        w.line(f"{inner}{other_dash}- key: other")
        w.line(f"{inner}{other_dash}  operator: Exists")
        w.line(f"{inner}# a comment between entries")
        w.line(f"{inner}replicas: 1")
    if draw(st.booleans()):
        w.line("...")
    text = w.text()
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no final line break
    return text, facts


EDITS = st.one_of(
    st.builds(lambda t: ["set-image", "dev", "--tag", t], st.sampled_from(["3.1", "v2", "build_7-x", "9"])),
    st.just(["set-image", "dev", "--digest", NEW_DIGEST]),
    st.builds(
        lambda v: ["set-model", "dev", "--version", v],
        st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=8).filter(
            str.strip
        ),
    ),
)


def dev_field(text: str, section: str, names: tuple[str, ...]) -> tuple[int, int] | None:
    """Where dev's own section.<name> entry is (key start to value end), found with PyYAML's marks."""
    offset = 1 if text.startswith("\ufeff") else 0
    doc = yaml.compose(text, Loader=yaml.CSafeLoader)
    envs = next(v for k, v in doc.value if k.value == "environments")
    dev = next(v for k, v in envs.value if k.value == "dev")
    found = [v for k, v in dev.value if k.value == section]
    if not found:
        return None
    for k, v in found[0].value:
        if k.value in names:
            return k.start_mark.index + offset, v.end_mark.index + offset
    return None


# Found by the test below: a longer value before an aligned comment; the diff pairs its closing quote with a
# padding space it replaced.
ALIGNED_COMMENT = """\
name: churn
image:
  repository: r/churn
  tag: "1.0"
model:
  name: churn
  version: "0.9"
environments:
  dev:
    namespace: churn-dev
    model:
      version: "0.8"      # aligned
    replicas: 1
"""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), EDITS)
@example((ALIGNED_COMMENT, {"model": True}), ["set-model", "dev", "--version", '00"'])
def test_an_edit_changes_only_its_scalar(layout, args):
    text, _ = layout
    section, names = ("model", ("version",)) if args[0] == "set-model" else ("image", ("tag", "digest"))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ml-model.yaml"
        path.write_bytes(text.encode())
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
        result = CliRunner().invoke(main, [*args, "-c", str(path)])
        after = path.read_bytes().decode()
        mtime = path.stat().st_mtime_ns
    assert result.exit_code == 0, (result.output, text)  # render reads it: so must the edit
    value = args[-1]
    expected, _ = yamlio.load_config_yaml(text, "f")
    layer = expected["environments"]["dev"].setdefault(section, {})
    layer.pop("tag" if args[-2] == "--digest" else "digest", None)
    layer[args[-2].removeprefix("--")] = value
    assert yamlio.load_config_yaml(after, "f")[0] == expected
    if after == text:
        assert mtime == 1_000_000_000 and "not rewritten" in result.output
        return
    where = dev_field(text, section, names)
    opcodes = [op for op in SequenceMatcher(None, text, after, autojunk=False).get_opcodes() if op[0] != "equal"]
    spaces = [op for op in opcodes if text[op[1] : op[2]].strip(" ") == after[op[3] : op[4]].strip(" ") == ""]
    edits = [op for op in opcodes if op not in spaces]
    assert edits, (text, after)
    for _, old_start, old_end, _, _ in edits:
        if where is None:  # a new entry or section: only added text
            assert old_start == old_end, (text, after)
        else:  # inside the entry (key and value), or the padding after it that keeps a comment's column (the
            # diff may pair a longer value's last character with a padding space it replaced)
            padded_end = where[1] + len(text[where[1] :]) - len(text[where[1] :].lstrip(" "))
            assert where[0] <= old_start and old_end <= padded_end, (text, after)
    edited_lines = {_line(text, op[1]) for op in edits}
    for _, old_start, _, _, _ in spaces:  # spaces before the end-of-line comment of an edited line (its column kept)
        assert _line(text, old_start) in edited_lines and text[old_start:].lstrip(" ").startswith(("#", "}")), (
            text,
            after,
        )


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), EDITS)
def test_a_refused_edit_changes_no_byte_and_no_mtime(layout, args):
    """dev's image or model shared through an alias with qa: editing dev would edit qa; refused."""
    text, facts = layout
    section = "model" if args[0] == "set-model" else "image"
    if section == "image" and facts["image"] == "none" or section == "model" and not facts["model"]:
        return
    marker = "\n" if "\n" in text else ""
    # give dev's section an anchor and make qa refer to it
    lines = text.split(marker) if marker else [text]
    for index, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if stripped.startswith(f"{section}:") and index > 0 and _in_dev(lines, index):
            indent = line[: len(line) - len(stripped)]
            lines[index] = indent + f"{section}: &shared" + stripped[len(section) + 1 :]
            break
    else:
        return
    for index, line in enumerate(lines):
        if line.strip(" \r").startswith("namespace: churn-qa"):
            indent = line[: len(line) - len(line.lstrip(" "))]
            lines.insert(
                index + 1, f"{indent}{section}: *shared\r" if line.endswith("\r") else f"{indent}{section}: *shared"
            )
            break
    shared = marker.join(lines)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ml-model.yaml"
        path.write_bytes(shared.encode())
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
        result = CliRunner().invoke(main, [*args, "-c", str(path)])
        assert result.exit_code == 2, (result.output, shared)
        assert "is a YAML alias shared with another place" in result.stderr
        assert path.read_bytes() == shared.encode() and path.stat().st_mtime_ns == 1_000_000_000


def _in_dev(lines: list[str], index: int) -> bool:
    """Whether line `index` is inside dev's environment (after `dev:`, before `qa:`)."""
    before = [line.strip(" \r") for line in lines[:index]]
    return any(line.startswith("dev:") for line in before) and not any(line.startswith("qa:") for line in before)
