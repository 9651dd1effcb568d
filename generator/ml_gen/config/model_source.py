"""Where a model comes from: model.uri read as KServe's storage initializer reads it, and why a URI is refused."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ml_gen.k8s.names import DNS_SUBDOMAIN

FETCHED = ("s3", "gs", "hf", "https", "models")
"""Schemes an init container downloads into an emptyDir."""
MOUNT_PATH = "/mnt/models"
"""Where the server container sees a fetched or mounted model (KServe's path)."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_BUCKET = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,220}[a-z0-9])?\Z")
_HF_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_HF_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_MLFLOW_MODEL = re.compile(r"^models:/([^/@]+)(/[0-9]+|@[A-Za-z0-9_-]+)$")
_SERVICE_HOST = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?\.?\Z"
)
_CREDENTIAL_QUERY = re.compile(r"signature|credential|token|secret|password|passwd|sig$|^key$", re.IGNORECASE)


@dataclass(frozen=True)
class ModelSource:
    """How the pods get the model: `image` (a path in the image), `pvc` (a claim mounted read-only) or
    `fetch` (an init container downloads it); `scheme` is the URI's (`file` for a path)."""

    how: str
    scheme: str
    claim: str = ""
    sub_path: str = ""


def source(uri: str) -> ModelSource:
    """How a URI that uri_problem() accepts reaches the pods."""
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else "file"
    if scheme == "pvc":
        claim, _, path = uri[len("pvc://") :].partition("/")
        normal = posixpath.normpath(path.lstrip("/")) if path.strip("/") else ""
        return ModelSource("pvc", scheme, claim, "" if normal == "." else normal)  # a subPath is relative
    return ModelSource("fetch" if scheme in FETCHED else "image", scheme)


def uri_problem(uri: str, has_sha256: bool, has_tracking_uri: bool) -> str | None:
    """Why model.uri cannot be fetched as written, or None."""
    match = _SCHEME.match(uri)
    if not match:
        return None  # a local path, baked into the image
    scheme = match.group(1).lower()
    known = ("file", "pvc", *FETCHED)
    if scheme == "http":
        return "plain http:// is not fetched (anyone on the way could swap the model): use https:// with model.sha256"
    if scheme not in known:
        return f"'{scheme}:' is not a scheme ml-gen fetches (s3, gs, hf, https, models, pvc, file or a local path)"
    if scheme == "models":
        return _mlflow_problem(uri, has_tracking_uri)
    if not uri.startswith(f"{scheme}://"):
        return f"'{uri}' is not a {scheme}:// URI (write {scheme}://...)"
    parts = urlsplit(uri)
    userinfo = uri[len("hf://") :].rpartition("@")[0] if scheme == "hf" else parts.netloc  # hf: repo@revision
    if "@" in userinfo or (scheme == "hf" and ":" in userinfo):
        return (
            "has credentials written inline (user@ or user:password@): put them in a Secret and name it in "
            "model.credentials.secret"
        )
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        if _CREDENTIAL_QUERY.search(key):
            return (
                f"its query parameter '{key}' looks like a credential (a signed URL expires and leaks it): put "
                "credentials in a Secret (model.credentials.secret)"
            )
    return _CHECKS[scheme](uri, parts.netloc, parts.path, has_sha256)


def _mlflow_problem(uri: str, has_tracking_uri: bool) -> str | None:
    if not _MLFLOW_MODEL.match(uri):
        return (
            f"'{uri}' is not an MLflow model URI: write models:/NAME/VERSION (a version number) or models:/NAME@ALIAS"
        )
    if not has_tracking_uri:
        return "models:/ URIs are resolved by an MLflow tracking server: set model.mlflow.trackingUri"
    return None


def _bucket(scheme: str, bucket: str, path: str) -> str | None:
    if not _BUCKET.match(bucket):
        return f"'{bucket}' is not a bucket name (lower-case letters, digits, '.', '-', '_')"
    if "//" in path or "/../" in f"{path}/" or "/./" in f"{path}/":
        return f"the object path '{path}' has an empty, '.' or '..' segment: write {scheme}://{bucket}/path/to/model"
    return None


def _s3(uri: str, bucket: str, path: str, has_sha256: bool) -> str | None:
    return _bucket("s3", bucket, path)


def _gs(uri: str, bucket: str, path: str, has_sha256: bool) -> str | None:
    return _bucket("gs", bucket, path)


def _hf(uri: str, netloc: str, path: str, has_sha256: bool) -> str | None:
    repo, at, revision = uri[len("hf://") :].rpartition("@")
    if not at:
        repo = revision
    if not at or not revision:
        return f"'{uri}' names no revision: pin one as hf://{repo}@REVISION (only a commit hash never moves)"
    if not _HF_REPO.match(repo) or not _HF_REVISION.match(revision) or ".." in revision:
        return f"'{uri}' is not a Hugging Face model: write hf://ORG/REPO@REVISION"
    return None


def _https(uri: str, netloc: str, path: str, has_sha256: bool) -> str | None:
    if not netloc:
        return f"'{uri}' names no host"
    if not has_sha256:
        return "an https:// download needs model.sha256 (the hex sha256 of the file): an unpinned download is refused"
    return None


def _pvc(uri: str, claim: str, path: str, has_sha256: bool) -> str | None:
    if len(claim) > 253 or not DNS_SUBDOMAIN.match(claim):
        return f"'{claim}' is not a PersistentVolumeClaim name (lower-case letters, digits, '-', '.'): write pvc://CLAIM/path"
    if path.strip("/") and posixpath.normpath(path.lstrip("/")).split("/")[0] == "..":
        return f"the path '{path}' escapes the claim '{claim}' (..): name a directory inside it"
    return None


def _file(uri: str, netloc: str, path: str, has_sha256: bool) -> str | None:
    if netloc not in ("", "localhost"):
        return f"'{uri}' names a host: file:// URIs are paths in the image (file:///models/model.joblib)"
    return None


_CHECKS = {"s3": _s3, "gs": _gs, "hf": _hf, "https": _https, "pvc": _pvc, "file": _file}


def stores(model: dict[str, Any], scheme: str) -> list[tuple[tuple[str, ...], str]]:
    """The servers a fetch of `scheme` talks to that the config names: (field path, URL)."""
    named: dict[str, list[tuple[str, ...]]] = {
        "s3": [("s3", "endpoint")],
        "models": [("mlflow", "trackingUri"), ("s3", "endpoint")],
        "hf": [("hf", "endpoint")],
        "https": [("uri",)],
    }
    found = []
    for path in named.get(scheme, []):
        node: Any = model
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str):
            found.append((("model", *path), node))
    return found


def service_namespace(url: str) -> str | None:
    """The namespace of an in-cluster Service a URL names by its DNS name (name.namespace.svc...), or None."""
    match = _SERVICE_HOST.match(urlsplit(url).hostname or "")
    return match.group(2) if match else None
