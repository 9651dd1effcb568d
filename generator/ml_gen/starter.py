"""`ml-gen init`: a commented starter config."""

from __future__ import annotations

import re
from pathlib import Path

from ml_gen import config
from ml_gen.errors import ConfigError, OutputError

SCHEMA_FILE = "ml-model.schema.json"
_NAME = re.compile(r"[a-z]([-a-z0-9]{0,51}[a-z0-9])?\Z")

TEMPLATE = """\
# yaml-language-server: $schema=ml-model.schema.json
# ml-gen model config: one file, every environment. ml-model.schema.json (`ml-gen schema`) lists every key.

name: {name}                      # app and Helm release name

model:                            # shown to the server as MODEL_* env vars and on the pods
  name: {name}
  version: "0.1.0"

image:
  repository: myorg/ml-model-api
  tag: "0.1.0"                    # or digest: sha256:... ('latest' must be allowed explicitly)

port: 5000                        # the port the server listens on
replicas: 2

env:                              # plain settings (secrets go in secretEnv: NAME: {{secret: S, key: K}})
  LOG_LEVEL: info

resources:
  requests: {{cpu: 500m, memory: 1Gi}}
  limits: {{memory: 2Gi}}

health:
  livenessPath: /health
  readinessPath: /health

environments:
  dev:
    namespace: {name}-dev
    replicas: 1
  prod:
    namespace: {name}-prod
    autoscaling:
      enabled: true
      minReplicas: 2
      maxReplicas: 6
"""


def write(name: str, path: Path) -> None:
    """Create PATH with a starter config for NAME, and the schema beside it for editors; never overwrite."""
    if not _NAME.match(name):
        raise ConfigError(
            str(path),
            "name",
            f"'{name}' is not a DNS-1035 label of at most 53 characters "
            "(lower-case letters, digits and '-', starting with a letter)",
        )
    text = TEMPLATE.format(name=name)
    config.parse(text, str(path))
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise OutputError(f"{path}: already exists") from None
    except OSError as err:
        raise OutputError(f"{path}: cannot write ({err.strerror})") from None
    schema_file = path.parent / SCHEMA_FILE
    if not schema_file.exists():
        schema_file.write_text(config.schema_text(), encoding="utf-8")
