"""Where the model comes from (issue 16): model.uri read as KServe's storage initializer reads it, and the pod
rendered for each kind of source (the fetcher's contract: docs in the README, "Where the model comes from")."""

from __future__ import annotations

import pytest

from ml_gen.config.model_source import ModelSource, service_namespace, source, stores, uri_problem

SHA256 = "c" * 64
MLFLOW = {"trackingUri": "http://mlflow.mlflow:5000"}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/models/iris.joblib", ModelSource("image", "file")),
        ("model.joblib", ModelSource("image", "file")),
        ("file:///models/iris.joblib", ModelSource("image", "file")),
        ("s3://models/iris/3/model.joblib", ModelSource("fetch", "s3")),
        ("s3://models/iris/3/", ModelSource("fetch", "s3")),
        ("gs://models/iris/model.joblib", ModelSource("fetch", "gs")),
        ("hf://acme/iris@5f1c0ab", ModelSource("fetch", "hf")),
        ("hf://openai-community/gpt2@main", ModelSource("fetch", "hf")),
        ("https://models.example.com/iris.tar.gz", ModelSource("fetch", "https")),
        ("models:/iris/3", ModelSource("fetch", "models")),
        ("models:/iris@champion", ModelSource("fetch", "models")),
        ("pvc://iris-models/iris/3", ModelSource("pvc", "pvc", "iris-models", "iris/3")),
        ("pvc://iris-models/iris/../iris/3/", ModelSource("pvc", "pvc", "iris-models", "iris/3")),
        ("pvc://iris-models", ModelSource("pvc", "pvc", "iris-models", "")),
        ("pvc://iris-models/", ModelSource("pvc", "pvc", "iris-models", "")),
        ("pvc://iris-models//iris", ModelSource("pvc", "pvc", "iris-models", "iris")),
        ("pvc://iris-models/./", ModelSource("pvc", "pvc", "iris-models", "")),
    ],
)
def test_accepted_uris_and_how_they_reach_the_pod(uri, expected):
    assert uri_problem(uri, has_sha256=True, has_tracking_uri=True) is None
    assert source(uri) == expected


@pytest.mark.parametrize(
    ("uri", "sha256", "tracking", "words"),
    [
        ("ftp://host/m.pkl", True, True, "is not a scheme"),
        ("http://host/m.pkl", True, True, "plain http://"),
        ("https://host/m.pkl", False, True, "needs model.sha256"),
        ("https://user:pw@host/m.pkl", True, True, "credentials written inline"),
        ("https://host/m.pkl?token=abc", True, True, "looks like a credential"),
        ("s3://KEY:SECRET@bucket/m.pkl", True, True, "credentials written inline"),
        ("s3://Bucket/m.pkl", True, True, "is not a bucket name"),
        ("s3://bucket/a/../m.pkl", True, True, "'..' segment"),
        ("s3:/bucket/m.pkl", True, True, "is not a s3:// URI"),
        ("hf://acme/iris", True, True, "names no revision"),
        ("hf://acme/iris@", True, True, "names no revision"),
        ("hf://acme/iris@../x", True, True, "is not a Hugging Face model"),
        ("hf://hf_token@acme/iris@main", True, True, "credentials written inline"),
        ("hf://user:hf_token@acme/iris", True, True, "credentials written inline"),
        ("models:/iris/3", True, False, "set model.mlflow.trackingUri"),
        ("models:/iris", True, True, "is not an MLflow model URI"),
        ("models:/iris/latest", True, True, "is not an MLflow model URI"),
        ("pvc://models/../other", True, True, "escapes the claim"),
        ("pvc://models/a/../../other", True, True, "escapes the claim"),
        ("pvc://Models/iris", True, True, "is not a PersistentVolumeClaim name"),
        ("file://host/m.pkl", True, True, "names a host"),
    ],
)
def test_refused_uris(uri, sha256, tracking, words):
    problem = uri_problem(uri, has_sha256=sha256, has_tracking_uri=tracking)
    assert problem is not None and words in problem, problem


def _pod(render_env, **model):
    env = render_env(model={"name": "iris", "version": "3", **model})
    return env.values, env.get("Deployment")["spec"]["template"]


def _env(container) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def test_a_model_in_the_image_mounts_nothing(render_env):
    values, pod = _pod(render_env, uri="/models/iris.joblib")
    assert values["model"]["source"] == "image"
    assert "initContainers" not in pod["spec"]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["tmp"]
    assert "MODEL_PATH" not in _env(pod["spec"]["containers"][0])


def test_a_fetched_model_fills_an_empty_dir_that_the_server_reads_read_only(render_env):
    values, pod = _pod(
        render_env,
        uri="models:/iris@champion",
        mlflow=MLFLOW,
        s3={"endpoint": "http://store:7070", "region": "us-east-1", "addressing": "path"},
        credentials={"secret": "iris-store"},
        fetch={"sizeLimit": "512Mi"},
    )
    (fetch,) = pod["spec"]["initContainers"]
    server = pod["spec"]["containers"][0]
    assert fetch["name"] == "fetch-model"
    assert fetch["image"] == server["image"] and fetch["imagePullPolicy"] == server["imagePullPolicy"]
    assert fetch["command"] == ["python", "-m", "model_server.fetch"]
    assert _env(fetch) == {
        "AWS_ENDPOINT_URL": "http://store:7070",
        "AWS_REGION": "us-east-1",
        "HOME": "/tmp",
        "MLFLOW_TRACKING_URI": "http://mlflow.mlflow:5000",
        "MODEL_PATH": "/mnt/models",
        "MODEL_SIZE_LIMIT": str(512 * 2**20),
        "MODEL_URI": "models:/iris@champion",
        "S3_ADDRESSING_STYLE": "path",
    }
    assert fetch["envFrom"] == [{"secretRef": {"name": "iris-store"}}]
    assert "envFrom" not in server  # the credentials reach the fetcher only
    assert fetch["securityContext"] == server["securityContext"]
    assert set(fetch["resources"]) == {"requests", "limits"}
    assert {"name": "model", "mountPath": "/mnt/models"} in fetch["volumeMounts"]
    assert {"name": "model", "mountPath": "/mnt/models", "readOnly": True} in server["volumeMounts"]
    assert {"name": "model", "emptyDir": {"sizeLimit": "512Mi"}} in pod["spec"]["volumes"]
    assert _env(server)["MODEL_PATH"] == "/mnt/models"
    assert pod["metadata"]["annotations"]["ml-gen.dev/model-version"] == "3"
    assert values["prometheusRule"]["alertLabels"] == {"model_name": "iris", "model_version": "3"}


def test_only_what_applies_reaches_the_fetcher(render_env):
    _, pod = _pod(render_env, uri="https://models.example.com/iris.joblib", sha256=SHA256, s3={"region": "x"})
    (fetch,) = pod["spec"]["initContainers"]
    assert set(_env(fetch)) == {"HOME", "MODEL_PATH", "MODEL_SHA256", "MODEL_SIZE_LIMIT", "MODEL_URI"}
    assert "envFrom" not in fetch


def test_another_fetcher_image_and_command(render_env):
    _, pod = _pod(
        render_env, uri="gs://models/iris.joblib", fetch={"image": "reg.example.com/fetch:1.0", "command": ["fetch"]}
    )
    (fetch,) = pod["spec"]["initContainers"]
    assert (fetch["image"], fetch["imagePullPolicy"], fetch["command"]) == (
        "reg.example.com/fetch:1.0",
        "IfNotPresent",
        ["fetch"],
    )


def test_a_claim_is_mounted_read_only_at_its_path(render_env):
    values, pod = _pod(render_env, uri="pvc://iris-models/iris/3")
    assert "initContainers" not in pod["spec"]
    assert {"name": "model", "persistentVolumeClaim": {"claimName": "iris-models", "readOnly": True}} in pod["spec"][
        "volumes"
    ]
    mount = {"name": "model", "mountPath": "/mnt/models", "readOnly": True, "subPath": "iris/3"}
    assert mount in pod["spec"]["containers"][0]["volumeMounts"]
    assert values["model"]["source"] == "pvc"


def test_store_settings_an_environment_does_not_use_are_not_refused(render_env):
    """A base that fetches from S3 with a credentials Secret, an environment that mounts a claim instead:
    the inherited store settings cannot be removed in an override, so they are unused, not refused."""
    _, pod = _pod(render_env, uri="pvc://iris-models/iris", credentials={"secret": "s"}, s3={"region": "x"})
    assert "initContainers" not in pod["spec"]


def test_an_environment_that_changes_the_uri_does_not_inherit_the_checksum(config_text):
    from ml_gen import config

    text = config_text(
        model={"uri": "https://models.example.com/iris.joblib", "sha256": SHA256, "credentials": {"secret": "s"}},
        environments={
            "prod": {"namespace": "p"},
            "dev": {"namespace": "d", "model": {"uri": "hf://acme/iris@main", "credentials": {}}},
        },
    )
    cfg = config.parse(text)
    assert cfg.resolve("prod").settings["model"]["sha256"] == SHA256
    dev = cfg.resolve("dev").settings["model"]
    assert "sha256" not in dev and dev["credentials"] == {}


@pytest.mark.parametrize(
    ("url", "namespace"),
    [
        ("http://versitygw.storage.svc:7070", "storage"),
        ("http://mlflow.mlflow.svc.cluster.local:5000/", "mlflow"),
        ("https://s3.eu-west-1.amazonaws.com", None),
        ("http://10.96.0.12:9000", None),
        ("http://minio:9000", None),
    ],
)
def test_the_namespace_of_an_in_cluster_store(url, namespace):
    assert service_namespace(url) == namespace


def test_the_stores_a_fetch_talks_to():
    model = {"uri": "models:/iris/3", "mlflow": MLFLOW, "s3": {"endpoint": "http://s.storage.svc"}}
    assert stores(model, "models") == [
        (("model", "mlflow", "trackingUri"), MLFLOW["trackingUri"]),
        (("model", "s3", "endpoint"), "http://s.storage.svc"),
    ]
    assert stores(model, "gs") == []
