"""The two sides the differential tests compare for one config of environment ENV: offline `ml-gen validate`'s
verdict, and the objects ml-gen renders with its own checks off (for the real component to judge)."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from unittest import mock

from ml_gen import config as config_mod
from ml_gen import render, targets
from ml_gen.check import offline as checks
from ml_gen.errors import MlGenError

ENV = "d"


def offline_verdict(text: str) -> str | None:
    """None when offline `ml-gen validate` accepts the config, else its first complaint."""
    try:
        loaded = config_mod.parse(text, "ml-model.yaml")
        report = checks.offline([render.render_environment(loaded, ENV)])
    except MlGenError as err:
        return str(err).removeprefix("ml-model.yaml").lstrip(":0123456789 ")
    return None if report.ok else "; ".join(line for line in report.lines() if line.startswith("FAIL"))


def unchecked_objects(text: str) -> list[dict[str, Any]] | None:
    """The objects ml-gen renders from the config with its own checks off (None: it cannot render them)."""
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(config_mod.schema_errors, "first_problem", return_value=None))
        stack.enter_context(mock.patch.object(config_mod.rules, "check"))
        stack.enter_context(mock.patch.object(targets.Target, "check"))
        stack.enter_context(mock.patch.object(render, "check_limits"))
        try:
            return render.render_environment(config_mod.parse(text, "ml-model.yaml"), ENV).objects
        except Exception:  # a config the renderer cannot even build objects from (e.g. YAML it cannot read)
            return None
