"""The scaffold's server under gunicorn with its own gunicorn.conf.py, on a loopback port: drain, start-up errors,
bounded metrics and the body size limit, with requests as clients send them over the wire."""

from __future__ import annotations

import http.client
import importlib
import json
import os
import random
import signal
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ml_gen import serving_metrics

GRACE = 10  # GRACEFUL_TIMEOUT for these runs, seconds
SLOW_SECONDS = 3  # how long one prediction of the slow model takes

# A model that is slow for real: a pipeline step that sleeps before passing the rows on. It signals
# through a marker file that a prediction has started, so the test knows a request is in flight.
SLOW_STEP = """
import os, pathlib, time

def slow_identity(rows):
    marker = os.environ.get("SLOW_MARKER")
    if marker:
        pathlib.Path(marker).touch()
    time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
    return rows
"""


@pytest.fixture
def slow_model(tmp_path, artifact, monkeypatch) -> tuple[Path, Path]:
    """(artifact, directory of its module): the trained iris model behind a step that sleeps SLOW_SECONDS."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    module_dir = tmp_path / "slowmodule"
    module_dir.mkdir()
    (module_dir / "mlgen_slow_step.py").write_text(SLOW_STEP)
    monkeypatch.syspath_prepend(str(module_dir))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    step = importlib.import_module("mlgen_slow_step")
    try:
        model = Pipeline([("slow", FunctionTransformer(step.slow_identity)), ("model", joblib.load(artifact))])
        model.fit([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], ["setosa", "virginica"])  # SLOW_SECONDS unset: 0
        path = tmp_path / "slow.joblib"
        joblib.dump(model, path)
    finally:
        sys.modules.pop("mlgen_slow_step", None)
    return path, module_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """One gunicorn master started by a test, with its stdout log; stopped by its own pid."""

    def __init__(self, project: Path, env: dict[str, str], log: Path):
        self.port = _free_port()
        self.log = log
        self._out = log.open("w")
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.process = subprocess.Popen(
            [str(gunicorn), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}"],
            cwd=project,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, path: str, body: Any = None, timeout: float = 30) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path), data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited early:\n{self.log.read_text()}"
            try:
                if self.request("/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail(f"the server was not ready within {timeout}s:\n{self.log.read_text()}")

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._out.close()


@pytest.fixture
def start(project, tmp_path) -> Iterator[Any]:
    """start(**env) -> a Gunicorn running the session's project with a clean environment plus env."""
    started: list[Gunicorn] = []
    home = tmp_path / "home-of-server"
    home.mkdir()

    def run(**extra: str) -> Gunicorn:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MODEL_NAME": "iris",
            "MODEL_VERSION": "1",
            "MODEL_FRAMEWORK": "sklearn",
            "MODEL_URI": "model/model.joblib",
            "GRACEFUL_TIMEOUT": str(GRACE),
            **extra,
        }
        server = Gunicorn(project, env, tmp_path / f"gunicorn-{len(started)}.log")
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()
    assert list(home.iterdir()) == [], "the server wrote into HOME"


def test_sigterm_drains_the_request_in_flight(start, slow_model, tmp_path, project, snapshot):
    before = snapshot(project)
    artifact, module_dir = slow_model
    marker = tmp_path / "prediction-started"
    server = start(
        MODEL_URI=f"file://{artifact}",
        PYTHONPATH=str(module_dir),
        SLOW_SECONDS=str(SLOW_SECONDS),
        SLOW_MARKER=str(marker),
    )
    server.wait_ready()
    result: dict[str, Any] = {}

    def predict() -> None:
        try:
            result["response"] = server.request("/predict", {"instances": [[5.1, 3.5, 1.4, 0.2]]})
        except Exception as err:  # reported by the assertion below
            result["error"] = repr(err)

    client = threading.Thread(target=predict)
    client.start()
    deadline = time.monotonic() + 20
    while not marker.exists():
        assert time.monotonic() < deadline, "the prediction never started"
        time.sleep(0.02)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    client.join(timeout=GRACE + 5)
    assert result == {"response": (200, {"predictions": ["setosa"]})}
    assert server.process.wait(timeout=GRACE + 5) == 0
    elapsed = time.monotonic() - signalled
    assert elapsed < GRACE, f"took {elapsed:.1f}s to stop"
    assert elapsed >= SLOW_SECONDS - 1, "exited before the request could have finished"

    entries = [json.loads(line) for line in server.lines()]  # every line of output is one JSON object
    messages = [e["message"] for e in entries]
    assert "Handling signal: term" in messages
    predict_log = [e for e in entries if e.get("route") == "/predict"]
    assert [(e["status"], e["method"]) for e in predict_log] == [(200, "POST")]
    assert predict_log[0]["seconds"] >= SLOW_SECONDS
    assert snapshot(project) == before  # nothing written into the project (no .pyc, no sockets)


def test_a_bad_setting_stops_the_server_with_one_json_line(start):
    server = start(MODEL_FRAMEWORK="pytorch")
    assert server.process.wait(timeout=60) == 3
    text = server.log.read_text()
    assert "Traceback" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    critical = [e for e in entries if e["level"] == "critical"]
    assert [e["message"] for e in critical] == [
        "cannot start: MODEL_FRAMEWORK='pytorch' is not supported (supported: sklearn)"
    ]


def test_a_corrupt_artifact_keeps_the_server_up_and_unready(start, tmp_path):
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"this is not a model")
    server = start(MODEL_URI=str(broken))
    deadline = time.monotonic() + 60
    while True:
        assert server.process.poll() is None, server.log.read_text()
        try:
            status, body = server.request("/ready", timeout=2)
        except OSError:
            status, body = 0, {}
        if status == 503 and body.get("reason", "").startswith("cannot load"):
            break
        assert time.monotonic() < deadline, (status, body)
        time.sleep(0.2)
    assert server.request("/health") == (200, {"status": "ok"})
    assert server.request("/predict", {"instances": [[1, 2, 3, 4]]})[0] == 503


Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(connection: http.client.HTTPConnection) -> Series:
    """Every sample /metrics shows: (name, sorted labels) -> value; each key is one series."""
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    text = response.read().decode()
    assert response.status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _send(connection: http.client.HTTPConnection, method: str, path: str, body: Any = None, **options: Any) -> int:
    """The status of one request on a kept-alive connection (its body read, so the connection can go on)."""
    connection.request(method, path, body=body, **options)
    response = connection.getresponse()
    response.read()
    return response.status


def test_thousands_of_random_methods_and_paths_add_no_series(start):
    """Methods and paths a client makes up fold into one label value each: the series stay the same."""
    server = start()
    server.wait_ready()
    rng = random.Random(15)
    methods: set[str] = set()
    while len(methods) < 3000:  # distinct; gunicorn takes 3 to 20 upper-case letters as a method
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 20)))
        if method not in serving_metrics.METHODS:
            methods.add(method)
    routes = ["/predict", "/health", "/ready", "/metrics"]  # a made-up method there: 405
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    assert [_send(connection, "MADEUP", "/no/such/path"), _send(connection, "MADEUP", "/predict")] == [404, 405]
    _samples(connection)  # a /metrics request is counted after it answered: read twice
    before = _samples(connection)

    statuses = {404: 0, 405: 0}
    deadline = time.monotonic() + 120
    for method in sorted(methods):
        path = rng.choice(routes) if rng.random() < 0.3 else "/" + "".join(rng.choices(string.ascii_lowercase, k=12))
        statuses[_send(connection, method, path)] += 1
        assert time.monotonic() < deadline, f"{sum(statuses.values())} requests took over 120 s"

    after = _samples(connection)
    assert after.keys() == before.keys(), f"{len(before)} series before, {len(after)} after"
    for status, count in statuses.items():  # every request counted, under one method and one route
        labels = (
            ("method", serving_metrics.OTHER_METHOD),
            ("route", serving_metrics.UNMATCHED_ROUTE),
            ("status", str(status)),
        )
        assert after[(serving_metrics.REQUESTS, labels)] == count + 1  # + the warm-up request
    methods_seen = {dict(labels).get("method") for _, labels in after} - {None}
    routes_seen = {dict(labels).get("route") for _, labels in after} - {None}
    assert methods_seen <= {*serving_metrics.METHODS, serving_metrics.OTHER_METHOD}
    assert routes_seen <= {*routes, serving_metrics.UNMATCHED_ROUTE}


def _chunked(body: bytes) -> Iterator[bytes]:
    """BODY in 64 KiB pieces, so http.client sends it with Transfer-Encoding: chunked."""
    return (body[i : i + 65536] for i in range(0, len(body), 65536))


def _post_while_reading(port: int, body: bytes, *, chunked: bool) -> int:
    """The status of POST /predict as a client that reads the answer however much of BODY was sent sees it.

    gunicorn closes the connection after refusing a large body it will not read, so http.client, which
    sends the whole body before it reads, fails with a broken pipe; curl and browsers read the 413.
    """
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    parts = ([b"%x\r\n%s\r\n" % (len(p), p) for p in _chunked(body)] + [b"0\r\n\r\n"]) if chunked else [body]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n\r\n".encode())
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1])


def test_oversized_bodies_get_413_however_they_are_sent(start, server):
    """Over the limit (MAX_CONTENT_LENGTH, 1 MiB by default): 413 with a Content-Length and for a chunked body."""
    limit = server.Settings.from_environ({"MODEL_URI": "model.joblib"}).max_body_bytes
    assert limit == 1024 * 1024
    row = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
    app = start()
    app.wait_ready()

    kept = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    assert _send(kept, "POST", "/predict", row.ljust(limit)) == 200  # JSON padded with spaces to exactly the limit
    assert _send(kept, "POST", "/predict", _chunked(row.ljust(limit)), encode_chunked=True) == 200
    assert _send(kept, "POST", "/predict", _chunked(row.ljust(limit + 1)), encode_chunked=True) == 413
    assert _send(kept, "POST", "/predict", row) == 200  # the body was read to its end: the connection goes on

    for size in (limit + 1, 4 * limit):
        for chunked in (False, True):
            assert _post_while_reading(app.port, row.ljust(size), chunked=chunked) == 413, (size, chunked)
    assert app.request("/predict", {"instances": [[5.1, 3.5, 1.4, 0.2]]}) == (200, {"predictions": ["setosa"]})
    metrics = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    refused = _samples(metrics)[
        (serving_metrics.REQUESTS, (("method", "POST"), ("route", "/predict"), ("status", "413")))
    ]
    assert refused == 5
