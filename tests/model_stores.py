"""The model stores the fetcher's tests fetch from, as real servers: versitygw (S3) and an MLflow tracking server,
each started on a free port and stopped by the pid it was started with; iris registered in MLflow."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ACCESS_KEY, SECRET_KEY = "mlgen-fetch-test", "mlgen-fetch-test-secret"
MLFLOW_START_SECONDS = 120
NICE = ["nice", "-n", "10"]  # a lower CPU priority for what runs in the background
# MLflow's usage telemetry off: it would send to MLflow's collector (only loopback is ours to reach), and its thread
# sets and unsets a variable in os.environ while the client reads it (a KeyError under load, failing the request).
NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}

# Run by MLflow's own Python (the MLflow client): train.py registers version 1 of iris (as a user would run it, with
# MLFLOW_TRACKING_URI set), then version 2 is registered and given the alias. One process: MLflow loads once.
REGISTER = """
import runpy, sys
import mlflow
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier

train, out = sys.argv[1:]
sys.argv = [train, "--out", out, "--registered-model", "iris"]
runpy.run_path(train, run_name="__main__")  # prints {"artifact": ..., "model_uri": "models:/iris/1"}
iris = load_iris()
model = DummyClassifier(strategy="constant", constant="virginica").fit(iris.data, iris.target_names[iris.target])
with mlflow.start_run():
    info = mlflow.sklearn.log_model(  # requirements given: MLflow need not infer them in a subprocess
        model, name="model", registered_model_name="iris", serialization_format="cloudpickle",
        pip_requirements=["scikit-learn", "cloudpickle"],
    )
MlflowClient().set_registered_model_alias("iris", "champion", info.registered_model_version)
print(f"version 2: {info.registered_model_version}")
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Server:
    """A server process started here (its output in a log file), listening on host:port; stopped by its own pid."""

    def __init__(self, command: list[str], log: Path, host: str, port: int, env: dict[str, str] | None = None):
        self.log, self.host, self.port = log, host, port
        self.url = f"http://{host}:{port}"
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)

    def wait_listening(self, seconds: float) -> Server:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.log.name}: exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex((self.host, self.port)) == 0:
                    return self
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"{self.log.name}: not listening on {self.host}:{self.port} after {seconds}s")

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop a process this run started, by its own pid: SIGTERM, then SIGKILL after TIMEOUT seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_versitygw(binary: str, root: Path, host: str = "127.0.0.1") -> Server:
    """versitygw with the posix backend in ROOT/data and one access key (ACCESS_KEY, SECRET_KEY), on HOST."""
    (root / "data").mkdir()
    port = free_port(host)
    command = [binary, "--access", ACCESS_KEY, "--secret", SECRET_KEY, "--port", f"{host}:{port}", "--quiet"]
    return Server([*command, "posix", str(root / "data")], root / "versitygw.log", host, port).wait_listening(30)


def put_objects(endpoint: str, bucket: str, objects: dict[str, bytes]) -> None:
    """Create BUCKET on the S3 server at ENDPOINT and put OBJECTS (key -> bytes) in it."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=bucket)
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)


# Run by MLflow's own Python: an empty tracking store in the SQLite file argv[1], at MLflow's current schema, as
# `mlflow server --serve-artifacts` makes it (its Default experiment's artifacts under mlflow-artifacts:/).
EMPTY_STORE = """
import sys
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

TrackingStore(f"sqlite:///{sys.argv[1]}", "mlflow-artifacts:/")
RegistryStore(f"sqlite:///{sys.argv[1]}")
"""


def empty_store(binary: str) -> Path:
    """An empty tracking store already migrated to MLflow's schema, made once beside the MLflow that BINARY runs (its
    tool-cache entry, keyed by version and lock); each server starts on a copy of it. A new database is migrated at
    the server's start, a third of that start's time."""
    install = Path(binary).resolve().parent
    store = install / "empty-tracking-store.db"
    if not store.exists():
        made = Path(tempfile.mkdtemp(dir=install)) / "store.db"
        env = {"PATH": os.environ["PATH"], "HOME": str(made.parent), "PYTHONDONTWRITEBYTECODE": "1", **NO_TELEMETRY}
        done = subprocess.run(
            [str(install / "mlflow-python"), "-c", EMPTY_STORE, str(made)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        os.replace(made, store)  # whole or not at all, should two sessions make it at once
        shutil.rmtree(made.parent)
    return store


def start_mlflow(binary: str, root: Path, host: str = "127.0.0.1", background: bool = False) -> Server:
    """An MLflow tracking server on HOST: SQLite in ROOT (a copy of `empty_store`), artifacts served by it
    (--serve-artifacts) from ROOT. It takes 20-60 s to listen. In the background, it is not waited for (the caller
    does, MLFLOW_START_SECONDS) and runs niced: it takes the cores the caller's other work leaves idle."""
    shutil.copyfile(empty_store(binary), root / "mlflow.db")
    port = free_port(host)
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "PYTHONDONTWRITEBYTECODE": "1", **NO_TELEMETRY}
    command = [*(NICE if background else []), binary, "server", "--host", host, "--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--serve-artifacts"]
    command += ["--artifacts-destination", str(root / "artifacts")]
    server = Server(command, root / "mlflow.log", host, port, env)
    return server if background else server.wait_listening(MLFLOW_START_SECONDS)


def register_iris(mlflow_python: str, train_py: Path, root: Path, tracking_uri: str, background: bool = False) -> Path:
    """iris version 1 by the scaffold's train.py, version 2 (a constant 'virginica') with the alias champion (niced
    in the background); the file train.py wrote (version 1 as joblib)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "PYTHONDONTWRITEBYTECODE": "1", **NO_TELEMETRY}
    register = [*(NICE if background else []), mlflow_python, "-c", REGISTER, str(train_py), str(root / "model.joblib")]
    done = subprocess.run(
        register, cwd=root, env={**env, "MLFLOW_TRACKING_URI": tracking_uri}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()  # MLflow prints links to each run too
    trained = json.loads(next(line for line in lines if line.startswith('{"artifact"')))
    assert trained["model_uri"] == "models:/iris/1"  # train.py's registration
    assert "version 2: 2" in lines
    return root / "model.joblib"
