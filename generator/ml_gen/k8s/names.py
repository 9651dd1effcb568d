"""Object names, label keys and label values, as apimachinery's validation accepts them."""

from __future__ import annotations

import re

LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
GENERATE_NAME_BASE = 58
"""The API server cuts a generateName base to 58 characters, then appends 5 random ones (names.SimpleNameGenerator)."""
"""The label the API server sets on every namespace to its name."""


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a valid Kubernetes label or annotation key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return f"invalid key prefix '{prefix}' (a DNS subdomain)"
    if not LABEL_NAME.match(name):
        return f"invalid key '{key}' (a name of at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends)"
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid Kubernetes label value, or None."""
    if value == "" or LABEL_NAME.match(value):
        return None
    return f"invalid label value '{value}' (at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends)"
