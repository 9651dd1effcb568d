"""The ml-model-api Helm chart shipped inside the package: where it is, its metadata, export."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from ml_gen import yamlio
from ml_gen.config.files import display
from ml_gen.errors import OutputError, UsageError

CHART_NAME = "ml-model-api"


def directory() -> Path:
    """The chart's directory inside the installed package."""
    return Path(__file__).parent / "chart"


@lru_cache(maxsize=1)
def metadata() -> dict[str, Any]:
    """Chart.yaml as data (name, version, appVersion)."""
    meta: dict[str, Any] = yamlio.load((directory() / "Chart.yaml").read_text("utf-8"))
    return meta


@lru_cache(maxsize=1)
def values_order() -> tuple[str, ...]:
    """The top-level keys of the chart's values.yaml, in order: ml-gen's values files follow it."""
    text = (directory() / "values.yaml").read_text("utf-8")
    return tuple(re.findall(r"^([A-Za-z][A-Za-z0-9]*):", text, re.MULTILINE))


@lru_cache(maxsize=1)
def values_schema_text() -> str:
    """values.schema.json as shipped: helm checks values files against it, editors through their first line."""
    return (directory() / "values.schema.json").read_text("utf-8")


def refuse_inside_a_chart(target: str | Path) -> None:
    """Refuse TARGET inside another Helm chart, except that chart's charts/ directory (where subcharts go):
    in templates/ helm would render the chart's files as templates of the other, elsewhere ship them as files."""
    here = Path(os.path.realpath(target))
    for directory in (here, *here.parents):
        if (directory / "Chart.yaml").is_file():
            if here != directory / "charts":
                raise UsageError(
                    f"{target}: is inside the Helm chart {display(directory)} (it has a Chart.yaml): export the chart "
                    f"outside it, or into its charts/ directory as a subchart ({display(directory / 'charts')})"
                )
            return


def export(target: str | Path) -> Path:
    """Copy the chart to TARGET/ml-model-api; refuse to overwrite an existing directory or to write inside
    another chart (but its charts/ directory)."""
    refuse_inside_a_chart(target)
    dest = Path(target) / CHART_NAME
    if dest.exists():
        raise OutputError(f"{dest}: already exists; remove it or choose another directory")
    try:
        import shutil  # export only

        shutil.copytree(directory(), dest)
    except OSError as err:
        raise OutputError(f"{dest}: cannot write the chart: {err}") from None
    return dest
