"""`ml-gen diff` against the live control plane (see conftest.py): the example's prod environment (Deployment,
HPA, PDB, Ingress, NetworkPolicy), applied once from its plain manifests and once by Helm, then changed by hand,
by the HPA's field manager, and by the config."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from click.testing import CliRunner, Result

from ml_gen.cli import main

if TYPE_CHECKING:
    from conftest import Cluster

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "ml-model-api"
NAME = "ml-model-api"


def prod_config(namespace: str, tmp_path: Path, edit: Callable[[dict[str, Any]], object] = dict) -> Path:
    """The example config whose prod environment deploys into `namespace`, edited by `edit`."""
    data = yaml.safe_load((REPO / "ml-model.yaml").read_text())
    data["environments"]["prod"]["namespace"] = namespace
    edit(data)
    config = tmp_path / "ml-model.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def ml_gen(*args: str) -> Result:
    """One ml-gen command in this process (the kubernetes client is imported once for all)."""
    return CliRunner().invoke(main, list(args))


def diff(cluster: Cluster, config: Path) -> Result:
    return ml_gen("diff", "prod", "-c", str(config), "--kubeconfig", str(cluster.kubeconfig))


def test_diff_after_a_plain_apply(cluster, namespace, tmp_path):
    config = prod_config(namespace, tmp_path)
    assert ml_gen("render", "prod", "-c", str(config)).exit_code == 0
    cluster.kubectl("apply", "--server-side", "-f", str(tmp_path / "manifests" / "prod"))
    same = diff(cluster, config)
    assert (same.exit_code, same.stdout) == (0, ""), same.stdout + same.stderr
    assert "0 changed, 0 to create, 0 to prune, 7 unchanged" in same.stderr

    # The HPA's controller scales through /scale as kube-controller-manager; prod renders no replicas.
    scale = json.dumps({"spec": {"replicas": 4}})
    cluster.kubectl("patch", "deployment", NAME, "-n", namespace, "--subresource=scale", "--type=merge",
                    "--field-manager=kube-controller-manager", "-p", scale)  # fmt: skip
    hpa = diff(cluster, config)
    assert (hpa.exit_code, hpa.stdout) == (0, ""), hpa.stdout + hpa.stderr

    # A field ml-gen renders, changed by hand, is named and would be put back.
    surge = json.dumps({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 3}}}})
    cluster.kubectl("patch", "deployment", NAME, "-n", namespace, "--type=merge", "-p", surge)
    hand = diff(cluster, config)
    assert hand.exit_code == 1, hand.stdout + hand.stderr
    assert f"# Deployment/{namespace}/{NAME}: spec.strategy.rollingUpdate.maxSurge\n" in hand.stdout
    assert f"--- live/Deployment/{namespace}/{NAME}\n+++ rendered/Deployment/{namespace}/{NAME}\n" in hand.stdout
    assert "-      maxSurge: 3\n+      maxSurge: 1\n" in hand.stdout and "replicas" not in hand.stdout

    # The config no longer renders the Ingress (pruned) nor the env var WORKERS (removed, though kubectl, not
    # ml-gen, applied it); the Service was deleted by hand (created).
    def edit(data: dict[str, Any]) -> None:
        data["environments"]["prod"]["ingress"]["enabled"] = False
        del data["env"]["WORKERS"]

    cluster.kubectl("delete", "service", NAME, "-n", namespace)
    changed = diff(cluster, prod_config(namespace, tmp_path, edit))
    assert changed.exit_code == 1, changed.stdout + changed.stderr
    fields = f"# Deployment/{namespace}/{NAME}: spec.template.spec.containers[{NAME}].env[WORKERS], spec.strategy."
    assert fields in changed.stdout
    assert '-        - name: WORKERS\n-          value: "2"\n' in changed.stdout
    assert f"# Ingress/{namespace}/{NAME}: live, no longer rendered: would be pruned\n" in changed.stdout
    assert f"--- live/Service/{namespace}/{NAME}\n+++ rendered/Service/{namespace}/{NAME}\n" in changed.stdout
    assert "1 changed, 1 to create, 1 to prune, 4 unchanged" in changed.stderr

    # prod is taken out of the config: every live object of the release in its namespace is to be pruned.
    config = prod_config(namespace, tmp_path, lambda data: data["environments"].pop("prod"))
    gone = ml_gen("diff", "prod", "--namespace", namespace, "-c", str(config), "--kubeconfig", str(cluster.kubeconfig))
    assert gone.exit_code == 1, gone.stdout + gone.stderr
    pruned = sorted(line.split("/")[0] for line in gone.stdout.splitlines())
    kinds = ["# Deployment", "# HorizontalPodAutoscaler", "# Ingress", "# NetworkPolicy", "# PodDisruptionBudget"]
    assert pruned == [*kinds, "# ServiceAccount"], gone.stdout  # the Service was deleted above


def test_a_helm_release_right_after_install_has_no_diff(cluster, namespace, tmp_path):
    config = prod_config(namespace, tmp_path)
    assert ml_gen("render", "prod", "-c", str(config)).exit_code == 0
    cluster.helm("install", NAME, str(CHART), "-n", namespace, "-f", str(tmp_path / "values" / "prod.yaml"))
    same = diff(cluster, config)
    assert (same.exit_code, same.stdout) == (0, ""), same.stdout + same.stderr
    # Helm applied it (its own field manager): a field the config no longer renders shows as removed.
    removed = diff(cluster, prod_config(namespace, tmp_path, lambda data: data["env"].pop("WORKERS")))
    assert removed.exit_code == 1, removed.stdout + removed.stderr
    assert f"# Deployment/{namespace}/{NAME}: spec.template.spec.containers[{NAME}].env[WORKERS]\n" in removed.stdout
