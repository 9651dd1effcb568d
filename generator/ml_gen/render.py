"""Chart values -> Kubernetes objects through ml-gen's Jinja2 templates (mirrors of the chart's)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ml_gen import chart, fastyaml, yamlio
from ml_gen.errors import TemplateError

MANAGED_BY = "ml-gen"
CONFIG_MOUNT = "/etc/ml-model"  # charts/ml-model-api/templates/deployment.yaml mounts configFiles here too
TEMPLATES = (
    "serviceaccount.yaml.j2",
    "configmap.yaml.j2",
    "service.yaml.j2",
    "deployment.yaml.j2",
    "hpa.yaml.j2",
    "pdb.yaml.j2",
    "ingress.yaml.j2",
)


def _to_json(value: Any) -> str:
    """The only way a value enters a template: as JSON, which YAML reads back unchanged."""
    return yamlio.escape_breaks(json.dumps(value, sort_keys=True, ensure_ascii=False))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja2 environment (manifests and init's project files): strict, whitespace-trimmed, compiled once."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(  # the manifest templates; `ml-gen init`'s project files under "scaffold/"
            [
                jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                jinja2.PrefixLoader({"scaffold": jinja2.FileSystemLoader(Path(__file__).parent / "scaffold")}),
            ]
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["j"] = _to_json
    env.globals["merge"] = lambda *maps: {k: v for m in maps for k, v in m.items()}
    return env


@lru_cache(maxsize=1)
def templates() -> list[jinja2.Template]:
    env = environment()
    return [env.get_template(name) for name in TEMPLATES]


def context(values: dict[str, Any], release: str, namespace: str) -> dict[str, Any]:
    """What templates see: the values plus the helpers of the chart's _helpers.tpl, computed once."""
    meta = chart.metadata()
    name = _dns_trim(values.get("nameOverride") or meta["name"])
    if values.get("fullnameOverride"):
        fullname = _dns_trim(values["fullnameOverride"])
    elif name in release:
        fullname = _dns_trim(release)
    else:
        fullname = _dns_trim(f"{release}-{name}")
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release}
    labels = dict(selector)
    image = values["image"]
    if not image.get("digest"):
        labels["app.kubernetes.io/version"] = image.get("tag") or meta["appVersion"]
    labels["app.kubernetes.io/component"] = values["component"]
    labels["app.kubernetes.io/part-of"] = values.get("partOf") or name
    labels["app.kubernetes.io/managed-by"] = MANAGED_BY
    labels.update(values.get("commonLabels", {}))
    common = values.get("commonAnnotations", {})
    account = values["serviceAccount"]
    return {
        "Values": values,
        "Release": {"Name": release, "Namespace": namespace},
        "Chart": {"Name": meta["name"]},
        "fullname": fullname,
        "labels": labels,
        "selector_labels": selector,
        "service_account_name": (account.get("name") or fullname)
        if account["create"]
        else (account.get("name") or "default"),
        "image": image_reference(image, meta["appVersion"]),
        "annotations": lambda extra=None: {**common, **(extra or {})},
        "config_mount": CONFIG_MOUNT,
    }


def image_reference(image: dict[str, Any], app_version: str) -> str:
    """repository@digest when pinned by digest, else repository:tag (chart appVersion by default)."""
    if image.get("digest"):
        return f"{image['repository']}@{image['digest']}"
    return f"{image['repository']}:{image.get('tag') or app_version}"


def _dns_trim(name: str) -> str:
    """The chart's `trunc 63 | trimSuffix "-"`."""
    return name[:63].removesuffix("-")


def objects(values: dict[str, Any], release: str, namespace: str) -> list[dict[str, Any]]:
    """Render every template for one environment and parse the documents back into data."""
    ctx = context(values, release, namespace)
    docs: list[dict[str, Any]] = []
    for template in templates():
        try:
            text = template.render(ctx)
        except jinja2.TemplateError as err:
            raise TemplateError(f"template {template.name}: {err}") from None
        if text.strip():
            try:
                docs.append(_parse(text))
            except Exception as err:  # a template bug, never user input: report where
                raise TemplateError(f"template {template.name} produced invalid YAML: {err}") from None
    return docs


def _parse(text: str) -> Any:
    """Template output as data: the fast reader for the usual shapes, PyYAML for anything else."""
    try:
        return fastyaml.load(text)
    except fastyaml.Unsupported:
        return yamlio.load(text)
