"""Where a model URI's files are: one lister per scheme (s3, gs, hf, https, models:/), each file with its opener."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

TIMEOUT = 60  # seconds any one network operation may take
ARTIFACT_SCHEMES = ("s3", "mlflow-artifacts")  # where an MLflow registry's artifacts can be fetched from


class FetchError(Exception):
    """The fetch failed; the message is what failed (not found, access denied, ...), without the URI."""


class BadSetting(FetchError):
    """The settings cannot work (an unsupported scheme, https without MODEL_SHA256): exit code 2, not 1."""


@dataclass(frozen=True)
class Remote:
    """One file to fetch: its path under MODEL_PATH ('/'-separated) and how to open its bytes."""

    relative: str
    open: Callable[[], IO[bytes]]


def remotes(uri: str, environ: dict[str, str]) -> list[Remote]:
    """The files URI names (at least one); FetchError says why there are none."""
    scheme = urllib.parse.urlsplit(uri).scheme
    listers: dict[str, Callable[[str, dict[str, str]], list[Remote]]] = {
        "s3": s3_files,
        "gs": gcs_files,
        "hf": hf_files,
        "https": https_files,
        "models": mlflow_files,
    }
    if scheme not in listers:
        raise BadSetting(
            f"unsupported scheme {scheme + ':' if scheme else '(a local path)'} (s3, gs, hf, https, models)"
        )
    found = listers[scheme](uri, environ)
    if not found:
        raise FetchError("not found (no files)")
    return found


# -- HTTP (standard library) ------------------------------------------------------------------------


class _SameHostAuth(urllib.request.HTTPRedirectHandler):
    """Follows redirects, dropping the Authorization header when one leads to another host (a CDN)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


_opener = urllib.request.build_opener(_SameHostAuth)


def http_get(url: str, headers: dict[str, str] | None = None) -> IO[bytes]:
    """An open response for a GET of URL; FetchError naming the failure (not found, access denied, ...)."""
    request = urllib.request.Request(url, headers={"User-Agent": "model-server-fetch", **(headers or {})})
    try:
        return _opener.open(request, timeout=TIMEOUT)  # type: ignore[no-any-return]
    except urllib.error.HTTPError as err:
        detail = _error_detail(err)
        missing = "RESOURCE_DOES_NOT_EXIST" in detail or (err.code == 400 and "not found" in detail)  # MLflow's
        if err.code == 404 or missing:
            raise FetchError(f"not found (HTTP {err.code} from {_where(url)}{detail})") from None
        if err.code in (401, 403):
            raise FetchError(f"access denied (HTTP {err.code} from {_where(url)}{detail})") from None
        raise FetchError(f"HTTP {err.code} from {_where(url)}{detail}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise FetchError(f"cannot reach {_where(url)}: {reason}") from None


def http_json(url: str, headers: dict[str, str] | None = None) -> Any:
    """GET URL and parse its JSON body."""
    with http_get(url, headers) as response:
        try:
            return json.load(response)
        except ValueError:
            raise FetchError(f"{_where(url)} did not answer with JSON") from None


def _where(url: str) -> str:
    """scheme://host[:port]/path of URL: no user or password, no query (names, never secrets, but noise)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def _error_detail(err: urllib.error.HTTPError) -> str:
    """': <error_code>: <message>' of a JSON error body (MLflow, the Hub), else ''."""
    try:
        body = json.loads(err.read(4096) or b"{}")
    except (ValueError, OSError):
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k]) for k in ("error_code", "message", "error") if isinstance(body.get(k), str)]
    return (": " + ": ".join(parts))[:300] if parts else ""


def basename(path: str) -> str:
    """The last element of a '/'-separated path."""
    return path.rstrip("/").rsplit("/", 1)[-1]


# -- https://...  (one file; fetch.py requires MODEL_SHA256) ----------------------------------------------


def https_files(uri: str, environ: dict[str, str]) -> list[Remote]:
    name = basename(urllib.parse.urlsplit(uri).path) or "model"
    return [Remote(urllib.parse.unquote(name), lambda: http_get(uri))]


# -- s3://bucket/key, s3://bucket/prefix/ (boto3: the standard credential chain, IRSA included) ------------


def s3_files(uri: str, environ: dict[str, str]) -> list[Remote]:
    """One object, or the tree under a prefix (a URI ending in '/', or a key with no object but objects below)."""
    parts = urllib.parse.urlsplit(uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket:
        raise BadSetting("an s3 URI needs a bucket: s3://bucket/key")
    client = _s3_client(environ)
    if key and not key.endswith("/"):
        try:
            client.head_object(Bucket=bucket, Key=key)
        except Exception as err:
            if _s3_code(err) not in ("404", "NoSuchKey", "NotFound"):
                raise _s3_error(err, bucket, key) from None
            below = _s3_tree(client, bucket, key + "/")
            if below:
                return below
            raise _s3_error(err, bucket, key) from None
        return [Remote(basename(key), lambda: _s3_open(client, bucket, key))]
    return _s3_tree(client, bucket, key)


def _s3_client(environ: dict[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    style = environ.get("S3_ADDRESSING_STYLE", "auto") or "auto"
    if style not in ("auto", "path", "virtual"):
        raise BadSetting(f"S3_ADDRESSING_STYLE={style!r} must be path or virtual")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(s3={"addressing_style": style}, connect_timeout=TIMEOUT, read_timeout=TIMEOUT)
    return boto3.session.Session().client("s3", region_name=region, config=config)


def _s3_tree(client: Any, bucket: str, prefix: str) -> list[Remote]:
    found = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith("/"):  # a "directory" marker object holds nothing
                    found.append(Remote(key[len(prefix) :], lambda key=key: _s3_open(client, bucket, key)))
    except Exception as err:
        raise _s3_error(err, bucket, prefix) from None
    return found


def _s3_open(client: Any, bucket: str, key: str) -> IO[bytes]:
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"]  # type: ignore[no-any-return]
    except Exception as err:
        raise _s3_error(err, bucket, key) from None


def _s3_code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def _s3_error(err: Exception, bucket: str, key: str) -> FetchError:
    """botocore's exception as what failed: not found, access denied, no credentials, unreachable."""
    code, where = _s3_code(err), f"s3 bucket {bucket!r} key {key!r}"
    if code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
        return FetchError(f"not found ({where}: {code})")
    denied = ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken")
    if code in denied:
        return FetchError(f"access denied ({where}: {code})")
    if type(err).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return FetchError(f"access denied (no AWS credentials: {err})")
    if code:
        return FetchError(f"{where}: {code}")
    return FetchError(f"{where}: {type(err).__name__}: {err}")


# -- gs://bucket/path (GCS JSON API; a token from the metadata server when there is one) -----------------


def gcs_files(uri: str, environ: dict[str, str]) -> list[Remote]:
    """One object, or the objects under a prefix (as s3_files); STORAGE_EMULATOR_HOST overrides the endpoint."""
    parts = urllib.parse.urlsplit(uri)
    bucket, name = parts.netloc, parts.path.lstrip("/")
    if not bucket:
        raise BadSetting("a gs URI needs a bucket: gs://bucket/path")
    emulator = environ.get("STORAGE_EMULATOR_HOST", "")
    if emulator and "://" not in emulator:
        emulator = "http://" + emulator
    base = f"{emulator or 'https://storage.googleapis.com'}/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o"
    headers = {} if emulator else _gcp_token(environ)

    def remote(object_name: str, relative: str) -> Remote:
        url = f"{base}/{urllib.parse.quote(object_name, safe='')}?alt=media"
        return Remote(relative, lambda: http_get(url, headers))

    if name and not name.endswith("/"):
        try:
            http_json(f"{base}/{urllib.parse.quote(name, safe='')}", headers)
            return [remote(name, basename(name))]
        except FetchError as err:
            if not str(err).startswith("not found"):
                raise
            below = [remote(n, n[len(name) + 1 :]) for n in _gcs_names(base, name + "/", headers)]
            if below:
                return below
            raise
    return [remote(n, n[len(name) :]) for n in _gcs_names(base, name, headers)]


def _gcs_names(base: str, prefix: str, headers: dict[str, str]) -> Iterator[str]:
    token = ""
    while True:
        query = {"prefix": prefix, "fields": "items(name),nextPageToken", **({"pageToken": token} if token else {})}
        page = http_json(f"{base}?{urllib.parse.urlencode(query)}", headers)
        yield from (item["name"] for item in page.get("items", []) if not item["name"].endswith("/"))
        token = page.get("nextPageToken", "")
        if not token:
            return


def _gcp_token(environ: dict[str, str]) -> dict[str, str]:
    """A bearer token of the pod's Google service account (GKE workload identity), or none (anonymous)."""
    host = environ.get("GCE_METADATA_HOST", "metadata.google.internal")
    url = f"http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
    request = urllib.request.Request(url, headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return {"Authorization": f"Bearer {json.load(response)['access_token']}"}
    except (OSError, ValueError, KeyError):
        return {}  # no metadata server: public objects only


# -- hf://org/repo[@revision] (the Hub's HTTP API) -----------------------------------------------------------


def hf_files(uri: str, environ: dict[str, str]) -> list[Remote]:
    """Every file of the repository at the revision (default main), each downloaded at the commit it resolved to."""
    rest = uri.removeprefix("hf://")
    repo, _, revision = rest.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise BadSetting("an hf URI is hf://org/repo or hf://org/repo@revision")
    endpoint = (environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    token = environ.get("HF_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    quoted = urllib.parse.quote(revision or "main", safe="")
    info = http_json(f"{endpoint}/api/models/{repo}/revision/{quoted}", headers)
    commit = info.get("sha") or quoted

    def remote(name: str) -> Remote:
        url = f"{endpoint}/{repo}/resolve/{commit}/{urllib.parse.quote(name)}"
        return Remote(name, lambda: http_get(url, headers))

    return [remote(s["rfilename"]) for s in info.get("siblings", [])]


# -- models:/name/version, models:/name@alias (the MLflow registry's REST API) ------------------------------


def mlflow_files(uri: str, environ: dict[str, str]) -> list[Remote]:
    """The files of the registered model version's artifacts (an MLflow model directory)."""
    tracking = environ.get("MLFLOW_TRACKING_URI", "").rstrip("/")
    if not tracking.startswith(("http://", "https://")):
        raise BadSetting("models:/ URIs need MLFLOW_TRACKING_URI, the tracking server's http(s):// URL")
    name, version = _model_version(uri)
    headers = _mlflow_auth(environ)
    api = f"{tracking}/api/2.0/mlflow"
    if version.startswith("@"):
        query = urllib.parse.urlencode({"name": name, "alias": version[1:]})
        version = str(http_json(f"{api}/registered-models/alias?{query}", headers)["model_version"]["version"])
    query = urllib.parse.urlencode({"name": name, "version": version})
    status = http_json(f"{api}/model-versions/get?{query}", headers)["model_version"].get("status", "READY")
    if status != "READY":
        raise FetchError(f"model version {name}/{version} is {status}, not READY")
    location = http_json(f"{api}/model-versions/get-download-uri?{query}", headers)["artifact_uri"]
    scheme = urllib.parse.urlsplit(location).scheme
    if scheme == "s3":
        return s3_files(location.rstrip("/") + "/", environ)
    if scheme == "mlflow-artifacts":
        return _mlflow_artifacts(tracking, urllib.parse.urlsplit(location).path.strip("/"), headers)
    raise FetchError(
        f"{name}/{version}'s artifacts are at {location}, which the fetcher cannot read (s3, mlflow-artifacts)"
    )


def _model_version(uri: str) -> tuple[str, str]:
    """models:/name/version -> (name, version); models:/name@alias -> (name, '@alias')."""
    path = uri.removeprefix("models:").lstrip("/")
    if "@" in path:
        name, _, alias = path.partition("@")
        if name and alias and "/" not in alias:
            return name, "@" + alias
    else:
        name, _, version = path.rpartition("/")
        if name and version.isdigit():
            return name, version
    raise BadSetting("a models:/ URI is models:/name/version (a number) or models:/name@alias")


def _mlflow_auth(environ: dict[str, str]) -> dict[str, str]:
    if environ.get("MLFLOW_TRACKING_TOKEN"):
        return {"Authorization": f"Bearer {environ['MLFLOW_TRACKING_TOKEN']}"}
    user, password = environ.get("MLFLOW_TRACKING_USERNAME", ""), environ.get("MLFLOW_TRACKING_PASSWORD", "")
    if user:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    return {}


def _mlflow_artifacts(tracking: str, root: str, headers: dict[str, str]) -> list[Remote]:
    """The files below ROOT of the tracking server's artifact store (--serve-artifacts), recursively."""
    api = f"{tracking}/api/2.0/mlflow-artifacts/artifacts"
    found: list[Remote] = []

    def walk(directory: str, relative: str) -> None:
        listing = http_json(f"{api}?{urllib.parse.urlencode({'path': directory})}", headers)
        for entry in listing.get("files", []):
            name = basename(entry["path"])
            if entry.get("is_dir"):
                walk(f"{directory}/{name}", f"{relative}{name}/")
            else:
                url = f"{api}/{urllib.parse.quote(f'{directory}/{name}')}"
                found.append(Remote(relative + name, lambda url=url: http_get(url, headers)))

    walk(root, "")
    return found
