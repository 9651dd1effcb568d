"""The ml-gen command line: parse arguments, call the library, report errors and exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ml_gen import __version__
from ml_gen.errors import EXIT_FAILED, EXIT_INTERNAL, MlGenError, OutOfDate, WouldBeRefused, one_line
from ml_gen.stdout import StdoutFailed

if TYPE_CHECKING:
    from ml_gen.edit import Edit
    from ml_gen.output import Plan

CONFIG_HELP = "Model config file, or a directory searched for ml-model.yaml (repeatable). Default: ./ml-model.yaml."


def _configs(configs: tuple[str, ...]) -> list[str]:
    return list(configs) or ["ml-model.yaml"]


def _fail(error: MlGenError) -> None:
    click.echo(f"ml-gen: error: {one_line(str(error))}", err=True)
    sys.exit(error.exit_code)


class _Group(click.Group):
    """Turns every MlGenError raised by a command into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlGenError as error:
            _fail(error)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, StdoutFailed):
            raise  # StdoutFailed: ml_gen.stdout.run ends the program
        except Exception as error:  # a bug in ml-gen: say so in one line, keep the traceback opt-in
            if os.environ.get("ML_GEN_DEBUG"):
                raise
            what = one_line(f"{type(error).__name__}: {error}")
            click.echo(f"ml-gen: internal error: {what} (set ML_GEN_DEBUG=1 for details)", err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ml-gen")
def main() -> None:
    """Render one model config (ml-model.yaml) into Helm values and plain Kubernetes manifests.

    Exit codes: 0 success, 1 check or validation failed, diff found changes, or
    stdout not writable, 2 bad usage or bad config, 3 internal error (a bug in
    ml-gen), 4 the API server of --server or diff could not be reached, 141
    stdout's reader went away (a closed pipe).
    """


config_option = click.option("--config", "-c", "configs", multiple=True, metavar="PATH", help=CONFIG_HELP)
all_option = click.option("--all", "all_envs", is_flag=True, help="Every environment of each config.")


@main.command()
@click.argument("envs", nargs=-1)
@all_option
@config_option
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Output root (default: the config's directory)."
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff if files on disk are stale or missing.")
@click.option(
    "--prune", is_flag=True, help="Also remove the files of environments no longer in the config (--all does too)."
)
def render(
    envs: tuple[str, ...], all_envs: bool, configs: tuple[str, ...], out: Path | None, check: bool, prune: bool
) -> None:
    """Write values/ENV.yaml, manifests/ENV/ and, with a delivery setting, delivery/ENV/ for each environment."""
    from ml_gen import project

    prune = prune or all_envs
    plans = project.plan_configs(_configs(configs), envs, all_envs, out, prune or check)
    if check:
        stale = project.stale(plans)
        for p in stale:
            click.echo(p.diff(), nl=False)
        _notes(plans)
        if stale:
            raise OutOfDate(len(stale), prune_too=any(not prune and p.leftovers() for p in stale))
        click.echo(f"up to date: {sum(len(p.files) for p in plans)} files")
        return
    touched = project.write(plans)
    _notes(plans)
    total = sum(len(p.files) for p in plans)
    click.echo(f"rendered {total} files ({len(touched)} written or removed)")


def _notes(plans: list[Plan]) -> None:
    """One stderr line per file ml-gen left alone: foreign files beside its output, and leftovers
    of removed environments when not pruning."""
    for p in plans:
        for rel in p.left():
            click.echo(f"ml-gen: note: left {p.root / rel} (not written by ml-gen from {p.config})", err=True)
        if not p.prune:
            for rel in p.leftovers():
                click.echo(
                    f"ml-gen: note: left {p.root / rel}: its environment is no longer in {p.config} "
                    "(ml-gen render --prune removes it)",
                    err=True,
                )


@main.command()
@click.argument("envs", nargs=-1)
@all_option
@config_option
@click.option(
    "--kube-version", default=None, help="Kubernetes version of the OpenAPI schemas (default: newest shipped)."
)
@click.option("--server", is_flag=True, help="Also dry-run every object on a cluster with strict field validation.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig for --server (default: $KUBECONFIG).")
@click.option("--context", "kube_context", help="Kubeconfig context for --server.")
@click.option("--create-namespace", is_flag=True, help="With --server, create missing namespaces.")
def validate(
    envs: tuple[str, ...],
    all_envs: bool,
    configs: tuple[str, ...],
    kube_version: str | None,
    server: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    create_namespace: bool,
) -> None:
    """Check the config, the values and every rendered object (offline, or --server)."""
    from ml_gen import project

    cluster = project.Cluster(kubeconfig, kube_context, create_namespace) if server else None
    report = project.validate(_configs(configs), envs, all_envs, kube_version, cluster)
    for line in report.lines():
        click.echo(line)
    report.raise_if_failed()


@main.command()
@click.argument("env")
@config_option
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig (default: $KUBECONFIG).")
@click.option("--context", "kube_context", help="Kubeconfig context (default: the current one).")
@click.option(
    "--namespace", help="For an ENV no longer in the config: its namespace, whose objects of the release are pruned."
)
def diff(
    env: str, configs: tuple[str, ...], kubeconfig: str | None, kube_context: str | None, namespace: str | None
) -> None:
    """Show what applying environment ENV would change on its cluster.

    Each rendered object is dry-run applied server-side and compared with the live object, leaving out
    status, the server's metadata and defaults, and fields other managers own (an HPA's replicas): a
    unified diff per object (Secret values masked), objects to create, and the release's live objects
    no longer rendered (to prune). Exit 0 no change, 1 changes, 2 bad config or an object the cluster
    refuses, 4 cluster unreachable.
    """
    from ml_gen import project
    from ml_gen.drift import live

    changes = project.diff(_configs(configs), env, project.Cluster(kubeconfig, kube_context), namespace)
    for change in changes:
        click.echo(change.text(), nl=False)
    refused = [f"{c.label}: {problem}" for c in changes for problem in c.problems]
    if refused:
        raise WouldBeRefused(refused[0] + (f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""))
    click.echo(f"ml-gen: {env}: {live.summary(changes)}", err=True)
    if any(c.action != "same" for c in changes):
        sys.exit(EXIT_FAILED)


@main.command()
@config_option
def envs(configs: tuple[str, ...]) -> None:
    """List each config's environments and namespaces."""
    from ml_gen import project

    for config in project.load_all(_configs(configs)):
        for env, settings in config.data["environments"].items():
            click.echo(f"{config.file}\t{env}\t{settings['namespace']}")


@main.command()
def schema() -> None:
    """Print the JSON Schema of ml-model.yaml."""
    from ml_gen import config

    click.echo(config.schema_text(), nl=False)


@main.command()
@click.argument("name")
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@click.option(
    "--config",
    "-c",
    "config_file",
    default="ml-model.yaml",
    help="The config's file name, relative to DIRECTORY (default: ml-model.yaml).",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist (never symlinks or directories).")
@click.option("--config-only", is_flag=True, help="Write only the config and its schema (for a server you have).")
@click.option(
    "--ml-gen-requirement",
    metavar="REQ",
    help="Where CI installs ml-gen from, pinned: 'ml-gen @ git+https://...@<commit>' (default: this one's source).",
)
def init(
    name: str, directory: Path, config_file: str, force: bool, config_only: bool, ml_gen_requirement: str | None
) -> None:
    """Write a serving project for the model server NAME into DIRECTORY (default: here).

    The config (ml-model.yaml and its schema), a Flask/gunicorn model server (model_server/,
    gunicorn.conf.py), train.py, requirements.txt, a two-stage Dockerfile, .dockerignore, the
    server's tests, a README and a GitHub Actions workflow. Nothing is written when any file
    exists (unless --force) or cannot be written.
    """
    from ml_gen import starter

    written = starter.write(
        name, directory, config_file, force=force, config_only=config_only, ml_gen_requirement=ml_gen_requirement
    )
    where = "" if str(directory) == "." else f" in {directory}"
    click.echo(f"wrote {len(written)} files{where}: {', '.join(str(p) for p in written) or 'none (all up to date)'}")
    click.echo(f"next: {starter.next_steps(directory, config_file, config_only)}")


@main.group()
def chart() -> None:
    """The ml-model-api Helm chart shipped with ml-gen."""


@chart.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def chart_export(directory: Path) -> None:
    """Copy the chart to DIRECTORY/ml-model-api."""
    from ml_gen import chart as chart_mod

    click.echo(f"wrote {chart_mod.export(directory)}")


def _report_edit(edit: Edit, render_after: bool) -> None:
    """Write the edit (and its render) as one transaction, then say what was done."""
    from ml_gen import project

    plans, touched = project.write_edit(edit, render_after)
    for change in edit.changes:
        click.echo(str(change))
    click.echo(f"updated {edit.file}" if edit.changed else f"{edit.file} already says so; not rewritten")
    if render_after:
        click.echo(f"rendered {sum(len(p.files) for p in plans)} files ({len(touched)} written or removed)")


render_option = click.option("--render", "render_after", is_flag=True, help="Also render the edited environments.")


@main.command("set-image")
@click.argument("envs", nargs=-1, required=True)
@click.option("--tag", help="Image tag to deploy, e.g. a git SHA or 1.5.0.")
@click.option("--digest", help="Image digest to deploy, sha256:<64 hex digits>.")
@click.option("--config", "-c", "configs", multiple=True, metavar="PATH", help="The model config to edit.")
@render_option
def set_image(
    envs: tuple[str, ...], tag: str | None, digest: str | None, configs: tuple[str, ...], render_after: bool
) -> None:
    """Set environments.ENV.image.tag (or .digest) in the config, keeping its comments and layout."""
    from ml_gen import edit

    _report_edit(edit.set_image(edit.config_file(_configs(configs)), list(envs), tag=tag, digest=digest), render_after)


@main.command("set-model")
@click.argument("envs", nargs=-1, required=True)
@click.option("--version", "version", required=True, help="Model version, e.g. 1.5.0.")
@click.option("--uri", help="Where the model comes from, e.g. models:/iris/3 or s3://bucket/iris/3/.")
@click.option("--sha256", help="The sha256 of the new model file (needed for https://).")
@click.option("--config", "-c", "configs", multiple=True, metavar="PATH", help="The model config to edit.")
@render_option
def set_model(
    envs: tuple[str, ...],
    version: str,
    uri: str | None,
    sha256: str | None,
    configs: tuple[str, ...],
    render_after: bool,
) -> None:
    """Set environments.ENV.model.version (and .uri, .sha256) in the config, keeping its comments and layout.

    Only the model changes: the rollout fetches the new model with the same image.
    """
    from ml_gen import edit

    file = edit.config_file(_configs(configs))
    _report_edit(edit.set_model(file, list(envs), version, uri, sha256), render_after)


@main.command()
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@click.option("--allow-tag", is_flag=True, help="Copy FROM's image tag when it runs no digest.")
@click.option("--config", "-c", "configs", multiple=True, metavar="PATH", help="The model config to edit.")
@render_option
def promote(source: str, target: str, allow_tag: bool, configs: tuple[str, ...], render_after: bool) -> None:
    """Set environment TO's image digest, model version, uri and sha256 to what FROM runs, keeping comments and layout.

    Promotion is by digest ("TO runs what FROM ran"): refused when FROM runs a tag, unless --allow-tag.
    """
    from ml_gen import edit

    _report_edit(edit.promote(edit.config_file(_configs(configs)), source, target, allow_tag), render_after)
