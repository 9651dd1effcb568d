"""Load a model config, check it against its schema and rules, and resolve environments."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ml_gen.config import schema_errors
from ml_gen.errors import ConfigError, UsageError, os_reason
from ml_gen.yamlio import FieldPath, dotted, load_config_yaml

DEFAULT_CONFIG = "ml-model.yaml"

# The lowest layer under every environment; documented in the README's config reference.
# image.pullPolicy has no default here: values.build() picks Kubernetes' own (Always for the tag latest).
DEFAULTS: dict[str, Any] = {
    "target": "deployment",
    "port": 5000,
    "replicas": 1,
    "resources": {
        "requests": {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "256Mi"},
        "limits": {"memory": "1Gi", "ephemeral-storage": "2Gi"},
    },
    "gpu": 0,
    "health": {"livenessPath": "/health", "readinessPath": "/health"},
    "probes": {
        "startup": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 30},
        "liveness": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
        "readiness": {"periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
    },
    "autoscaling": {"enabled": False, "minReplicas": 2, "maxReplicas": 5},
    "service": {"type": "ClusterIP", "port": 80},
    "ingress": {"enabled": False, "path": "/", "pathType": "Prefix"},
    "metrics": {
        "enabled": False,
        "path": "/metrics",
        "serviceMonitor": {"enabled": False, "interval": "30s", "labels": {}},
        "alerts": {"enabled": False, "labels": {}, "errorRatio": 0.05, "p99LatencySeconds": 1.0, "for": "5m"},
        "dashboard": {
            "enabled": False,
            "label": "grafana_dashboard",
            "labelValue": "1",
            "folderAnnotation": "grafana_folder",
            "folder": "",
            "namespace": "",
        },
    },
    "networkPolicy": {
        "enabled": True,
        "allowNamespaces": [],
        "metricsNamespaces": [],
        "egress": {"restricted": False, "cidrs": [], "namespaces": []},
    },
    "strategy": {"maxSurge": 1, "maxUnavailable": 0},
    "podDisruptionBudget": {"enabled": True},
    "terminationGracePeriodSeconds": 30,
    "shutdownDelaySeconds": 0,
    "tmpSizeLimit": "1Gi",
    "model": {
        "fetch": {
            "sizeLimit": "1Gi",
            "command": ["python", "-m", "model_server.fetch"],
            "resources": {
                "requests": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
                "limits": {"memory": "512Mi", "ephemeral-storage": "1Gi"},
            },
        },
    },
    "kserve": {"deploymentMode": "RawDeployment", "predictor": "server"},
    "knative": {
        "initContainers": False,
        "containerConcurrency": 0,
        "timeoutSeconds": 300,
        "metric": "concurrency",
        "target": 100,
    },
    "security": {
        "restricted": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "allowLatestTag": False,
    },
}


@lru_cache(maxsize=1)
def schema_text() -> str:
    """The JSON Schema of ml-model.yaml, as shipped in the package."""
    return (Path(__file__).parent.parent / "schema" / "ml-model.schema.json").read_text("utf-8")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@dataclass
class Config:
    """A schema-checked model config and where each of its fields was written."""

    file: str
    data: dict[str, Any]
    lines: dict[FieldPath, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def environments(self) -> list[str]:
        return list(self.data["environments"])

    @property
    def directory(self) -> Path:
        return Path(self.file).parent

    def error(self, path: FieldPath, message: str) -> ConfigError:
        """A ConfigError for a field path, with the line it was written on."""
        return ConfigError(self.file, dotted(path), message, self.line(path))

    def line(self, path: FieldPath) -> int | None:
        """The line a field (or its nearest written parent) is on."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def resolve(self, env: str) -> EnvConfig:
        """Merge the environment's overrides over the base and defaults (render checks the result: rules.check)."""
        if env not in self.data["environments"]:
            known = ", ".join(self.environments)
            raise UsageError(f"{self.file}: unknown environment '{env}' (known: {known})")
        layer = self.data["environments"][env]
        override = {k: v for k, v in layer.items() if k != "namespace"}
        base = {k: v for k, v in self.data.items() if k not in ("name", "environments")}
        # merge() shares untouched branches with its inputs; a JSON round trip (C speed, and the
        # data is JSON-shaped) gives the caller settings it may change without touching the config.
        settings = json.loads(json.dumps(merge(merge(DEFAULTS, base), override)))
        return EnvConfig(self, env, layer["namespace"], settings, override)


@dataclass
class EnvConfig:
    """One environment's settings after merging: what values.build() turns into chart values."""

    config: Config
    env: str
    namespace: str
    settings: dict[str, Any]
    override: dict[str, Any]

    @property
    def name(self) -> str:
        return self.config.name

    def error(self, *path: str | int, message: str) -> ConfigError:
        """A ConfigError at the place a setting came from: the environment's override or the base."""
        node: Any = self.override
        for key in path:
            in_list = isinstance(node, list)  # lists replace: the settings' list is this one, an index fits
            if not in_list and (not isinstance(node, dict) or key not in node):
                return self.config.error(tuple(path), message)
            node = node[key]
        return self.config.error(("environments", self.env, *path), message)


# Maps whose keys the user chooses: an empty one in an override clears the inherited map (otherwise
# an environment could never drop, say, a GPU node selector it inherits). Settings maps always merge.
_FREE_FORM: set[FieldPath] = {
    ("env",),
    ("secretEnv",),
    ("configFiles",),
    ("labels",),
    ("annotations",),
    ("nodeSelector",),
    ("service", "annotations"),
    ("ingress", "annotations"),
    ("metrics", "serviceMonitor", "labels"),
    ("metrics", "alerts", "labels"),
    ("model", "credentials"),  # `credentials: {}`: an environment whose store needs none (a public hub, a claim)
}
# Keys of which a layer sets at most one: an override that sets one drops the others (and merges into its own).
_ONE_OF: dict[FieldPath, tuple[str, ...]] = {
    ("image",): ("tag", "digest"),
    ("podDisruptionBudget",): ("minAvailable", "maxUnavailable"),
    ("delivery",): ("argocd", "flux"),
}
# A key and the key that belongs to its value: an override that sets the first without the second drops
# the inherited second (a checksum is the checksum of one file).
_TIED: dict[FieldPath, tuple[str, str]] = {("model",): ("uri", "sha256")}


def merge(base: dict[str, Any], override: dict[str, Any], path: FieldPath = ()) -> dict[str, Any]:
    """A new map: maps merge deeply, lists and scalars replace, an empty user-keyed map clears; an
    image tag or digest (a PDB's minAvailable or maxUnavailable, a delivery tool) replaces both; a model.uri without its
    sha256 drops the inherited sha256. Inputs are not changed."""
    out = dict(base)
    for key, value in override.items():
        here = path + (key,)
        old = out.get(key)
        if not (isinstance(value, dict) and isinstance(old, dict)):
            out[key] = value
        elif not value and here in _FREE_FORM:
            out[key] = {}
        else:
            one_of: tuple[str, ...] = _ONE_OF.get(here, ())
            if any(k in value for k in one_of):  # the others of the group go; the one set merges
                old = {k: v for k, v in old.items() if k not in one_of or k in value}
            key_of, tied = _TIED.get(here, ("", ""))
            if key_of in value and tied not in value:
                old = {k: v for k, v in old.items() if k != tied}
            out[key] = merge(old, value, here)
    return out


def load(file: str | Path) -> Config:
    """Read and schema-check a model config file."""
    file = str(file)
    return parse(read_text(file), file)


def read_text(file: str) -> str:
    """A config file's text; refuses directories, FIFOs and devices without reading (or blocking on) them."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once and is refused below
    except FileNotFoundError:
        missing = "a symlink to a missing file" if os.path.islink(file) else "no such file"
        raise ConfigError(file, "", f"{missing} (create one with 'ml-gen init NAME')") from None
    except OSError as err:  # a directory opens read-only: fstat below names it
        raise ConfigError(file, "", f"cannot read: {os_reason(err)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(file, "", "is a directory, not a config file")
        if not stat.S_ISREG(mode):
            raise ConfigError(file, "", f"is a {_file_kind(mode)}, not a regular file: ml-gen reads configs from files")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read()
    except OSError as err:
        raise ConfigError(file, "", f"cannot read: {os_reason(err)}") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        byte = data[err.start]
        raise ConfigError(
            file, "", f"cannot read: not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8", line
        ) from None


def _file_kind(mode: int) -> str:
    """What an open file that is neither regular nor a directory is: on Linux a FIFO or a device (a
    socket cannot be opened, and open() follows symlinks)."""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    return "character device" if stat.S_ISCHR(mode) else "block device"


def _whole_numbers(node: Any) -> Any:
    """2.0 -> 2 everywhere: JSON Schema counts 2.0 as an integer, but "2.0" must not reach the output
    (a prometheus.io/port of "5000.0" is no port)."""
    if isinstance(node, float) and node.is_integer():
        return int(node)
    if isinstance(node, dict):
        return {key: _whole_numbers(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_whole_numbers(value) for value in node]
    return node


def parse(text: str, file: str = DEFAULT_CONFIG) -> Config:
    """Parse and schema-check config text; `file` names it in messages."""
    written: dict[FieldPath, str] = {}
    data, lines = load_config_yaml(text, file, written)
    if not isinstance(data, dict):
        raise ConfigError(file, "", "expected a mapping with name, image and environments", 1)
    config = Config(file, data, lines)
    problem = schema_errors.first_problem(schema(), data, config.line, written.get)
    if problem:
        path, message = problem
        raise config.error(path, message)
    config.data = data = _whole_numbers(data)
    for layer_path, layer in [((), data)] + [(("environments", e), o) for e, o in data["environments"].items()]:
        image = layer.get("image", {})
        if "tag" in image and "digest" in image:
            raise config.error(layer_path + ("image",), "give either image.tag or image.digest, not both")
    _one_environment_per_namespace(config)
    return config


def _one_environment_per_namespace(config: Config) -> None:
    """Two environments in one namespace would deploy the same name there and overwrite each other."""
    first: dict[str, str] = {}
    for env, layer in config.data["environments"].items():
        namespace = layer["namespace"]
        if namespace in first:
            other = first[namespace]
            line = config.line(("environments", other, "namespace"))
            raise config.error(
                ("environments", env, "namespace"),
                f"'{namespace}' is also the namespace of environment '{other}' (line {line}): both would deploy "
                f"'{config.name}' there; give each environment its own namespace",
            )
        first[namespace] = env
