"""The scaffold's fetcher (`python -m model_server.fetch`) against real stores on loopback, then its server serving
what it fetched: versitygw (an S3 server, credentials required) and an MLflow tracking server (SQLite, artifacts
served by the tracking server; a scikit-learn model registered twice with the MLflow client, an alias on version 2).
HTTPS is a local TLS server; the Hugging Face Hub is a stand-in that answers the two Hub API calls the fetcher makes
(the revision's file list, `resolve/` with the LFS-style redirect to another host), and Google Cloud Storage one
that answers the three JSON API calls it makes (an object's metadata, a listing by prefix in pages, `alt=media`),
as fake-gcs-server does behind STORAGE_EMULATOR_HOST. One versitygw and one MLflow
server per session; each started and stopped by the pid this module started."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import ssl
import subprocess
import sys
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import model_stores
from model_stores import ACCESS_KEY, SECRET_KEY

BUCKET = "models"
IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
IRIS_PREDICTIONS = ["setosa", "virginica"]
VERSION_2_PREDICTIONS = ["virginica", "virginica"]  # version 2: a constant classifier, saved with cloudpickle
HF_TOKEN = "hf_test_token"
HF_COMMIT = "0123456789abcdef0123456789abcdef01234567"


# -- the stores -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint(pinned, tmp_path_factory) -> Iterator[str]:
    """versitygw on loopback, posix backend in a temporary directory, with one access key."""
    server = model_stores.start_versitygw(pinned("versitygw"), tmp_path_factory.mktemp("versitygw"))
    try:
        yield server.url
    finally:
        server.stop()


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="session")
def bucket(s3_endpoint, artifact) -> dict[str, bytes]:
    """The bucket's objects (key -> bytes): the model alone, a tree under a prefix, a .tar.gz."""
    objects = {
        "iris/model.joblib": artifact.read_bytes(),
        "tree/model/model.joblib": artifact.read_bytes(),
        "tree/README.md": b"the iris model\n",
        "archive/model.tar.gz": tar_gz({"model/model.joblib": artifact.read_bytes()}),
    }
    model_stores.put_objects(s3_endpoint, BUCKET, objects)
    return objects


@pytest.fixture(scope="session")
def mlflow_python(pinned) -> str:
    """The Python of MLflow's own virtualenv (scripts/install-tools mlflow): the MLflow client runs there."""
    return pinned("mlflow-python")


@pytest.fixture(scope="session")
def tracking_uri(pinned, mlflow_python, project, tmp_path_factory) -> Iterator[str]:
    """An MLflow tracking server (SQLite, --serve-artifacts) holding iris version 1 (train.py) and 2 (@champion)."""
    root = tmp_path_factory.mktemp("mlflow")
    server = model_stores.start_mlflow(pinned("mlflow"), root)
    try:
        model_stores.register_iris(mlflow_python, project / "train.py", root, server.url)
        yield server.url
    finally:
        server.stop()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the `routes` of its server: path (with its query, or without) -> (status, headers, body), or a function
    of the request handler returning that."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        routes = self.server.routes  # type: ignore[attr-defined]
        route = routes.get(self.path) or routes.get(self.path.partition("?")[0])
        status, headers, body = route(self) if callable(route) else route or (404, {}, b'{"error": "not found"}')
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve(context: ssl.SSLContext | None = None) -> Any:
    """A threaded HTTP(S) server on loopback, serving its .routes (set them before requests come)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.routes = {}  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def http_server() -> Iterator[Any]:
    """serve() without TLS; stopped after the test."""
    server = serve()
    yield server
    server.shutdown()
    server.server_close()


# -- running the fetcher and the server -------------------------------------------------------------------


def fetch(project: Path, target: Path, uri: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m model_server.fetch` as the init container runs it (the server's own environment)."""
    target.mkdir(exist_ok=True)
    environ = {
        "MODEL_URI": uri,
        "MODEL_PATH": str(target),
        "HOME": str(target.parent),
        "PATH": os.environ["PATH"],
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_EC2_METADATA_DISABLED": "true",  # never ask a cloud's metadata address for credentials
        **env,
    }
    command = [sys.executable, "-m", "model_server.fetch"]
    return subprocess.run(command, cwd=project, env=environ, capture_output=True, text=True, timeout=180)


def s3_env(endpoint: str, secret: str = SECRET_KEY) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "S3_ADDRESSING_STYLE": "path",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": secret,
    }


def fetched_ok(done: subprocess.CompletedProcess[str], uri: str) -> None:
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(done.stdout.splitlines()) == 1 and done.stdout.startswith("fetch-model: fetched ")
    assert done.stdout.rstrip().endswith(f": {uri}")


def failed(done: subprocess.CompletedProcess[str], uri: str, what: str) -> None:
    """Exit 1 with one line: fetch-model: <what failed ...>: <uri>."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"fetch-model: {what}") and done.stderr.rstrip().endswith(f": {uri}"), done.stderr


def predictions(server: Any, target: Path, uri: str) -> list[str]:
    """Load what the fetcher wrote (MODEL_PATH) into the scaffold's server; its /predict answer for IRIS_ROWS."""
    app = server.create_app({"MODEL_PATH": str(target), "MODEL_URI": uri, "MODEL_NAME": "iris"}, load=False)
    app.extensions["model_state"].load()
    client = app.test_client()
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.get_json()
    answer = client.post("/predict", json={"instances": IRIS_ROWS})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["predictions"]  # type: ignore[no-any-return]


# -- S3 ---------------------------------------------------------------------------------------------------


def test_s3_object(project, server, bucket, s3_endpoint, tmp_path):
    uri = f"s3://{BUCKET}/iris/model.joblib"
    fetched_ok(fetch(project, tmp_path / "m", uri, **s3_env(s3_endpoint)), uri)
    assert (tmp_path / "m" / "model.joblib").read_bytes() == bucket["iris/model.joblib"]
    assert predictions(server, tmp_path / "m", uri) == IRIS_PREDICTIONS


def test_s3_prefix_is_fetched_as_a_tree(project, server, bucket, s3_endpoint, tmp_path):
    uri = f"s3://{BUCKET}/tree/"
    fetched_ok(fetch(project, tmp_path / "m", uri, **s3_env(s3_endpoint)), uri)
    assert (tmp_path / "m" / "README.md").read_bytes() == bucket["tree/README.md"]
    assert (tmp_path / "m" / "model" / "model.joblib").is_file()
    assert predictions(server, tmp_path / "m", uri) == IRIS_PREDICTIONS


def test_s3_tar_gz_is_checked_and_unpacked(project, server, bucket, s3_endpoint, tmp_path):
    uri = f"s3://{BUCKET}/archive/model.tar.gz"
    sha256 = hashlib.sha256(bucket["archive/model.tar.gz"]).hexdigest()
    done = fetch(project, tmp_path / "m", uri, MODEL_SHA256=sha256, **s3_env(s3_endpoint))
    fetched_ok(done, uri)
    assert "unpacked model.tar.gz" in done.stdout
    assert not (tmp_path / "m" / "model.tar.gz").exists()
    assert predictions(server, tmp_path / "m", uri) == IRIS_PREDICTIONS


def test_s3_wrong_credentials(project, bucket, s3_endpoint, tmp_path):
    uri = f"s3://{BUCKET}/iris/model.joblib"
    failed(fetch(project, tmp_path / "m", uri, **s3_env(s3_endpoint, secret="wrong")), uri, "access denied")
    assert list((tmp_path / "m").iterdir()) == []


def test_s3_missing_key(project, bucket, s3_endpoint, tmp_path):
    uri = f"s3://{BUCKET}/iris/no-such-model.joblib"
    failed(fetch(project, tmp_path / "m", uri, **s3_env(s3_endpoint)), uri, "not found")


def test_s3_checksum_mismatch(project, bucket, s3_endpoint, tmp_path):
    uri = f"s3://{BUCKET}/iris/model.joblib"
    done = fetch(project, tmp_path / "m", uri, MODEL_SHA256="ab" * 32, **s3_env(s3_endpoint))
    failed(done, uri, "checksum mismatch")
    assert list((tmp_path / "m").iterdir()) == []


def test_s3_size_limit(project, bucket, s3_endpoint, tmp_path):
    uri = f"s3://{BUCKET}/tree/"
    limit = len(bucket["tree/model/model.joblib"])  # the model fits, the model and the README do not
    failed(fetch(project, tmp_path / "m", uri, MODEL_SIZE_LIMIT=str(limit), **s3_env(s3_endpoint)), uri, "too large")


# -- MLflow's registry ------------------------------------------------------------------------------------


def test_mlflow_model_version(project, server, tracking_uri, tmp_path):
    uri = "models:/iris/1"
    fetched_ok(fetch(project, tmp_path / "m", uri, MLFLOW_TRACKING_URI=tracking_uri), uri)
    assert (tmp_path / "m" / "MLmodel").is_file()  # an MLflow model directory, as the registry holds it
    assert (tmp_path / "m" / "model.skops").is_file()  # MLflow 3's default format for scikit-learn
    assert predictions(server, tmp_path / "m", uri) == IRIS_PREDICTIONS


def test_mlflow_alias(project, server, tracking_uri, tmp_path):
    uri = "models:/iris@champion"
    fetched_ok(fetch(project, tmp_path / "m", uri, MLFLOW_TRACKING_URI=tracking_uri), uri)
    assert (tmp_path / "m" / "model.pkl").is_file()  # version 2 was saved with cloudpickle
    assert predictions(server, tmp_path / "m", uri) == VERSION_2_PREDICTIONS


def test_mlflow_missing_version(project, tracking_uri, tmp_path):
    uri = "models:/iris/9"
    failed(fetch(project, tmp_path / "m", uri, MLFLOW_TRACKING_URI=tracking_uri), uri, "not found")


def test_mlflow_missing_alias(project, tracking_uri, tmp_path):
    uri = "models:/iris@nobody"
    failed(fetch(project, tmp_path / "m", uri, MLFLOW_TRACKING_URI=tracking_uri), uri, "not found")


# -- HTTPS and the Hub stand-in -----------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 (openssl) and a server context using it."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


def test_https_with_sha256(project, server, artifact, tls, tmp_path):
    cert, context = tls
    https = serve(context)
    try:
        https.routes["/models/model.joblib"] = (200, {}, artifact.read_bytes())
        uri = f"https://127.0.0.1:{https.server_port}/models/model.joblib"
        sha256 = hashlib.sha256(artifact.read_bytes()).hexdigest()
        fetched_ok(fetch(project, tmp_path / "m", uri, MODEL_SHA256=sha256, SSL_CERT_FILE=str(cert)), uri)
        assert predictions(server, tmp_path / "m", uri) == IRIS_PREDICTIONS
        done = fetch(project, tmp_path / "n", uri, MODEL_SHA256="0" * 64, SSL_CERT_FILE=str(cert))
        failed(done, uri, "checksum mismatch")
        untrusted = fetch(project, tmp_path / "o", uri, MODEL_SHA256=sha256)  # no SSL_CERT_FILE: a self-signed cert
        failed(untrusted, uri, "cannot reach")
    finally:
        https.shutdown()
        https.server_close()


def test_hf_repository_at_a_revision(project, server, artifact, http_server, tmp_path):
    """The Hub stand-in: GET /api/models/<repo>/revision/<rev> (the file list and the commit it resolved to), and
    GET /<repo>/resolve/<commit>/<file>, which for a large file redirects to another host (the Hub's CDN) where
    the token must not follow."""
    base, cdn = f"http://127.0.0.1:{http_server.server_port}", f"http://localhost:{http_server.server_port}"

    def authorized(body: bytes):  # type: ignore[no-untyped-def]
        def answer(handler):  # type: ignore[no-untyped-def]
            ok = handler.headers.get("Authorization") == f"Bearer {HF_TOKEN}"
            return (200, {"Content-Type": "application/json"}, body) if ok else (401, {}, b'{"error": "no token"}')

        return answer

    def cdn_file(handler):  # type: ignore[no-untyped-def]
        return (400, {}, b"token sent to the CDN") if "Authorization" in handler.headers else (200, {}, model)

    model = artifact.read_bytes()
    info = {
        "id": "acme/iris",
        "sha": HF_COMMIT,
        "siblings": [{"rfilename": "model.joblib"}, {"rfilename": "README.md"}],
    }
    http_server.routes.update(
        {
            "/api/models/acme/iris/revision/v1.0": authorized(json.dumps(info).encode()),
            f"/acme/iris/resolve/{HF_COMMIT}/README.md": authorized(b"# iris\n"),
            f"/acme/iris/resolve/{HF_COMMIT}/model.joblib": (302, {"Location": f"{cdn}/cdn/model.joblib"}, b""),
            "/cdn/model.joblib": cdn_file,
        }
    )
    uri = "hf://acme/iris@v1.0"
    fetched_ok(fetch(project, tmp_path / "m", uri, HF_ENDPOINT=base, HF_TOKEN=HF_TOKEN), uri)
    assert (tmp_path / "m" / "README.md").read_bytes() == b"# iris\n"
    assert predictions(server, tmp_path / "m", uri) == IRIS_PREDICTIONS
    failed(fetch(project, tmp_path / "n", uri, HF_ENDPOINT=base), uri, "access denied")


def test_gs_object_and_prefix(project, server, artifact, http_server, tmp_path):
    """The GCS stand-in: GET /storage/v1/b/<bucket>/o/<object> (metadata), ...?alt=media (the bytes), and
    GET /storage/v1/b/<bucket>/o?prefix=... (names, in pages joined by nextPageToken)."""
    objects = {"iris/model.joblib": artifact.read_bytes(), "iris/docs/README.md": b"# iris\n"}

    def listing(handler):  # type: ignore[no-untyped-def]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        names = sorted(n for n in objects if n.startswith(query["prefix"][0]))
        first, rest = names[:1], names[1:]
        page = {"items": [{"name": n} for n in (rest if "pageToken" in query else first)]}
        if rest and "pageToken" not in query:
            page["nextPageToken"] = "2"
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    def get(name: str):  # type: ignore[no-untyped-def]
        def answer(handler):  # type: ignore[no-untyped-def]
            if handler.path.endswith("?alt=media"):
                return 200, {}, objects[name]
            return 200, {"Content-Type": "application/json"}, json.dumps({"name": name}).encode()

        return answer

    http_server.routes["/storage/v1/b/models/o"] = listing
    for name in objects:
        http_server.routes[f"/storage/v1/b/models/o/{urllib.parse.quote(name, safe='')}"] = get(name)
    emulator = f"127.0.0.1:{http_server.server_port}"
    uri = "gs://models/iris/model.joblib"
    fetched_ok(fetch(project, tmp_path / "m", uri, STORAGE_EMULATOR_HOST=emulator), uri)
    assert predictions(server, tmp_path / "m", uri) == IRIS_PREDICTIONS
    uri = "gs://models/iris/"
    fetched_ok(fetch(project, tmp_path / "n", uri, STORAGE_EMULATOR_HOST=emulator), uri)
    assert (tmp_path / "n" / "docs" / "README.md").read_bytes() == b"# iris\n"
    assert predictions(server, tmp_path / "n", uri) == IRIS_PREDICTIONS
    failed(
        fetch(project, tmp_path / "o", "gs://models/nothing", STORAGE_EMULATOR_HOST=emulator),
        "gs://models/nothing",
        "not found",
    )


# -- the server fetching for itself (a Knative Service without init containers) -------------------------------


def test_the_server_fetches_into_an_empty_model_path_at_start(project, bucket, s3_endpoint, tmp_path):
    """gunicorn's on_starting hook: the fetcher's settings on the server itself and an empty MODEL_PATH: the
    master fetches once, then the worker serves that model; with wrong credentials the server does not start,
    and says why in the fetcher's one line."""
    from test_scaffold_gunicorn import Gunicorn

    uri = f"s3://{BUCKET}/iris/model.joblib"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "MODEL_NAME": "iris",
        "MODEL_URI": uri,
        "MODEL_PATH": str(tmp_path / "m"),
    }
    (tmp_path / "m").mkdir()
    server = Gunicorn(project, {**env, **s3_env(s3_endpoint)}, tmp_path / "good.log")
    try:
        server.wait_ready()
        assert server.request("/predict", {"instances": IRIS_ROWS}) == (200, {"predictions": IRIS_PREDICTIONS})
        assert (tmp_path / "m" / "model.joblib").read_bytes() == bucket["iris/model.joblib"]
    finally:
        server.stop()

    (tmp_path / "n").mkdir()
    bad = Gunicorn(
        project, {**env, **s3_env(s3_endpoint, "wrong"), "MODEL_PATH": str(tmp_path / "n")}, tmp_path / "bad.log"
    )
    try:
        assert bad.process.wait(timeout=120) == 1
        lines = [line for line in bad.lines() if line.startswith("fetch-model: ")]
        assert len(lines) == 1 and "access denied" in lines[0] and lines[0].endswith(f": {uri}"), bad.lines()
        assert list((tmp_path / "n").iterdir()) == []
    finally:
        bad.stop()


# -- what a review found --------------------------------------------------------------------------------------


def test_a_store_message_over_several_lines_is_reported_in_one_line(project, http_server, tmp_path):
    """An MLflow server answering 500 with line breaks in its message: still one line."""
    message = {"error_code": "INTERNAL_ERROR", "message": "boom\nTraceback (most recent call last):\n  File x"}
    http_server.routes["/api/2.0/mlflow/model-versions/get"] = (500, {}, json.dumps(message).encode())
    uri = "models:/iris/1"
    done = fetch(project, tmp_path / "m", uri, MLFLOW_TRACKING_URI=f"http://127.0.0.1:{http_server.server_port}")
    failed(done, uri, "HTTP 500")
    assert "INTERNAL_ERROR: boom Traceback (most recent call last): File x" in done.stderr


def test_a_tracking_uri_with_a_password_never_shows_it(project, tmp_path):
    uri = "models:/iris/1"
    done = fetch(project, tmp_path / "m", uri, MLFLOW_TRACKING_URI="http://bob:hunter2@127.0.0.1:9")
    failed(done, uri, "cannot reach http://127.0.0.1:9/")
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize("data_filter", [True, False], ids=["python-with-data-filter", "python-3.11.2"])
def test_an_archive_leaves_its_directories_writable_for_the_fetcher(server, tmp_path, monkeypatch, data_filter):
    """A tar of read-only directories: unpacked with owner rwx (files rw), so the fetcher, which is not root in the
    pod, can move them into MODEL_PATH and remove them on a retry; setuid and world-write still dropped. Also
    where Python has no tarfile data filter (Debian bookworm's 3.11.2, the stand-in base image)."""
    import importlib

    if not data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)

    unpack = importlib.import_module("model_server.unpack")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, mode, data in (("d", 0o555, None), ("d/model.joblib", 0o4447, b"model")):
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    into = tmp_path / "into"
    into.mkdir()
    unpack.unpack(archive, into, lambda size: None)
    directory, file = (into / "d").stat().st_mode, (into / "d" / "model.joblib").stat().st_mode
    assert directory & 0o700 == 0o700 and file & 0o600 == 0o600  # the owner may move and remove them
    assert (directory | file) & 0o6002 == 0  # no setuid, setgid or world-write
