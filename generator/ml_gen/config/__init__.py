"""The model config: load it (YAML with line numbers), check it (schema and rules), resolve environments, edit it."""

from ml_gen.config.model import (
    DEFAULT_CONFIG,
    DEFAULTS,
    Config,
    EnvConfig,
    load,
    merge,
    parse,
    read_text,
    schema,
    schema_text,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULTS",
    "Config",
    "EnvConfig",
    "load",
    "merge",
    "parse",
    "read_text",
    "schema",
    "schema_text",
]
