"""Tests of the model server with Flask's test client; run `python train.py` first, then `pytest tests`."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_server.server import create_app

ARTIFACT = Path(__file__).resolve().parent.parent / "model" / "model.joblib"


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
