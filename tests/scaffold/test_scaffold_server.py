"""The scaffold's model server through Flask's test client, with a model trained by the scaffold's train.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import joblib
import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import EnvironBuilder, run_wsgi_app

from ml_gen import serving_metrics

IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
IRIS_SPECIES = ["setosa", "virginica", "versicolor"]


@pytest.fixture
def make_app(server, artifact):
    """make_app(**env) -> a Flask app for the trained artifact with extra environment; the model is not loaded yet."""

    def make(**env: str):
        environ = {"MODEL_URI": str(artifact), "MODEL_FRAMEWORK": "sklearn", "MODEL_NAME": "iris", "MODEL_VERSION": "7"}
        return server.create_app({**environ, **env}, load=False)

    return make


@pytest.fixture
def loaded(make_app):
    """A test client of a server whose model is loaded."""
    app = make_app()
    app.extensions["model_state"].load()
    return app.test_client()


def test_predict_answers_the_models_own_predictions(loaded, artifact):
    response = loaded.post("/predict", json={"instances": IRIS_ROWS})
    assert response.status_code == 200
    assert response.get_json() == {"predictions": IRIS_SPECIES}
    assert response.get_json()["predictions"] == joblib.load(artifact).predict(IRIS_ROWS).tolist()


def test_predict_accepts_integers_and_any_content_type(loaded):
    response = loaded.post("/predict", data='{"instances": [[5, 3, 1, 0]]}', content_type="text/plain")
    assert response.status_code == 200
    assert response.get_json() == {"predictions": ["setosa"]}


@pytest.mark.parametrize(
    "body, mentions",
    [
        ("not json", "must be JSON"),
        ("", "must be JSON"),
        ("null", '{"instances"'),
        ("[[1, 2, 3, 4]]", '{"instances"'),
        ('{"rows": [[1, 2, 3, 4]]}', '{"instances"'),
        ('{"instances": []}', "non-empty list"),
        ('{"instances": [1, 2, 3, 4]}', "instances[0] must be a non-empty list"),
        ('{"instances": [[]]}', "instances[0] must be a non-empty list"),
        ('{"instances": [[1, 2, "3", 4]]}', "instances[0][2] must be a finite number, got a string"),
        ('{"instances": [[1, 2, true, 4]]}', "got a boolean"),
        ('{"instances": [[1, 2, null, 4]]}', "got null"),
        ('{"instances": [[1, 2, NaN, 4]]}', "got nan"),
        ('{"instances": [[1, 2, Infinity, 4]]}', "got inf"),
        ('{"instances": [[1, 2, 3]]}', "instances[0] has 3 features; the model expects 4"),
        ('{"instances": [[1, 2, 3, 4], [1, 2, 3, 4, 5]]}', "instances[1] has 5 features"),
        ('{"instances": "1,2,3,4"}', "non-empty list"),
        (
            '{"instances": [[1, 2, 3, 1' + "0" * 400 + "]]}",
            "instances[0][3] must be a finite number, got a number too large",
        ),
        ("[" * 100_000 + "]" * 100_000, "must be JSON"),
        (b'{"instances": [[1, 2, 3, "\xff"]]}', "must be JSON"),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else None,
)
def test_bad_bodies_get_a_json_400_saying_what_is_wrong(loaded, body, mentions):
    response = loaded.post("/predict", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.is_json
    assert mentions in response.get_json()["error"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_oversized_bodies_get_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH="200")
    app.extensions["model_state"].load()
    client = app.test_client()
    small = client.post("/predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert small.status_code == 200
    large = client.post("/predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]] * 20})
    assert large.status_code == 413
    assert large.is_json and "error" in large.get_json()


def post_chunked(app, body: bytes) -> int:
    """The status of POST /predict with a chunked body as gunicorn hands it on: no Content-Length, input terminated."""
    environ = EnvironBuilder("/predict", method="POST", input_stream=io.BytesIO(body)).get_environ()
    del environ["CONTENT_LENGTH"]  # the test client sets it; a chunked request has none
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    _, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0])


def test_chunked_bodies_over_the_limit_get_413_not_a_cut_body(make_app):
    app = make_app(MAX_CONTENT_LENGTH="200")
    app.extensions["model_state"].load()
    row = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
    assert post_chunked(app, row.ljust(200)) == 200  # JSON padded with spaces to exactly the limit
    assert post_chunked(app, row.ljust(201)) == 413  # cut at the limit, it would still be valid JSON
    assert post_chunked(app, row * 20) == 413


def test_unknown_routes_and_methods_get_json_errors(loaded):
    assert loaded.get("/nope").status_code == 404
    assert loaded.get("/nope").is_json
    wrong = loaded.get("/predict")
    assert wrong.status_code == 405 and wrong.is_json


def test_an_unexpected_error_is_a_500_without_traceback(make_app):
    class Broken:
        n_features_in_ = 4

        def predict(self, rows):
            raise RuntimeError("secret internal detail")

    app = make_app()
    app.extensions["model_state"].model = Broken()
    response = app.test_client().post("/predict", json={"instances": IRIS_ROWS})
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error"}


def test_ready_waits_for_the_model_and_health_does_not(make_app):
    app = make_app()
    client = app.test_client()
    assert client.get("/health").status_code == 200
    before = client.get("/ready")
    assert before.status_code == 503
    assert before.get_json() == {"status": "not ready", "reason": "the model is still loading"}
    assert client.post("/predict", json={"instances": IRIS_ROWS}).status_code == 503
    app.extensions["model_state"].load()
    after = client.get("/ready")
    assert after.status_code == 200
    assert after.get_json() == {"status": "ready", "model": "iris", "version": "7"}


def test_the_model_loads_in_the_background(server, artifact):
    app = server.create_app({"MODEL_URI": f"file://{artifact}"})  # load=True: a thread loads it
    assert app.extensions["model_state"].wait(timeout=60)
    assert app.test_client().get("/ready").status_code == 200


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "EOFError"),
        (b"not a pickle at all", "cannot load"),
        (b"\x80\x04\x95", "cannot load"),
        (None, "FileNotFoundError"),
    ],
    ids=["empty", "text", "truncated-pickle", "missing"],
)
def test_a_corrupt_artifact_keeps_ready_failing_while_health_answers(server, tmp_path, content, reason):
    path = tmp_path / "model.joblib"
    if content is not None:
        path.write_bytes(content)
    app = server.create_app({"MODEL_URI": str(path)}, load=False)
    app.extensions["model_state"].load()
    client = app.test_client()
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert reason in ready.get_json()["reason"] and str(path) in ready.get_json()["reason"]
    assert client.post("/predict", json={"instances": IRIS_ROWS}).status_code == 503
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f"{serving_metrics.MODEL_LOADED} 0.0" in metrics


def test_an_artifact_without_predict_is_not_ready(server, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump({"weights": [1, 2]}, path)
    app = server.create_app({"MODEL_URI": str(path)}, load=False)
    app.extensions["model_state"].load()
    assert "dict has no predict()" in app.test_client().get("/ready").get_json()["reason"]


@pytest.mark.parametrize(
    "env, mentions",
    [
        ({"MODEL_FRAMEWORK": "pytorch"}, "MODEL_FRAMEWORK='pytorch' is not supported (supported: sklearn)"),
        ({"MODEL_URI": "s3://bucket/model.joblib"}, "MODEL_URI='s3://bucket/model.joblib' is not supported"),
        ({"MODEL_URI": "https://example.com/m.joblib"}, "use a local path or file:///path"),
        ({"MODEL_URI": "file://otherhost/m.joblib"}, "is not supported"),
        ({"MODEL_URI": ""}, "MODEL_URI is not set"),
        ({"MAX_CONTENT_LENGTH": "1MB"}, "MAX_CONTENT_LENGTH='1MB'"),
    ],
)
def test_bad_settings_are_one_clear_startup_error(server, artifact, env, mentions):
    from model_server.model import StartupError

    with pytest.raises(StartupError) as raised:
        server.create_app({"MODEL_URI": str(artifact), **env}, load=False)
    assert mentions in str(raised.value)


def test_file_uris_and_plain_paths_name_the_same_artifact(server, artifact):
    from model_server.model import local_path

    assert local_path(f"file://{artifact}") == artifact
    assert local_path(f"file://localhost{artifact}") == artifact
    assert local_path(str(artifact)) == artifact
    assert local_path("file:///app/model/my%20model.joblib").name == "my model.joblib"


def test_metrics_are_exported_under_the_documented_names(loaded):
    loaded.post("/predict", json={"instances": IRIS_ROWS})
    loaded.post("/predict", json={"rows": []})
    loaded.get("/ready")
    response = loaded.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }
    names = {name for name, _ in samples}
    for name in serving_metrics.ALL:
        assert name in names or f"{name}_count" in names, name

    def value(metric: str, **labels: str) -> float:
        return samples[(metric, tuple(sorted(labels.items())))]

    assert value(serving_metrics.REQUESTS, route="/predict", method="POST", status="200") == 1
    assert value(serving_metrics.REQUESTS, route="/predict", method="POST", status="400") == 1
    assert value(serving_metrics.REQUESTS, route="/ready", method="GET", status="200") == 1
    assert value(f"{serving_metrics.REQUEST_SECONDS}_count", route="/predict", method="POST") == 2
    assert value(serving_metrics.PREDICTIONS) == len(IRIS_ROWS)
    assert value(serving_metrics.MODEL_LOADED) == 1
    assert value(serving_metrics.MODEL_LOAD_SECONDS) > 0
    assert value(serving_metrics.MODEL_INFO, name="iris", version="7", framework="sklearn") == 1


def test_unmatched_paths_and_unknown_methods_share_one_metrics_label(loaded):
    for path in ("/a", "/b", "/c/d"):
        loaded.get(path)
    for method in ("BREW", "PROPFIND", "MKCOL"):
        loaded.open("/predict", method=method)
    loaded.open("/e", method="WHEN")
    text = loaded.get("/metrics").get_data(as_text=True)
    assert 'model_server_requests_total{method="GET",route="unmatched",status="404"} 3.0' in text
    assert 'model_server_requests_total{method="other",route="unmatched",status="405"} 3.0' in text
    assert 'model_server_requests_total{method="other",route="unmatched",status="404"} 1.0' in text
    assert 'model_server_request_duration_seconds_count{method="other",route="unmatched"} 4.0' in text
    for raw in ("/c/d", "BREW", "PROPFIND", "MKCOL", "WHEN"):
        assert raw not in text


def test_the_metric_names_module_is_copied_into_the_project(project):
    from ml_gen import serving_metrics as source

    assert (project / "model_server" / "metrics.py").read_text() == Path(source.__file__).read_text()
    assert json.dumps(source.ALL)  # plain data: importable by alert rules without prometheus_client


def test_the_server_reads_the_variables_ml_gen_renders(make_app, artifact):
    """Every MODEL_* variable ml-gen renders (rules.MODEL_ENV) is a setting of the server."""
    from ml_gen.config.rules import MODEL_ENV

    environ = {"MODEL_URI": f"file://{artifact}", "MODEL_FRAMEWORK": "sklearn", "MODEL_NAME": "n", "MODEL_VERSION": "v"}
    assert set(environ) == set(MODEL_ENV.values())
    state = make_app(**environ).extensions["model_state"]
    assert (state.settings.path, state.settings.framework) == (artifact, "sklearn")
    assert (state.settings.name, state.settings.version) == ("n", "v")
