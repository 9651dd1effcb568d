"""The rules of an environment's merged `delivery` setting that its schema cannot express (one layer may
leave out what another sets): one tool, its required fields, paths inside the repository. The objects
themselves are built by ml_gen.delivery."""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any

from ml_gen.errors import without_userinfo

if TYPE_CHECKING:
    from ml_gen.config.model import EnvConfig
    from ml_gen.errors import ConfigError

VERSION_TAG = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+.].*)?$")
"""A revision that reads as a release tag (v1.2.0, 1.2.0-rc.1), which Flux would look up as a branch."""
REQUIRED = {
    "repoURL": "the Git repository that holds this output is required",
    "revision": "the branch, tag or commit to deploy is required",
}


def check(env: EnvConfig, s: dict[str, Any]) -> None:
    """Raise a ConfigError for the first rule the environment's delivery setting breaks."""
    chosen = s.get("delivery") or {}
    if len(chosen) > 1:
        raise env.error("delivery", message="names both argocd and flux: choose one delivery tool")
    for tool, settings in chosen.items():
        if tool not in TOOLS:
            continue  # not a setting of the schema's (a tool registered by a test, say): its own business
        for key, message in REQUIRED.items():
            if key not in settings:
                raise _missing(env, tool, key, message)
        if without_userinfo(settings["repoURL"]) != settings["repoURL"]:  # a secret every refusal would mask
            raise env.error(
                "delivery",
                tool,
                "repoURL",
                message="carries credentials (a token or password before '@'): give them to the tool in a Secret, "
                "not in the config (the URL is left out here)",
            )
        for key in ("path", "chart"):
            problem = path_problem(settings.get(key, "."))
            if problem and not settings.get(key, "").startswith("oci://"):
                raise env.error("delivery", tool, key, message=problem)
        TOOLS[tool](env, settings)
        _refuse_long_object_name(env, tool)


LONGEST_OBJECT_NAME = 63
"""The longest name of a delivery object: each tool copies it into a label value, which holds 63 characters."""
NAME_LABELS = {
    "argocd": "Argo CD's label tracking copies it into the app.kubernetes.io/instance label of every object it deploys",
    "flux": "Flux copies it into the helm.toolkit.fluxcd.io/name and kustomize.toolkit.fluxcd.io/name labels of "
    "every object it deploys",
}


def _refuse_long_object_name(env: EnvConfig, tool: str) -> None:
    """The objects are named <name>-<environment> (ml_gen.delivery): refused, not shortened, when that is too
    long for a label value, so that the name stays the one a reader looks for in the tool."""
    name = f"{env.name}-{env.env}"
    if len(name) > LONGEST_OBJECT_NAME:
        raise env.error(
            "delivery",
            tool,
            message=f"names its objects <name>-<environment>, here {len(name)} characters, and "
            f"{NAME_LABELS[tool]}, at most {LONGEST_OBJECT_NAME}: shorten the config's name or the environment's",
        )


def _missing(env: EnvConfig, tool: str, key: str, message: str) -> ConfigError:
    """A required key left out: blamed on the environment's delivery section when it has the tool's, else on
    the top-level one."""
    layer = env.override.get("delivery", {})
    path = ("environments", env.env, "delivery", tool, key) if tool in layer else ("delivery", tool, key)
    return env.config.error(path, f"missing: {message}")


def _argocd(env: EnvConfig, settings: dict[str, Any]) -> None:
    if "sync" not in settings:
        raise _missing(env, "argocd", "sync", "choose 'automated' (with prune and selfHeal) or 'manual'")
    for key in ("prune", "selfHeal"):
        if settings["sync"] == "automated" and key not in settings:
            raise _missing(env, "argocd", key, f"sync: automated needs an explicit {key}: true or false")


def _flux(env: EnvConfig, settings: dict[str, Any]) -> None:
    if not settings["repoURL"].startswith(("https://", "ssh://")):
        raise env.error(
            "delivery",
            "flux",
            "repoURL",
            message="Flux reads https:// and ssh:// URLs only: write user@host:path as ssh://user@host/path",
        )
    revision = settings["revision"]
    if VERSION_TAG.match(revision):
        raise env.error(
            "delivery",
            "flux",
            "revision",
            message=f"'{revision}' looks like a tag, and Flux reads a bare revision as a branch: write "
            f"refs/tags/{revision} (or refs/heads/{revision} for a branch of that name)",
        )


def path_problem(path: str) -> str | None:
    """Why a path in the repository cannot be used: absolute, or leaving the repository."""
    normal = posixpath.normpath(path)
    if path.startswith("/") or normal == ".." or normal.startswith("../"):
        return "must stay inside the repository (a relative path without '..' above its root)"
    return None


TOOLS = {"argocd": _argocd, "flux": _flux}
"""The schema's delivery tools and their own rules."""
