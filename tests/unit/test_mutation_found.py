"""Behaviour no other test pinned down, each found by a mutant that survived scripts/mutation (docs/mutation.md)."""

from __future__ import annotations

import os
import re
import socket
import stat
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ml_gen import config, output, project, render, yamlio
from ml_gen.cli import main
from ml_gen.config import files as config_files
from ml_gen.errors import ConfigError, OutputError
from ml_gen.k8s import fields as k8s_fields
from ml_gen.k8s import names as k8s_names
from ml_gen.k8s import quantity as k8s_quantity

CONFIG = """\
name: demo
image:
  repository: myorg/demo
  tag: "1.0"
environments:
  prod:
    namespace: demo-prod
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "w"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _render_error(*args: str) -> str:
    """The one line `ml-gen render` prints for a refused run (exit 2)."""
    result = CliRunner().invoke(main, ["render", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_a_socket_as_config_cannot_be_opened(workdir):
    """open(2) refuses a socket (ENXIO) before ml-gen could ask what kind of file it is."""
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("ml-model.yaml")  # relative: a socket path has a 108-byte limit
        message = _render_error("--all")
    assert message == "ml-gen: error: ml-model.yaml: cannot read: No such device or address\n"


def test_a_block_device_as_config_is_named_a_block_device(workdir):
    try:
        os.mknod("ml-model.yaml", stat.S_IFBLK | 0o600, os.makedev(7, 0))
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")
    message = _render_error("--all")
    assert "ml-model.yaml: is a block device, not a regular file" in message


@pytest.mark.parametrize("length, valid", [(253, True), (254, False)])
def test_a_label_key_prefix_is_at_most_253_characters(length, valid):
    prefix = ".".join(["a" * 63] * 4)[:length]  # a DNS subdomain of exactly `length` characters
    prefix = prefix[:-1] + "b" if prefix.endswith(".") else prefix
    assert len(prefix) == length
    problem = k8s_names.label_key_problem(f"{prefix}/team")
    assert (problem is None) == valid, problem


def test_two_configs_writing_a_values_file_that_sorts_after_the_schema_copy_are_refused(workdir):
    """values/values.schema.json is shared by every config; the clash check goes on past it (to values/west.yaml)."""
    west = CONFIG.replace("prod:\n    namespace: demo-prod", "west:\n    namespace: demo-west")
    Path("a.yaml").write_text(west)
    Path("b.yaml").write_text(west.replace("name: demo", "name: other").replace("demo-west", "other-west"))
    message = _render_error("west", "-c", "a.yaml", "-c", "b.yaml")
    assert "values/west.yaml: would be written from both" in message
    assert "a.yaml (environment west)" in message and "b.yaml (environment west)" in message
    assert not Path("values").exists() and not Path("manifests").exists()


def test_the_library_plans_without_pruning_unless_asked(tmp_path):
    """project.plan() leaves a removed environment's files alone by default, as `ml-gen render` does without --prune."""
    two = CONFIG + "  qa:\n    namespace: demo-qa\n"
    (tmp_path / "ml-model.yaml").write_text(two)
    loaded = config.load(tmp_path / "ml-model.yaml")
    output.commit([project.plan(loaded, loaded.environments)])
    (tmp_path / "ml-model.yaml").write_text(CONFIG)
    loaded = config.load(tmp_path / "ml-model.yaml")
    assert output.commit([project.plan(loaded, ["prod"])]) == []
    assert (tmp_path / "values/qa.yaml").exists()
    assert tmp_path / "values/qa.yaml" in output.commit([project.plan(loaded, ["prod"], prune=True)])
    assert not (tmp_path / "values/qa.yaml").exists()


def test_plan_configs_does_not_prune_unless_asked(tmp_path):
    two = CONFIG + "  qa:\n    namespace: demo-qa\n"
    (tmp_path / "ml-model.yaml").write_text(two)
    output.commit(project.plan_configs([tmp_path], [], True, None))
    (tmp_path / "ml-model.yaml").write_text(CONFIG)
    assert output.commit(project.plan_configs([tmp_path], [], True, None)) == []
    assert (tmp_path / "values/qa.yaml").exists()
    assert tmp_path / "values/qa.yaml" in output.commit(project.plan_configs([tmp_path], [], True, None, prune=True))


@pytest.mark.parametrize("count", [project.PARALLEL_MIN_CONFIGS, 3 * project.PARALLEL_MIN_CONFIGS])
def test_many_configs_are_planned_in_workers_as_one_by_one(tmp_path, count):
    """From PARALLEL_MIN_CONFIGS configs on, plan_configs forks workers (after a warm-up in this process);
    with more, each worker takes chunks of several configs (a whole number of them)."""
    for i in range(count):
        (tmp_path / f"m{i:02d}").mkdir()
        (tmp_path / f"m{i:02d}/ml-model.yaml").write_text(CONFIG.replace("demo", f"demo{i:02d}"))
    plans = project.plan_configs([tmp_path], [], True, None)
    one_by_one = [project.plan_configs([tmp_path / f"m{i:02d}"], [], True, None)[0] for i in range(len(plans))]
    assert [(p.root, p.files) for p in plans] == [(p.root, p.files) for p in one_by_one]
    assert len(plans) == count


def test_a_directory_is_searched_for_configs_outside_git_metadata(tmp_path):
    """`-c DIR` finds every ml-model.yaml below DIR but none inside .git (old objects, hooks' fixtures)."""
    for where in ("a", "b/c", ".git/refs/x", "d/.git"):
        (tmp_path / where).mkdir(parents=True)
        (tmp_path / where / "ml-model.yaml").write_text(CONFIG)
    assert config_files.discover([tmp_path]) == [
        tmp_path / "a" / "ml-model.yaml",
        tmp_path / "b" / "c" / "ml-model.yaml",
    ]


def _resolve(text: str) -> None:
    render.render_environment(config.parse(text, "m.yaml"), "prod")


def _accepted_or_refused(text: str, refused: bool, message: str) -> None:
    """Resolve `text`: accepted, or (refused) a ConfigError whose message matches `message`."""
    if not refused:
        _resolve(text)
        return
    with pytest.raises(ConfigError, match=message):
        _resolve(text)


@pytest.mark.parametrize("percent, refused", [("66%", False), ("67%", True)])
def test_a_pdb_percentage_counts_pods_rounded_up(percent, refused):
    """67% of 3 pods is 2.01, rounded up to 3: every pod kept, so no eviction could ever happen."""
    text = CONFIG + f"    replicas: 3\n    podDisruptionBudget: {{minAvailable: '{percent}'}}\n"
    _accepted_or_refused(text, refused, f"minAvailable {percent} keeps every pod of replicas \\(3\\) running")


@pytest.mark.parametrize("field", ["service", "ingress"])
def test_service_and_ingress_annotation_keys_are_checked(field):
    text = CONFIG + f"    {field}: {{enabled: true, annotations: {{'team name': x}}}}\n"
    if field == "service":
        text = text.replace("enabled: true, ", "")
    with pytest.raises(ConfigError, match="invalid key 'team name'") as caught:
        _resolve(text)
    assert caught.value.path == f"environments.prod.{field}.annotations.team name"


@pytest.mark.parametrize("host, refused", [("10.0.0.255", True), ("255.0.0.1", True), ("256.0.0.1", False)])
def test_an_ingress_host_is_an_ip_address_up_to_255_per_part(host, refused):
    """Kubernetes refuses an IP address as an Ingress host; 256.0.0.1 is no IP address but a valid DNS name."""
    text = CONFIG + f"    ingress: {{enabled: true, host: '{host}'}}\n"
    _accepted_or_refused(text, refused, f"'{host}' is an IP address")


def test_a_pdb_with_both_bounds_is_one_line_naming_both():
    text = CONFIG + "    podDisruptionBudget: {minAvailable: 1, maxUnavailable: 1}\n"
    with pytest.raises(ConfigError) as caught:
        _resolve(text)
    assert str(caught.value) == (
        "m.yaml:8: environments.prod.podDisruptionBudget: give minAvailable or maxUnavailable, not both"
    )


@pytest.mark.parametrize(
    "settings, refusal",
    [
        # no PDB is rendered (disabled, or at most one pod), so its bounds cannot block anything
        ("replicas: 3\n    podDisruptionBudget: {enabled: false, minAvailable: 3}", None),
        ("replicas: 1\n    podDisruptionBudget: {minAvailable: 1}", None),
        # with autoscaling on, the PDB exists from maxReplicas 2 up and must allow an eviction at minReplicas
        (
            "autoscaling: {enabled: true, minReplicas: 1, maxReplicas: 3}\n    podDisruptionBudget: {minAvailable: 1}",
            "minAvailable 1 keeps every pod of autoscaling.minReplicas (1) running",
        ),
    ],
    ids=["disabled", "one-replica", "autoscaling-minimum"],
)
def test_a_pdb_is_judged_only_when_rendered_and_at_the_fewest_pods(settings, refusal):
    text = CONFIG + f"    {settings}\n"
    if refusal is None:
        _resolve(text)
        return
    with pytest.raises(ConfigError, match=re.escape(refusal)):
        _resolve(text)


# Rule refusals outside the bad-input suite (whose messages docs/config-reference.md pins): each one exact line.
EXACT = [
    (
        "shutdownDelaySeconds: 30",
        "8: environments.prod.shutdownDelaySeconds: 30 leaves the server no time to stop: "
        "keep it below terminationGracePeriodSeconds (30)",
    ),
    (
        "env: {A: x}\n    secretEnv: {A: {secret: s, key: k}}",
        "9: environments.prod.secretEnv.A: 'A' is also set in env; give it once",
    ),
    (
        "model: {version: '1'}\n    secretEnv: {MODEL_VERSION: {secret: s, key: k}}",
        "9: environments.prod.secretEnv.MODEL_VERSION: 'MODEL_VERSION' is set by ml-gen from model.version",
    ),
    (
        "model: {uri: 's3://b/m'}\n    env: {MODEL_URI: x}",
        "9: environments.prod.env.MODEL_URI: 'MODEL_URI' is set by ml-gen from model.uri",
    ),
    (
        "security: {privileged: true}",
        "8: environments.prod.security.privileged: needs security.restricted: false (an explicit opt-out)",
    ),
    (
        "probes: {liveness: {command: [a]}}",
        "8: environments.prod.probes.liveness.command: is only used by exec probes (this one is http)",
    ),
    (
        "health: {type: exec}",
        "8: environments.prod.health.type: an exec startup probe needs a command: "
        "health.command or probes.startup.command",
    ),
    (
        "probes: {readiness: {type: exec}}",
        "8: environments.prod.probes.readiness.type: an exec readiness probe needs a command: "
        "health.command or probes.readiness.command",
    ),
    (
        "strategy: {maxSurge: 0, maxUnavailable: '0%'}",
        "8: environments.prod.strategy: maxSurge and maxUnavailable cannot both be 0 (no rollout could start)",
    ),
    (
        "resources: {requests: {cpu: '1e30'}}",
        "8: environments.prod.resources.requests.cpu: 1e30 is too large: "
        "Kubernetes counts cpu in int64 millicores (at most 9223372036854775807)",
    ),
    (
        "resources: {limits: {memory: '1e30'}}",
        "8: environments.prod.resources.limits.memory: 1e30 is too large: "
        "Kubernetes counts memory in int64 units (at most 9223372036854775807)",
    ),
    (
        "ingress: {enabled: true, path: /a//b, pathType: Prefix}",
        "8: environments.prod.ingress.path: must not contain '//' (pathType Prefix)",
    ),
    (
        "ingress: {enabled: true, path: /a/.., pathType: Exact}",
        "8: environments.prod.ingress.path: must not end with '/..' (pathType Exact)",
    ),
    (
        "labels: {app.kubernetes.io/name: x}",
        "8: environments.prod.labels.app.kubernetes.io/name: 'app.kubernetes.io/name' is set by ml-gen",
    ),
    (
        "tolerations: [{key: k, operator: Exists, value: v}]",
        "8: environments.prod.tolerations[0].value: must be empty with operator: Exists",
    ),
]


@pytest.mark.parametrize("settings, message", EXACT, ids=[s.split(":")[0] for s, _ in EXACT])
def test_rule_refusals_are_one_exact_line(settings, message):
    with pytest.raises(ConfigError) as caught:
        _resolve(CONFIG + f"    {settings}\n")
    assert str(caught.value) == f"m.yaml:{message}"


def test_an_implementation_specific_ingress_path_is_left_to_the_controller():
    _resolve(CONFIG + "    ingress: {enabled: true, path: /a/.., pathType: ImplementationSpecific}\n")


@pytest.mark.parametrize(
    "args, message",
    [
        (["prod", "--all"], "give environment names or --all, not both"),
        (["qa"], "ml-model.yaml: unknown environment 'qa' (known: prod, dev)"),
    ],
    ids=["names-and-all", "unknown-environment"],
)
def test_environment_selection_errors_are_one_exact_line(workdir, args, message):
    Path("ml-model.yaml").write_text(CONFIG + "  dev:\n    namespace: demo-dev\n")
    assert _render_error(*args) == f"ml-gen: error: {message}\n"


@pytest.mark.parametrize("uid, refused", [(9999, True), (10000, False)])
def test_the_restricted_profile_starts_at_id_10000(uid, refused):
    text = CONFIG + f"    security: {{runAsUser: {uid}, runAsGroup: {uid}}}\n"
    _accepted_or_refused(text, refused, "runAsUser: must be at least 10000 under the restricted profile")


def test_resources_merge_into_the_default_requests_and_limits():
    """Requests and limits always hold the defaults' keys (a check for a missing cpu request was dead code)."""
    loaded = config.parse(CONFIG + "    resources: {requests: {cpu: '1'}, limits: {}}\n", "m.yaml")
    assert loaded.resolve("prod").settings["resources"] == {
        "requests": {"cpu": "1", "memory": "512Mi", "ephemeral-storage": "256Mi"},
        "limits": {"memory": "1Gi", "ephemeral-storage": "2Gi"},
    }


def test_a_rendered_environment_names_its_namespace():
    """validate --server checks (or creates) this namespace; only the live tests used it before."""
    loaded = config.parse(CONFIG + "  dev:\n    namespace: demo-dev\n", "m.yaml")
    assert [render.render_environment(loaded, env).namespace for env in ("prod", "dev")] == ["demo-prod", "demo-dev"]


@pytest.mark.parametrize(
    "text, value",
    [
        ("1e0", Decimal(1)),  # an exponent of zero digits after stripping zeros
        ("2e-00", Decimal(2)),
        ("5e-3", Decimal("0.005")),
        ("1e0000000003", Decimal(1000)),  # leading zeros do not count against the exponent's 8 digits
        ("1.5n", Decimal("2e-9")),  # rounded up to 1n steps, as Kubernetes does
        ("1.2n", Decimal("2e-9")),
        ("300.0000000001", Decimal("300.000000001")),
    ],
)
def test_quantity_exponents_and_rounding(text, value):
    assert k8s_quantity.quantity(text) == value


def test_a_dozen_configs_are_planned_in_one_process(tmp_path):
    """Below PARALLEL_MIN_CONFIGS no worker is started (a worker count of 1.5 would be a crash)."""
    for i in range(12):
        (tmp_path / f"m{i:02d}").mkdir()
        (tmp_path / f"m{i:02d}/ml-model.yaml").write_text(CONFIG.replace("demo", f"demo{i:02d}"))
    assert len(project.plan_configs([tmp_path], [], True, None)) == 12


def test_strings_inside_lists_are_checked_for_what_helm_cannot_render():
    text = CONFIG + '    health: {type: exec, command: [sh, "a\\x7fb"]}\n'
    with pytest.raises(ConfigError, match=r"health\.command\[1\]: contains U\+007F, which Helm cannot render"):
        _resolve(text)


def test_a_foreign_values_file_sorting_after_the_schema_copy_is_refused(tmp_path):
    """values/zz.yaml sorts after values/values.schema.json: the check goes on past the schema copy."""
    (tmp_path / "ml-model.yaml").write_text(CONFIG + "  zz:\n    namespace: demo-zz\n")
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "zz.yaml").write_text("# hand-written\nreplicaCount: 3\n")
    plans = project.plan_configs([tmp_path / "ml-model.yaml"], [], True, None)
    with pytest.raises(OutputError, match="values/zz.yaml: not written by ml-gen"):
        output.commit(plans)
    assert (tmp_path / "values" / "zz.yaml").read_text() == "# hand-written\nreplicaCount: 3\n"


@pytest.mark.parametrize(
    "text",
    ["not json at all\n", '{"title": "my own schema", "type": "object"}\n', '["a JSON array"]\n'],
    ids=["not-json", "another-title", "not-an-object"],
)
def test_a_values_schema_ml_gen_did_not_copy_is_refused(tmp_path, text):
    """values/values.schema.json is replaced only when it is a copy of the chart's schema (by its title)."""
    (tmp_path / "ml-model.yaml").write_text(CONFIG)
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "values.schema.json").write_text(text)
    plans = project.plan_configs([tmp_path / "ml-model.yaml"], [], True, None)
    with pytest.raises(OutputError, match="values.schema.json: not written by ml-gen"):
        output.commit(plans)
    assert (tmp_path / "values" / "values.schema.json").read_text() == text


def test_keys_count_towards_the_nesting_limit():
    """YAML complex keys (`? key`) nest too: 70 keys inside keys are refused like 70 nested lists."""
    with pytest.raises(ConfigError, match="^m.yaml:1: nested more than 64 levels deep$"):
        yamlio.load_config_yaml("? " * 70 + "a\n", "m.yaml")


def test_a_control_character_is_placed_on_its_line_after_a_leading_blank_line():
    with pytest.raises(ConfigError, match="^m.yaml:2: YAML does not allow the control character U[+]0007"):
        yamlio.load_config_yaml("\nname: a\x07b\n", "m.yaml")


@pytest.mark.parametrize(
    "error, message",
    [
        (yaml.MarkedYAMLError(problem="a problem without a place"), "m.yaml: YAML syntax error: a problem without"),
        (yaml.YAMLError("an error of an unknown kind"), "m.yaml: YAML error: an error of an unknown kind"),
    ],
    ids=["marked-without-mark", "unknown-yaml-error"],
)
def test_a_parser_error_without_a_place_is_still_one_line(monkeypatch, error, message):
    """Errors PyYAML may raise without a line today or in a later version: still file and message."""

    def compose(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(yamlio.yaml, "compose", compose)
    with pytest.raises(ConfigError) as refused:
        yamlio.load_config_yaml("name: a\n", "m.yaml")
    assert str(refused.value).startswith(message), str(refused.value)


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "10.0.0.0/8", "fd00::/64", "192.168.1.1/32"])
def test_canonical_cidrs_are_accepted(cidr):
    """The API server's canonical forms, a prefix of 0 included (not a leading zero)."""
    assert k8s_fields.cidr_problem(cidr) is None


def test_tmp_may_be_as_large_as_the_ephemeral_storage_limit():
    _resolve(CONFIG + "    tmpSizeLimit: 2Gi\n")  # the default limit: accepted
    with pytest.raises(ConfigError, match="2049Mi is above the ephemeral-storage limit 2Gi"):
        _resolve(CONFIG + "    tmpSizeLimit: 2049Mi\n")
