"""`validate --server`: server-side dry-run apply with strict field validation on a live cluster.

The kubernetes client is imported only here, so other commands start fast.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ml_gen import kinds
from ml_gen.check.report import Report, object_id
from ml_gen.errors import ServerUnreachable, UsageError

if TYPE_CHECKING:
    from ml_gen.render import Rendered

FIELD_MANAGER = "ml-gen"
_WARNING = re.compile(r'\d{3} [^ ]+ "((?:[^"\\]|\\.)*)"')
BLOCKING_WARNING = "would violate PodSecurity"


def api_client(kubeconfig: str | None, context: str | None) -> Any:
    """A kubernetes ApiClient for the kubeconfig and context (default: $KUBECONFIG, current context)."""
    from kubernetes import config

    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]
    except Exception as err:  # the client raises several unrelated types for a bad kubeconfig
        raise UsageError(f"cannot load kubeconfig {kubeconfig or '(default)'}: {err}") from None


CONCURRENT_REQUESTS = 8
"""Dry runs in flight at once: the API server answers them in parallel, like kubectl's apply of many files."""


def dry_run(rendered: list[Rendered], kubeconfig: str | None, context: str | None, create_namespace: bool) -> Report:
    """Dry-run apply every rendered object; report the API server's verdict and warnings, in input order."""
    from concurrent.futures import ThreadPoolExecutor

    client = api_client(kubeconfig, context)
    missing = {
        ns: _ensure_namespace(client, ns, create_namespace) for ns in dict.fromkeys(r.namespace for r in rendered)
    }
    jobs = [(item, obj) for item in rendered for obj in item.objects]

    def check(job: tuple[Rendered, dict[str, Any]]) -> list[str]:
        item, obj = job
        problem = missing[item.namespace]
        return [problem] if problem else apply(client, obj, dry=True)

    report = Report()
    with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        for (item, obj), problems in zip(jobs, pool.map(check, jobs), strict=True):
            report.add(f"{item.config.file}:{item.env} (server)", object_id(obj), problems)
    return report


class HTTPError(Exception):
    """The API server answered with an error status (its message, not the raw body)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _ensure_namespace(client: Any, namespace: str, create: bool) -> str | None:
    """None when the namespace exists (or was created); else the problem to report."""
    try:
        request(client, "GET", f"/api/v1/namespaces/{namespace}")
        return None
    except HTTPError as err:
        if err.status != 404:
            return f"cannot read namespace '{namespace}': {err.message}"
    if not create:
        return f"namespace '{namespace}' does not exist (create it, or pass --create-namespace)"
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    try:
        request(client, "POST", "/api/v1/namespaces", body=body)
    except HTTPError as err:
        return f"cannot create namespace '{namespace}': {err.message}"
    return None


def apply(client: Any, obj: dict[str, Any], dry: bool = True) -> list[str]:
    """Server-side apply one object (dry-run by default); problems as messages, [] when accepted."""
    kind = kinds.of(obj)
    path = object_path(obj)
    try:
        if kind.live_check is not None:  # what only the kind's admission webhook would see
            live = live_object(client, path)
            found = kind.live_check(live, obj) if live is not None else []
            if found:
                return found
        headers = apply_patch(client, obj, dry).headers
    except HTTPError as err:
        return [f"rejected by the API server: {err.message}"]
    return [f"warning: {w}" for w in warnings(headers) if BLOCKING_WARNING in w]


def object_path(obj: dict[str, Any]) -> str:
    """The API path of one object (its kind's group, version and plural; its namespace when namespaced)."""
    kind = kinds.of(obj)
    meta = obj["metadata"]
    name = quote(str(meta["name"]), safe="")  # quoted: the API server judges the name
    scope = f"namespaces/{quote(str(meta['namespace']), safe='')}/" if kind.namespaced else ""
    return f"/{kind.path_prefix}/{scope}{kind.plural}/{name}"


def apply_patch(client: Any, obj: dict[str, Any], dry: bool) -> Any:
    """The server-side apply of one object as ml-gen's field manager, forced, strict; the response (HTTPError
    when refused)."""
    query = [("fieldManager", FIELD_MANAGER), ("fieldValidation", "Strict"), ("force", "true")]
    if dry:
        query.append(("dryRun", "All"))
    # Sent as UTF-8 JSON text: the client's own JSON escapes characters past U+FFFF as surrogate
    # pairs, which the API server's YAML reader refuses ("invalid Unicode character escape code").
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return request(client, "PATCH", object_path(obj), query, body, "application/apply-patch+yaml")


def warnings(headers: Any) -> list[str]:
    """The texts of the HTTP Warning headers of a response."""
    raw = headers.get("Warning", "") if headers else ""
    return [m.group(1).replace('\\"', '"') for m in _WARNING.finditer(raw)]


def live_object(client: Any, path: str) -> dict[str, Any] | None:
    """The object at an API path as the server has it, or None when there is none."""
    try:
        response = request(client, "GET", path)
    except HTTPError as err:
        if err.status == 404:
            return None
        raise
    return dict(json.loads(response.data))


def request(
    client: Any,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    body: dict[str, Any] | bytes | None = None,
    content_type: str = "application/json",
) -> Any:
    """One request through the client's configured connection; returns the response (its body read)."""
    method, url, headers, body, _ = client.param_serialize(
        method=method,
        resource_path=path,
        query_params=query or [],
        header_params={"Content-Type": content_type, "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    try:
        response = client.call_api(method, url, header_params=headers, body=body, _request_timeout=30)
        response.read()
    except Exception as err:  # urllib3 raises many types for an unreachable server
        raise ServerUnreachable(f"cannot reach the API server at {client.configuration.host}: {err}") from None
    if response.status >= 400:
        raise HTTPError(response.status, _message(response))
    return response


def _message(response: Any) -> str:
    try:
        return str(json.loads(response.data)["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status} {response.reason}"
