"""Tests of the model server with Flask's test client; run `python train.py` first, then `pytest tests`."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_server.server import create_app

ARTIFACT = Path(__file__).resolve().parent.parent / "model" / "model.joblib"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


@pytest.fixture
def client():
    """A client of a server that has loaded the artifact train.py wrote."""
    app = create_app({"MODEL_URI": str(ARTIFACT), "MODEL_FRAMEWORK": "sklearn"}, load=False)
    app.extensions["model_state"].load()
    return app.test_client()


def test_health_and_ready(client):
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_predict(client):
    response = client.post("/predict", json={"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]})
    assert response.status_code == 200
    assert response.get_json() == {"predictions": ["setosa", "virginica"]}


def test_bad_request(client):
    response = client.post("/predict", json={"rows": []})
    assert response.status_code == 400
    assert "instances" in response.get_json()["error"]


def test_made_up_methods_and_paths_add_no_metrics(client):
    """Metric labels take values from fixed sets (unknown methods and paths share one), so /metrics cannot grow."""
    client.open("/no/such/path", method="BREW")  # 404
    client.open("/predict", method="BREW")  # 405
    client.get("/metrics")  # a /metrics request is counted after it answered
    lines = len(client.get("/metrics").get_data(as_text=True).splitlines())
    for i in range(50):
        client.open(f"/no/such/path/{i}", method=f"BREW{i}")
        client.open("/predict", method=f"MAKE{i}")
    assert len(client.get("/metrics").get_data(as_text=True).splitlines()) == lines


def served_from(directory: Path):
    """A client of a server that loaded the model in DIRECTORY (MODEL_PATH, as the fetcher fills it)."""
    app = create_app({"MODEL_PATH": str(directory), "MODEL_URI": "models:/iris/1", "MODEL_VERSION": "1"}, load=False)
    app.extensions["model_state"].load()
    return app.test_client()


def test_model_path_with_one_artifact_file(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.joblib").write_bytes(ARTIFACT.read_bytes())
    (tmp_path / "README.md").write_text("not a model")
    client = served_from(tmp_path)
    assert client.get("/ready").get_json() == {"status": "ready", "model": "model", "version": "1"}
    assert client.post("/predict", json={"instances": ROWS}).get_json() == {"predictions": ["setosa", "virginica"]}


def test_model_path_with_a_skops_file(tmp_path):
    import joblib
    import skops.io

    skops.io.dump(joblib.load(ARTIFACT), tmp_path / "model.skops")
    client = served_from(tmp_path)
    assert client.post("/predict", json={"instances": ROWS}).get_json() == {"predictions": ["setosa", "virginica"]}


@pytest.mark.parametrize("serialization, file", [("skops", "model.skops"), ("cloudpickle", "model.pkl")])
def test_model_path_with_an_mlflow_model(tmp_path, serialization, file):
    """An MLflow model directory: the MLmodel file's sklearn flavor names the file and how it was saved."""
    import joblib
    import skops.io

    model = joblib.load(ARTIFACT)
    if serialization == "skops":
        skops.io.dump(model, tmp_path / file)
    else:
        joblib.dump(model, tmp_path / file)
    (tmp_path / "MLmodel").write_text(
        "flavors:\n"
        "  python_function:\n    loader_module: mlflow.sklearn\n    model_path: " + file + "\n"
        "  sklearn:\n    code: null\n    pickled_model: " + file + "\n"
        "    serialization_format: " + serialization + "\n    sklearn_version: 1.9.1\n"
        "mlflow_version: 3.18.0\n"
    )
    (tmp_path / "requirements.txt").write_text("scikit-learn==1.9.1\n")
    client = served_from(tmp_path)
    assert client.post("/predict", json={"instances": ROWS}).get_json() == {"predictions": ["setosa", "virginica"]}


def test_model_path_without_one_model_is_not_ready(tmp_path):
    (tmp_path / "a.joblib").write_bytes(ARTIFACT.read_bytes())
    (tmp_path / "b.joblib").write_bytes(ARTIFACT.read_bytes())
    response = served_from(tmp_path).get("/ready")
    assert response.status_code == 503
    assert "exactly one" in response.get_json()["reason"]


def test_model_info_names_the_model_and_its_version(tmp_path):
    app = create_app({"MODEL_URI": str(ARTIFACT), "MODEL_NAME": "iris", "MODEL_VERSION": "2"}, load=False)
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'model_server_model_info{framework="sklearn",name="iris",version="2"} 1.0' in metrics
