"""Property: any string from the config lands in the output as exactly that string (or is refused cleanly).

Strings go in as an env value, an annotation value, a model version (an env var and a pod annotation) and
a config file's content. They must come back unchanged from ml-gen's written manifests, and from
`helm template` of the chart with ml-gen's values: no YAML structure change, no type change (Helm must
not turn "1048576" into 1.048576e+06), no lost characters. The only strings ml-gen may refuse are those
Helm's toYaml cannot carry (DEL, C1 controls, U+FFFE/U+FFFF); it must do so with one clean error.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_gen.cli import main


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML as a stand-in for Kubernetes' go-yaml reader.

    Two YAML 1.1 quirks differ: PyYAML reads a bare `=` and a bare `<<` in value position as the
    "value" and "merge" tags and cannot construct them, while go-yaml reads the strings "=" and "<<",
    so Helm's toYaml leaves them unquoted. Here they are read as strings, as Kubernetes reads them.
    """


for _tag in ("tag:yaml.org,2002:value", "tag:yaml.org,2002:merge"):
    _Loader.add_constructor(_tag, yaml.constructor.SafeConstructor.construct_yaml_str)
REFUSED = re.compile("[\x7f-\x9f\ufffe\uffff]")
ANNOTATION = "example.com/value"

TRICKY = [
    "no", "No", "on", "off", "yes", "y", "n", "true", "False", "null", "Null", "~", "", " ", "1.10", "0755", "0o755",
    "0x1F", "1e3", "1E3", "-1", "+1", ".5", "1_000", "1048576", "12345678901234567890", "3.0", ".inf", "-.Inf", ".NaN",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "12:30:45", "=", "<<", "---", "...", "--- a", "- a", "? a", ": a",
    "key: value", "a #b", "#c", "{a: 1}", "[1, 2]", "*alias", "&anchor", "!tag", "!!str x", "%YAML 1.1", "@at",
    "`tick", "| literal", "> folded", "'single'", '"double"', "\\", "\\n", "{{ .Values.x }}", "{{- toYaml . }}",
    "{% raw %}", "${HOME}", "$(id)", "\n", "\r\n", "a\nb", "a\n\nb\n", "trailing\n", " lead", "trail ", "\t",
    "\x00", "\x1b[31m", "\u2028", "\u2029", "\ufeff", "\ufeffBOM", "\xa0", "modèle ✓ 模型", "😀", "a😀b", "\U0010fffd",
    "\x7f", "\x85", "\x9f", "\ufffe", "\uffff",
]  # fmt: skip
PREFIXES = ["", "-", "?", ":", "#", "&", "*", "!", "|", ">", "'", '"', "%", "@", "`", "{", "[", "---", "~", " "]

strings = st.one_of(
    st.text(),
    st.sampled_from(TRICKY),
    st.builds(lambda p, t, q: p + t + q, st.sampled_from(PREFIXES), st.text(max_size=8), st.sampled_from(TRICKY)),
)


def _config(texts: list[str]) -> dict[str, Any]:
    """A config carrying each text in every kind of free-text field."""
    return {
        "name": "strings",
        "model": {"version": texts[0]} if texts[0] else {},
        "image": {"repository": "myorg/strings", "tag": "1.0"},
        "env": {f"VALUE_{i}": text for i, text in enumerate(texts)},
        "annotations": {f"{ANNOTATION}-{i}": text for i, text in enumerate(texts)},
        "configFiles": {f"file-{i}.txt": text for i, text in enumerate(texts)},
        "environments": {"dev": {"namespace": "strings-dev"}},
    }


# What YAML folds (NEL, LS, PS) or refuses raw (DEL, C1 controls, BOM, non-characters) inside a
# double-quoted string; JSON already escapes the C0 controls.
_RAW_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _write_config(directory: Path, texts: list[str]) -> Path:
    """The config as JSON (a YAML subset) with every risky character escaped, written independently of ml-gen."""
    data = _config(texts)
    text = _RAW_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False, indent=1))
    assert yaml.load(text, Loader=_Loader) == data
    path = directory / "ml-model.yaml"
    path.write_text(text + "\n", "utf-8")
    return path


def _render(config: Path, out: Path):
    return CliRunner().invoke(main, ["render", "dev", "-c", str(config), "--out", str(out)])


def _check_refusal(result, texts: list[str]) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ml-gen: error: ") and "ml-model.yaml:" in line
    assert re.search(r" (model\.version|env\.VALUE_\d|annotations\.\S+|configFiles\.\S+): contains U\+", line), line


def _check_objects(objects: list[dict[str, Any]], texts: list[str], source: str) -> None:
    by_kind = {o["kind"]: o for o in objects}
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    pod_annotations = by_kind["Deployment"]["spec"]["template"]["metadata"].get("annotations", {})
    for i, text in enumerate(texts):
        assert env[f"VALUE_{i}"] == text, source
        assert type(env[f"VALUE_{i}"]) is str, source
        for obj in objects:
            assert obj["metadata"]["annotations"][f"{ANNOTATION}-{i}"] == text, (source, obj["kind"])
        assert by_kind["ConfigMap"]["data"][f"file-{i}.txt"] == text, source
    if texts[0]:
        assert env["MODEL_VERSION"] == texts[0]
        assert pod_annotations["ml-gen.dev/model-version"] == texts[0]


# Examples share the test's isolated HOME and nothing else (each writes into its own temporary
# directory), so the function-scoped fixture is safe to reuse across examples.
SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


@settings(max_examples=200, **SETTINGS)
@given(texts=st.lists(strings, min_size=1, max_size=3))
def test_strings_round_trip_through_ml_gen_manifests(texts):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config = _write_config(directory, texts)
        result = _render(config, directory)
        if any(REFUSED.search(t) for t in texts):
            _check_refusal(result, texts)
            assert sorted(p.name for p in directory.iterdir()) == ["ml-model.yaml"]
            return
        assert result.exit_code == 0, result.output
        manifests = sorted((directory / "manifests/dev").glob("*.yaml"))
        objects = [yaml.load(p.read_text("utf-8"), Loader=_Loader) for p in manifests]
        _check_objects(objects, texts, "ml-gen manifests")
        values = yaml.load((directory / "values/dev.yaml").read_text("utf-8"), Loader=_Loader)
        assert [e["value"] for e in values["env"] if e["name"].startswith("VALUE_")] == texts
        assert values["configFiles"] == {f"file-{i}.txt": t for i, t in enumerate(texts)}


def _helm_objects(helm: str, chart: Path, values: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [helm, "template", "strings", str(chart), "--namespace", "strings-dev", "-f", str(values)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.load_all(proc.stdout, Loader=_Loader) if d]
    return [d for d in docs if "helm.sh/hook" not in d["metadata"].get("annotations", {})]


def _through_helm(helm: str, repo_root: Path, texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        result = _render(_write_config(directory, texts), directory)
        assert result.exit_code == 0, result.output
        objects = _helm_objects(helm, repo_root / "charts/ml-model-api", directory / "values/dev.yaml")
        _check_objects(objects, texts, "helm template")


def test_tricky_strings_through_helm(helm, repo_root):
    accepted = [t for t in TRICKY if not REFUSED.search(t)]
    assert len(accepted) > 80
    _through_helm(helm, repo_root, accepted)


@settings(max_examples=25, **SETTINGS)
@given(texts=st.lists(strings, min_size=1, max_size=6).filter(lambda ts: not any(REFUSED.search(t) for t in ts)))
def test_strings_round_trip_through_helm(helm, repo_root, texts):
    _through_helm(helm, repo_root, texts)


@pytest.mark.parametrize("text", [t for t in TRICKY if REFUSED.search(t)])
def test_strings_helm_cannot_carry_are_refused(tmp_path, text):
    result = _render(_write_config(tmp_path, [text]), tmp_path)
    _check_refusal(result, [text])


@pytest.mark.parametrize("text", ["x\n\n", "\n"])
def test_last_config_file_ending_in_blank_lines_through_helm(helm, repo_root, text):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        assert _render(_write_config(directory, [text]), directory).exit_code == 0
        objects = _helm_objects(helm, repo_root / "charts/ml-model-api", directory / "values/dev.yaml")
        (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"]
        assert config_map["data"]["file-0.txt"] == text
