"""Container image references as the kubelet's runtime parses them (the distribution reference grammar)."""

from __future__ import annotations

import re

_ALNUM = "[a-z0-9]+"
_PATH_COMPONENT = re.compile(f"{_ALNUM}(?:(?:[_.]|__|-+){_ALNUM})*")
_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?")
NAME_LIMIT = 255
"""The longest repository name (registry host included) the grammar allows."""


def _is_domain(first: str) -> bool:
    """Whether the first component names a registry, as docker's splitDockerDomain decides."""
    return any(c in first for c in ".:") or first == "localhost" or first.lower() != first


def repository_problem(repository: str) -> str | None:
    """Why container tools refuse REPOSITORY (an image name without tag or digest), or None."""
    if len(repository) > NAME_LIMIT:
        return f"is {len(repository)} characters long; an image name has at most {NAME_LIMIT}"
    first, _, rest = repository.partition("/")
    components = repository.split("/")
    if rest and _is_domain(first):
        if not _DOMAIN.fullmatch(first):
            return f"'{first}' is not a registry host[:port] (letters, digits and inner '-' per dot-separated part)"
        components = components[1:]
    for component in components:
        if not _PATH_COMPONENT.fullmatch(component):
            return (
                f"'{component}' is not a valid image path component: lower-case letters and digits, "
                "joined by one '.', one or two '_', or '-'s (the distribution reference grammar)"
            )
    return None
