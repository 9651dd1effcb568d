"""The CRDs vendored in the package are the files of the modules listed in tools/crds.tsv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ml_gen.k8s import crd_data

REPO = Path(__file__).resolve().parents[1]
SOURCES = crd_data.read_sources((REPO / "tools" / "crds.tsv").read_text("utf-8"))
VENDORED = REPO / "generator" / "ml_gen" / crd_data.CRD_DIR
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's reader when PyYAML has it: the Argo CD CRDs are 1.8 MB of YAML."""
ENV = dict(os.environ)
"""Taken at collection, before any test points HOME elsewhere: Go's module cache lives under HOME."""


def cached(tools_bin: Path, source: crd_data.Source) -> Path:
    """The tool cache entry of a source; fails (never skips) when scripts/install-tools has not made it."""
    entry = tools_bin.parent / source.cache_entry
    if not entry.is_dir():
        pytest.fail(f"the listed CRDs are missing at {entry}: run `scripts/install-tools crds`", pytrace=False)
    return entry


def test_the_list_of_crd_sources_names_each_vendored_file_once() -> None:
    assert SOURCES, "tools/crds.tsv lists no source"
    assert len({s.name for s in SOURCES}) == len(SOURCES), "two sources share a name (their cache entry)"
    for source in SOURCES:
        assert source.how == "copy" or source.how.startswith("controller-gen@v"), f"{source.name}: {source.how}"
        assert source.version.startswith("v"), f"{source.name}: {source.version} is not a Go module version"
        names = [Path(path).name for path in source.files]
        assert len(set(names)) == len(names), f"{source.name}: two files share a name in the cache entry"
    listed = sorted(source.origin(path) for source in SOURCES for path in source.files)
    vendored = sorted(data["source"] for data in crd_data.vendored_files().values())
    assert vendored == listed, "run scripts/vendor-crds"


def test_the_vendored_crds_are_what_the_listed_files_give(tools_bin: Path) -> None:
    expected = {}
    for source in SOURCES:
        entry = cached(tools_bin, source)
        assert sorted(p.name for p in entry.iterdir()) == sorted(Path(path).name for path in source.files)
        for path in source.files:
            crd = yaml.load((entry / Path(path).name).read_text("utf-8"), Loader=LOADER)
            data = crd_data.vendored_form(crd, source.origin(path))
            expected[crd_data.file_name(data)] = crd_data.dumps(data)
    actual = {p.name: p.read_text("utf-8") for p in sorted(VENDORED.glob("*.json"))}
    assert sorted(actual) == sorted(expected), "run scripts/vendor-crds"
    for name, text in expected.items():
        assert actual[name] == text, f"{crd_data.CRD_DIR}/{name} differs from the listed CRD: run scripts/vendor-crds"


def module_dir(source: crd_data.Source, tmp_path: Path) -> Path:
    """The module's directory in Go's module cache (go mod download: checksum-verified)."""
    go = shutil.which("go", path=ENV.get("PATH"))
    if go is None:
        pytest.fail("Go is needed to fetch the listed CRD modules (see README)", pytrace=False)
    out = subprocess.run(
        [go, "mod", "download", "-json", f"{source.module}@{source.version}"],
        cwd=tmp_path,
        env={**ENV, "GOFLAGS": "-mod=mod"},
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(out.stdout)["Dir"])


@pytest.mark.parametrize("source", [s for s in SOURCES if s.generator is None], ids=lambda s: s.name)
def test_the_cached_crds_are_the_modules_own_files(source: crd_data.Source, tools_bin: Path, tmp_path: Path) -> None:
    """What install-tools cached is byte for byte the file of the module (go mod download, checksum-verified)."""
    module = module_dir(source, tmp_path)
    entry = cached(tools_bin, source)
    for path in source.files:
        assert (entry / Path(path).name).read_bytes() == (module / path).read_bytes(), path


@pytest.mark.parametrize("source", [s for s in SOURCES if s.generator is not None], ids=lambda s: s.name)
def test_generating_the_crds_again_gives_the_same_bytes(
    source: crd_data.Source, tools_bin: Path, tmp_path: Path
) -> None:
    """A generated source is reproducible: controller-gen, run again on a fresh writable copy of the module,
    writes byte for byte what install-tools cached (and so what is vendored)."""
    controller_gen = tools_bin.parent / f"controller-gen-{source.generator}" / "controller-gen"
    if not controller_gen.is_file():
        pytest.fail(f"{controller_gen} is missing: run `scripts/install-tools crds`", pytrace=False)
    copy = tmp_path / "module"
    shutil.copytree(module_dir(source, tmp_path), copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    subprocess.run(
        [str(controller_gen), "crd", "paths=./...", f"output:crd:dir={tmp_path / 'out'}"],
        cwd=copy,
        env={**ENV, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"},
        check=True,
    )
    entry = cached(tools_bin, source)
    for name in source.files:
        assert (tmp_path / "out" / name).read_bytes() == (entry / name).read_bytes(), name


def test_a_vendored_crd_turned_back_into_a_manifest_keeps_what_validation_reads() -> None:
    for data in crd_data.vendored_files().values():
        manifest = crd_data.manifest(data)
        assert manifest["metadata"]["name"] == f"{data['plural']}.{data['group']}"
        assert crd_data.vendored_form(manifest, data["source"]) == data
