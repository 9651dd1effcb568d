"""The CRDs vendored in the package are what the pinned prometheus-operator module gives (the tool cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ml_gen.check import crd_data

REPO = Path(__file__).resolve().parents[1]
MODULE = "github.com/prometheus-operator/prometheus-operator"


def pinned_version() -> str:
    lines = (REPO / "tools" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))[
        "PROMETHEUS_OPERATOR_VERSION"
    ]


def test_the_vendored_crds_are_what_the_pinned_module_gives(tools_bin: Path) -> None:
    version = pinned_version()
    cache = tools_bin.parent / f"prometheus-operator-crds-{version}"
    if not cache.is_dir():
        pytest.fail(f"the pinned CRDs are missing at {cache}: run `scripts/install-tools crds`", pytrace=False)
    expected = {}
    for path in sorted(cache.glob("*.yaml")):
        source = f"{MODULE}@{version} example/prometheus-operator-crd/{path.name}"
        data = crd_data.vendored_form(yaml.safe_load(path.read_text("utf-8")), source)
        expected[crd_data.file_name(data)] = crd_data.dumps(data)
    vendored = REPO / "generator" / "ml_gen" / crd_data.CRD_DIR
    actual = {p.name: p.read_text("utf-8") for p in sorted(vendored.glob("*.json"))}
    assert sorted(actual) == sorted(expected), "run scripts/vendor-crds"
    for name, text in expected.items():
        assert actual[name] == text, f"{crd_data.CRD_DIR}/{name} differs from the pinned CRD: run scripts/vendor-crds"


def test_a_vendored_crd_turned_back_into_a_manifest_keeps_what_validation_reads() -> None:
    for data in crd_data.vendored_files().values():
        manifest = crd_data.manifest(data)
        assert manifest["metadata"]["name"] == f"{data['plural']}.{data['group']}"
        assert crd_data.vendored_form(manifest, data["source"]) == data
