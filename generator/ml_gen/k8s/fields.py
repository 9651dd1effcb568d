"""Single fields the API server validates: tolerations, Ingress paths, ipBlock CIDRs and PDB counts."""

from __future__ import annotations

from typing import Any

from ml_gen.k8s.names import label_key_problem, label_value_problem


def toleration_problem(toleration: dict[str, Any]) -> tuple[str, str] | None:
    """(field, why) for the first rule of Kubernetes' ValidateTolerations a toleration breaks, or None."""
    key, value = toleration.get("key", ""), toleration.get("value", "")
    operator = toleration.get("operator", "Equal")
    if key:
        problem = label_key_problem(key)
        if problem:
            return "key", problem
    elif operator != "Exists":
        return "operator", "an empty key needs operator: Exists (which tolerates every taint)"
    if operator == "Exists" and value:
        return "value", "must be empty with operator: Exists"
    if operator == "Equal" and label_value_problem(value):
        return "value", str(label_value_problem(value))
    if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
        return "tolerationSeconds", "needs effect: NoExecute (Kubernetes refuses it with any other effect)"
    return None


BAD_PATH_PARTS = ("//", "/./", "/../", "%2f", "%2F")
BAD_PATH_ENDS = ("/..", "/.")


def ingress_path_problem(path: str, path_type: str) -> str | None:
    """Why Kubernetes refuses an Ingress path of an Exact or Prefix rule, or None."""
    if path_type == "ImplementationSpecific":
        return None
    for part in BAD_PATH_PARTS:
        if part in path:
            return f"must not contain '{part}' (pathType {path_type})"
    for end in BAD_PATH_ENDS:
        if path.endswith(end):
            return f"must not end with '{end}' (pathType {path_type})"
    return None


def is_ipv4_address(host: str) -> bool:
    """Whether an Ingress host is a dotted IPv4 address (Kubernetes wants a DNS name there)."""
    parts = host.split(".")
    return len(parts) == 4 and all(p.isascii() and p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


def cidr_problem(cidr: str) -> str | None:
    """Why the API server refuses `cidr` in an ipBlock, or None. The schema's pattern already asks for
    ADDRESS/PREFIX; beyond parsing, Kubernetes wants the canonical form (no host bits, no leading zero
    in the prefix, no IPv4-mapped IPv6 address)."""
    import ipaddress  # here, not at the top: most configs have no CIDR, and every command starts faster

    address, _, prefix = cidr.partition("/")
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{cidr!r} is not an IP network (such as 10.0.0.0/8 or fd00::/64)"
    if len(prefix) > 1 and prefix.startswith("0"):
        return f"{cidr!r} has a leading 0 in its prefix length: write {network}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"{cidr!r} is an IPv4-mapped IPv6 address: write the IPv4 network"
    if ip != network.network_address:
        return f"{cidr!r} has bits set beyond the prefix length: write {network}"
    return None


def pdb_count(value: int | str, pods: int) -> int:
    """A PDB's minAvailable or maxUnavailable as a pod count; percentages round up, as Kubernetes does."""
    if isinstance(value, str):
        return -(-int(value.rstrip("%")) * pods // 100)
    return value
