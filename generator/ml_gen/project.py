"""Whole runs: find configs, resolve the asked-for environments, and plan, write or check output."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_gen import config as config_mod
from ml_gen import delivery
from ml_gen.config import Config, schema_errors
from ml_gen.config.files import discover, display, select_environments
from ml_gen.errors import ConfigError, UsageError
from ml_gen.output import SCHEMA_OWNER, Plan, Release, commit, layout, preflight
from ml_gen.output.plan import Identity
from ml_gen.render import Rendered, render_environment

if TYPE_CHECKING:
    from ml_gen.check.report import Report
    from ml_gen.drift.live import Change
    from ml_gen.edit import Edit


def load_all(paths: Iterable[str | Path]) -> list[Config]:
    """Load and schema-check every config before anything is rendered."""
    loaded = [config_mod.load(display(path)) for path in discover(paths)]
    refuse_shared_namespaces(r for c in loaded for r in releases(c))
    return loaded


def plan(config: Config, envs: list[str], out: Path | None = None, prune: bool = False) -> Plan:
    """Every file of the given environments of one config, under `out` (default: beside the config);
    with prune, also the removal of files of environments no longer in the config."""
    result = Plan(Path(out) if out is not None else config.directory, prune=prune)
    result.environments = set(config.environments)
    result.releases = releases(config)
    result.named_at = (config.file, config.line(("name",)))
    under = output_place(config, out)
    for env in envs:
        rendered = render_environment(config, env)
        result.add_environment(Path(config.file).name, env, rendered.values, rendered.objects)
        result.add_delivery(Path(config.file).name, env, delivery_objects(rendered, under))
    return result


def output_place(config: Config, out: Path | None) -> Path:
    """Where the output root is relative to the config's directory (the delivery setting's `path`): `out`'s
    place when it is inside that directory; else "." (beside the config, or an --out elsewhere: the delivery
    objects are those a render beside the config writes; docs/delivery.md)."""
    if out is None:
        return Path(".")
    place = os.path.relpath(os.path.realpath(out), os.path.realpath(config.directory))
    return Path(".") if place == os.pardir or place.startswith(os.pardir + os.sep) else Path(place)


def delivery_objects(rendered: Rendered, under: Path = Path(".")) -> list[dict[str, Any]]:
    """The objects that deploy one rendered environment (ml_gen.delivery), for the output layout; `under` is
    the output root's place under the config's directory."""
    env = rendered.env
    where = delivery.Where(
        rendered.config.name,
        rendered.namespace,
        env,
        under / layout.values_file(env),
        under / layout.manifests_dir(env),
        rendered.settings,
        rendered.values,
    )
    return delivery.objects(where)


def releases(config: Config) -> list[Release]:
    """What each environment of a config deploys where: (name, namespace, file, environment, line)."""
    return [
        (config.name, settings["namespace"], config.file, env, config.line(("environments", env, "namespace")))
        for env, settings in config.data["environments"].items()
    ]


def refuse_shared_namespaces(found: Iterable[Release]) -> None:
    """Two configs that deploy the same name into the same namespace would overwrite each other."""
    first: dict[tuple[str, str], Release] = {}
    for release in found:
        name, namespace, file, env, line = release
        other = first.setdefault((name, namespace), release)
        if other[2] != file:
            raise ConfigError(
                file,
                f"environments.{env}.namespace",
                f"deploys '{name}' into '{namespace}', as {other[2]} (environment {other[3]}) does: "
                "give one of them another name or namespace",
                line,
            )


def refuse_clashes(plans: list[Plan]) -> None:
    """Refuse, before anything is written, two configs that would write one file or deploy one
    name into one namespace."""
    refuse_shared_namespaces(r for p in plans for r in p.releases)
    written: dict[str, str] = {}
    for p in plans:
        root = os.path.realpath(p.root)
        sources: dict[tuple[str, str], str] = {}  # (config, env) -> how messages name it, joined once
        for rel, (config, env) in sorted(p.owners.items()):
            if (config, env) == SCHEMA_OWNER:  # the same copy of the chart's schema, whoever writes it
                continue
            if (config, env) not in sources:
                sources[config, env] = f"{p.root / config} (environment {env})"
            source = sources[config, env]
            other = written.setdefault(os.path.join(root, rel), source)
            if other != source:
                raise UsageError(
                    f"{p.root / rel}: would be written from both {other} and {source}: "
                    "give each config its own directory"
                )
    refuse_shared_objects(plans)


def refuse_shared_objects(plans: list[Plan]) -> None:
    """Two configs whose environments would write one object (an Argo CD Application, a Flux HelmRelease, a
    dashboard's ConfigMap: the same kind, namespace and name) or one Grafana dashboard uid would overwrite
    each other's."""
    first: dict[Identity, tuple[Plan, str]] = {}
    for p in plans:
        for identity, env in p.identities.items():
            other, other_env = first.setdefault(identity, (p, env))
            if other is not p:
                group, kind, namespace, name = identity
                what = f"dashboard uid '{name}'" if kind == "dashboard uid" else f"{kind} {namespace}/{name}"
                file, line = p.named_at
                raise ConfigError(
                    file,
                    "name",
                    f"environment {env} writes {what}, as {other.named_at[0]} (environment {other_env}) does: "
                    "give one of them another name",
                    line,
                )


def refuse_chart_output(root: Path) -> None:
    """Refuse an output root inside a Helm chart (helm package would ship the rendered files)."""
    here = Path(os.path.realpath(root))
    for directory in (here, *here.parents):
        if (directory / "Chart.yaml").is_file():
            raise UsageError(
                f"{root}: is inside the Helm chart {display(directory)} (it has a Chart.yaml), and `helm package` "
                "would ship the rendered files: render outside the chart directory"
            )


PARALLEL_MIN_CONFIGS = 16
"""Below this many configs one process is faster than starting workers (see docs/benchmarks.md)."""


def plan_configs(
    paths: Iterable[str | Path], envs: Iterable[str], all_envs: bool, out: Path | None, prune: bool = False
) -> list[Plan]:
    """Load, check and plan every config (in worker processes when there are many); with --out, only one.
    Refuses clashes between configs and output inside a chart before anything is written."""
    files = [display(f) for f in discover(paths)]
    if out is not None and len(files) > 1:
        raise UsageError("--out works with one config; several configs each render beside their own file")
    jobs = [(file, tuple(envs), all_envs, out, prune) for file in files]
    workers = min(os.cpu_count() or 1, len(jobs) // (PARALLEL_MIN_CONFIGS // 2))
    if workers > 1 and hasattr(os, "fork"):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _warm_up()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            plans = list(pool.map(_plan_job, jobs, chunksize=max(1, len(jobs) // (workers * 8))))
    else:
        plans = [_plan_job(job) for job in jobs]
    for p in plans:
        preflight(p.root)
    for root in dict.fromkeys(p.root for p in plans):
        refuse_chart_output(root)
    refuse_clashes(plans)
    return plans


def _plan_job(job: tuple[str, tuple[str, ...], bool, Path | None, bool]) -> Plan:
    file, envs, all_envs, out, prune = job
    loaded = config_mod.load(file)
    return plan(loaded, select_environments(loaded, envs, all_envs), out, prune)


def _warm_up() -> None:
    """Compile the schema check once, before workers are forked (a valid config, so jsonschema,
    needed only to explain errors, stays unimported)."""
    minimal = {"name": "warm-up", "image": {"repository": "r", "tag": "1"}, "environments": {"e": {"namespace": "e"}}}
    if schema_errors.first_problem(config_mod.schema(), minimal) is not None:
        raise AssertionError("the warm-up config no longer matches the schema")


def write(plans: list[Plan]) -> list[Path]:
    """Write all plans as one transaction."""
    return commit(plans)


def write_edit(edit: Edit, render_after: bool) -> tuple[list[Plan], list[Path]]:
    """Write an edited config and, with render_after, its edited environments' output rendered from the
    edited text, as one transaction: both or neither. Returns the plans (none without render_after) and
    the output paths written or removed."""
    plans = []
    if render_after:
        assert edit.config is not None  # an Edit is checked (and rendered) before it is returned
        rendered = plan(edit.config, edit.envs)
        preflight(rendered.root)
        refuse_chart_output(rendered.root)
        refuse_clashes([rendered])
        plans = [rendered]
    return plans, commit(plans, edit.writes())


def stale(plans: list[Plan]) -> list[Plan]:
    """The plans whose output tree differs from what a render would write (`render --check`);
    refuses, as a render would, a foreign file or a symlink where ml-gen writes."""
    for p in plans:
        p.refuse_foreign()
    return [p for p in plans if any(p.changes())]


@dataclass
class Cluster:
    """Where `validate --server` dry-runs: a kubeconfig and context (defaults: $KUBECONFIG, current)."""

    kubeconfig: str | None = None
    context: str | None = None
    create_namespace: bool = False


def validate(
    paths: Iterable[str | Path],
    envs: Iterable[str],
    all_envs: bool,
    kube_version: str | None = None,
    cluster: Cluster | None = None,
) -> Report:
    """`ml-gen validate`: every asked-for environment of every config, offline and (with a cluster)
    dry-run on its API server."""
    from ml_gen.check import offline  # validate only: the schemas' validators and the kinds' checks

    loaded = load_all(paths)
    rendered = [render_environment(c, e) for c in loaded for e in select_environments(c, envs, all_envs)]
    report = offline.offline(rendered, kube_version)
    report += offline.delivery([(item, delivery_objects(item)) for item in rendered])
    if cluster is not None:
        from ml_gen.check import server

        report += server.dry_run(rendered, cluster.kubeconfig, cluster.context, cluster.create_namespace)
    return report


def diff(paths: Iterable[str | Path], env: str, cluster: Cluster, namespace: str | None = None) -> list[Change]:
    """`ml-gen diff`: what applying environment `env` of every config would change on its cluster; for an
    environment no longer in a config, the release's live objects in `namespace`, all to prune."""
    from ml_gen.drift import live  # diff only: the kubernetes client

    changes = []
    for config in load_all(paths):
        if env in config.data["environments"] and namespace is not None:
            raise UsageError(
                f"{config.file}: environment '{env}' is in the config (namespace "
                f"'{config.data['environments'][env]['namespace']}'): --namespace is for one no longer there"
            )
        if env in config.data["environments"]:
            changes += live.diff(render_environment(config, env), cluster.kubeconfig, cluster.context)
        elif namespace is not None:
            changes += live.removed(config.name, namespace, cluster.kubeconfig, cluster.context)
        else:
            raise UsageError(
                f"{config.file}: unknown environment '{env}' (known: {', '.join(config.environments)}); for one "
                "removed from the config, --namespace NS lists its live objects to prune"
            )
    return changes
