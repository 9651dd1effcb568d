"""The CustomResourceDefinitions ml-gen renders objects for, vendored as JSON data in the package.

`scripts/vendor-crds` writes `ml_gen/k8s/crds/<group>_<plural>.json` from the CRD YAML that
`scripts/install-tools crds` takes from the Go module proxy (the sources listed in tools/crds.tsv), so
offline validation needs neither Go nor a cluster. Each file keeps what validation and API calls
need: group, kind, plural, scope, the status subresource and, per version, served, storage and the
`openAPIV3Schema` without its `description`s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CRD_DIR = "k8s/crds"
"""Where the vendored files sit, relative to the ml_gen package."""
PACKAGE = Path(__file__).resolve().parents[1]
"""The ml_gen package directory."""


@dataclass(frozen=True)
class CustomResourceDefinition:
    """One vendored CRD: how to address its objects and the schema of each served version."""

    group: str
    kind: str
    plural: str
    namespaced: bool
    storage_version: str
    schemas: dict[str, dict[str, Any]]
    """Served version -> its openAPIV3Schema."""
    status_subresource: bool
    source: str

    @property
    def api_prefix(self) -> str:
        """The API path prefix of the storage version, e.g. `apis/monitoring.coreos.com/v1`."""
        return f"apis/{self.group}/{self.storage_version}"

    def served(self, api_version: str) -> bool:
        """Whether `apiVersion` (group/version) names a served version of this CRD."""
        group, _, version = api_version.rpartition("/")
        return group == self.group and version in self.schemas


def from_data(data: dict[str, Any]) -> CustomResourceDefinition:
    """The CRD a vendored file describes."""
    versions = data["versions"]
    return CustomResourceDefinition(
        group=data["group"],
        kind=data["kind"],
        plural=data["plural"],
        namespaced=data["scope"] == "Namespaced",
        storage_version=next(v["name"] for v in versions if v["storage"]),
        schemas={v["name"]: v["openAPIV3Schema"] for v in versions if v["served"]},
        status_subresource="status" in data.get("subresources", {}),
        source=data["source"],
    )


@lru_cache(maxsize=1)
def vendored_files() -> dict[str, dict[str, Any]]:
    """File name -> contents of every vendored CRD file, as shipped in the package."""
    return {path.name: json.loads(path.read_text("utf-8")) for path in sorted((PACKAGE / CRD_DIR).glob("*.json"))}


@lru_cache(maxsize=1)
def by_kind() -> dict[str, CustomResourceDefinition]:
    """Every vendored CRD, by kind."""
    crds = (from_data(data) for data in vendored_files().values())
    return {crd.kind: crd for crd in crds}


def api_resources() -> dict[str, tuple[str, str]]:
    """Kind -> (API path prefix, plural) of each vendored CRD, the shape of `server.RESOURCES`."""
    return {kind: (crd.api_prefix, crd.plural) for kind, crd in by_kind().items()}


# -- vendoring: CRD YAML <-> vendored data --------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One line of the repository's list of CRD sources (tools/crds.tsv)."""

    name: str
    """The tool cache entry's name: `<name>-crds-<version>/`."""
    module: str
    version: str
    how: str
    """How the files are obtained: `copy` (taken from the module as they are) or `controller-gen@<version>`
    (generated from the module's API types)."""
    files: tuple[str, ...]
    """Paths inside the module (copy) or names of the generated files."""

    @property
    def generator(self) -> str | None:
        """The controller-gen version that generates the files; None for files copied from the module."""
        return self.how.removeprefix("controller-gen@") if self.how != "copy" else None

    @property
    def cache_entry(self) -> str:
        """The directory in the tool cache that holds the files under their file names (a generated
        source's also names the generator's version)."""
        entry = f"{self.name}-crds-{self.version}"
        return entry if self.generator is None else f"{entry}-controller-gen-{self.generator}"

    def origin(self, path: str) -> str:
        """What a vendored file's `source` says of the module file at `path` (or of the generated file)."""
        if self.generator is not None:
            return f"{self.module}@{self.version} controller-gen@{self.generator} {path}"
        return f"{self.module}@{self.version} {path}"


def read_sources(text: str) -> list[Source]:
    """The sources in the text of tools/crds.tsv: tab-separated name, module, version, how, files."""
    sources = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            raise ValueError(f"tools/crds.tsv: {line.split()[0]!r} needs 5 tab-separated fields, has {len(fields)}")
        name, module, version, how, files = fields
        sources.append(Source(name, module, version, how, tuple(files.split())))
    return sources


def file_name(data: dict[str, Any]) -> str:
    """The vendored file's name, after the CRD's YAML file: `<group>_<plural>.json`."""
    return f"{data['group']}_{data['plural']}.json"


def vendored_form(crd: dict[str, Any], source: str) -> dict[str, Any]:
    """What ml-gen keeps of a CRD manifest (apiextensions.k8s.io/v1); `source` says where it came from."""
    spec = crd["spec"]
    data: dict[str, Any] = {
        "source": source,
        "group": spec["group"],
        "kind": spec["names"]["kind"],
        "plural": spec["names"]["plural"],
        "scope": spec["scope"],
        "versions": [
            {
                "name": v["name"],
                "served": v["served"],
                "storage": v["storage"],
                "openAPIV3Schema": without_descriptions(v["schema"]["openAPIV3Schema"]),
            }
            for v in spec["versions"]
        ],
    }
    subresources = {v["name"]: v.get("subresources", {}) for v in spec["versions"]}
    storage = next(v["name"] for v in spec["versions"] if v["storage"])
    if subresources[storage]:
        data["subresources"] = subresources[storage]
    return data


def dumps(data: dict[str, Any]) -> str:
    """The vendored file's text: sorted keys, one-space indent, a final line break (deterministic)."""
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def without_descriptions(schema: Any) -> Any:
    """A schema without its `description` keywords (a property named `description` stays)."""
    if isinstance(schema, list):
        return [without_descriptions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "description" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: without_descriptions(sub) for name, sub in value.items()}
        elif key in ("enum", "default", "example", "required", "x-kubernetes-list-map-keys"):
            out[key] = value  # data, not schema: kept as written
        else:
            out[key] = without_descriptions(value)
    return out


def manifest(data: dict[str, Any]) -> dict[str, Any]:
    """A vendored file turned back into a CRD manifest that an API server accepts (without descriptions)."""
    kind, plural = data["kind"], data["plural"]
    versions = []
    for v in data["versions"]:
        version: dict[str, Any] = {"name": v["name"], "served": v["served"], "storage": v["storage"]}
        version["schema"] = {"openAPIV3Schema": v["openAPIV3Schema"]}
        if v["storage"] and data.get("subresources"):
            version["subresources"] = data["subresources"]
        versions.append(version)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{data['group']}"},
        "spec": {
            "group": data["group"],
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "scope": data["scope"],
            "versions": versions,
        },
    }
