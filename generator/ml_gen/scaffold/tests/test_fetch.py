"""Tests of the fetcher's contract (`python -m model_server.fetch`: MODEL_URI in, files under MODEL_PATH out), with
the stores stood in for by local bytes; run `python train.py` first, then `pytest tests`."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from model_server import fetch
from model_server.server import create_app
from model_server.sources import Remote

PROJECT = Path(__file__).resolve().parent.parent
ARTIFACT = PROJECT / "model" / "model.joblib"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def store(monkeypatch, files: dict[str, bytes]) -> None:
    """The URI's store holds FILES (relative path -> bytes)."""
    remotes = [Remote(name, lambda data=data: io.BytesIO(data)) for name, data in files.items()]
    monkeypatch.setattr(fetch, "remotes", lambda uri, environ: remotes)


def run(target: Path, uri: str = "s3://models/iris/", **env: str) -> str:
    return fetch.fetch({"MODEL_URI": uri, "MODEL_PATH": str(target), **env})


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_the_files_land_under_model_path_with_their_relative_paths(tmp_path, monkeypatch):
    store(monkeypatch, {"model.joblib": ARTIFACT.read_bytes(), "docs/README.md": b"iris"})
    line = run(tmp_path)
    assert line.startswith("fetch-model: fetched 2 files (") and line.endswith(f"into {tmp_path}: s3://models/iris/")
    assert (tmp_path / "docs" / "README.md").read_bytes() == b"iris"
    assert not (tmp_path / fetch.PARTIAL).exists()


def test_the_server_serves_what_was_fetched(tmp_path, monkeypatch):
    store(monkeypatch, {"model.joblib": ARTIFACT.read_bytes()})
    run(tmp_path)
    app = create_app({"MODEL_PATH": str(tmp_path), "MODEL_URI": "s3://models/iris/", "MODEL_VERSION": "3"}, load=False)
    app.extensions["model_state"].load()
    client = app.test_client()
    assert client.get("/ready").get_json() == {"status": "ready", "model": "model", "version": "3"}
    assert client.post("/predict", json={"instances": ROWS}).get_json() == {"predictions": ["setosa", "virginica"]}


def test_one_archive_is_unpacked(tmp_path, monkeypatch):
    archive = tar_gz({"model/model.joblib": ARTIFACT.read_bytes()})
    store(monkeypatch, {"model.tar.gz": archive})
    assert "unpacked model.tar.gz" in run(tmp_path, MODEL_SHA256=hashlib.sha256(archive).hexdigest())
    assert (tmp_path / "model" / "model.joblib").read_bytes() == ARTIFACT.read_bytes()
    assert not (tmp_path / "model.tar.gz").exists()


def test_a_zip_is_unpacked(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("model.joblib", ARTIFACT.read_bytes())
    store(monkeypatch, {"model.zip": buffer.getvalue()})
    run(tmp_path)
    assert (tmp_path / "model.joblib").read_bytes() == ARTIFACT.read_bytes()


def test_an_archive_with_a_link_is_refused(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("model")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(link)
    store(monkeypatch, {"model.tar.gz": buffer.getvalue()})
    with pytest.raises(fetch.FetchError, match="model is not a file"):
        run(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt"])
def test_an_archive_escaping_model_path_is_refused(tmp_path, monkeypatch, member):
    store(monkeypatch, {"model.tar.gz": tar_gz({member: b"x"})})
    (tmp_path / "target").mkdir()
    with pytest.raises(fetch.FetchError, match="archive escapes MODEL_PATH"):
        run(tmp_path / "target")
    assert not (tmp_path / "evil.txt").exists()
    assert list((tmp_path / "target").iterdir()) == []  # nothing left behind: a retry starts empty


def test_a_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    store(monkeypatch, {"model.joblib": b"not the model"})
    with pytest.raises(fetch.FetchError, match="checksum mismatch"):
        run(tmp_path, MODEL_SHA256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_more_than_the_size_limit_is_refused(tmp_path, monkeypatch):
    store(monkeypatch, {"a.bin": b"x" * 600, "b.bin": b"x" * 600})
    with pytest.raises(fetch.FetchError, match="too large"):
        run(tmp_path, MODEL_SIZE_LIMIT="1000")


def test_the_size_limit_counts_the_unpacked_files_too(tmp_path, monkeypatch):
    archive = tar_gz({"big.bin": b"\0" * 100_000})  # compresses to far less than it unpacks to
    store(monkeypatch, {"model.tar.gz": archive})
    with pytest.raises(fetch.FetchError, match="too large"):
        run(tmp_path, MODEL_SIZE_LIMIT="50000")


def test_an_earlier_complete_fetch_is_replaced(tmp_path, monkeypatch):
    store(monkeypatch, {"old.joblib": b"old"})
    run(tmp_path)
    store(monkeypatch, {"model.joblib": ARTIFACT.read_bytes()})
    run(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [fetch.DONE, "model.joblib"]


def test_a_directory_holding_other_files_is_left_alone(tmp_path, monkeypatch):
    (tmp_path / "mine.txt").write_text("keep")
    store(monkeypatch, {"model.joblib": b"m"})
    with pytest.raises(fetch.BadSetting, match="is not empty"):
        run(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep"


@pytest.mark.parametrize(
    "uri, env, exit_code, mentions",
    [
        ("ftp://host/model.joblib", {}, 2, "unsupported scheme ftp:"),
        ("/app/model/model.joblib", {}, 2, "unsupported scheme (a local path)"),
        ("https://example.com/model.joblib", {}, 2, "MODEL_SHA256 is required"),
        ("models:/iris/1", {}, 2, "MLFLOW_TRACKING_URI"),
        ("models:/iris/latest", {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, 2, "models:/name/version"),
        ("s3://models/m.joblib", {"MODEL_SIZE_LIMIT": "1Gi"}, 2, "MODEL_SIZE_LIMIT='1Gi'"),
    ],
)
def test_a_failure_is_one_line_and_an_exit_code(tmp_path, uri, env, exit_code, mentions):
    """`python -m model_server.fetch`: exit 2 for settings that cannot work, 1 for a failed fetch; one line."""
    done = subprocess.run(
        [sys.executable, "-m", "model_server.fetch"],
        cwd=PROJECT,
        env={"MODEL_URI": uri, "MODEL_PATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1", **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == exit_code, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("fetch-model: ") and mentions in done.stderr
    assert done.stderr.strip().endswith(f": {uri}")


def test_an_unreachable_store_fails_with_exit_code_1(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "model_server.fetch"],
        cwd=PROJECT,
        env={
            "MODEL_URI": "models:/iris/1",
            "MODEL_PATH": str(tmp_path),
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # the discard port: nothing listens
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert (
        done.stderr.startswith("fetch-model: cannot reach http://127.0.0.1:9/") and len(done.stderr.splitlines()) == 1
    )
