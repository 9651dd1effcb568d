"""Train the example model (iris, scikit-learn) and write the artifact the Dockerfile copies into the image.

Run `python train.py` before `docker build`; it writes model/model.joblib (the path ml-model.yaml's
model.uri and the Dockerfile's MODEL_URI point at inside the image) and prints the test accuracy.
Replace the body of train() with your own training; keep writing one joblib file.

With MLFLOW_TRACKING_URI set (and `pip install mlflow`), it also logs the model to that tracking server,
registers it as a new version of --registered-model (default: MODEL_NAME, else iris) and prints its
`models:/name/version` URI: the model.uri to deploy (`ml-gen set-model ENV --version V --uri models:/name/V`).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 42  # fixed, so the same data gives the same model every time


def train() -> tuple[Pipeline, float]:
    """Fit a scaled logistic regression on iris; return it with its accuracy on a held-out fifth."""
    iris = load_iris()  # shipped with scikit-learn: no download
    labels = iris.target_names[iris.target]  # predict species names, not class numbers
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, labels, test_size=0.2, random_state=SEED, stratify=labels
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=SEED))
    model.fit(x_train, y_train)
    return model, float(model.score(x_test, y_test))


def main(argv: list[str] | None = None) -> None:
    """Train and write the artifact atomically (a temporary file, then a rename)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("model/model.joblib"), help="artifact path")
    parser.add_argument(
        "--registered-model",
        default=os.environ.get("MODEL_NAME", "iris"),
        help="the MLflow registered model to add a version to, when MLFLOW_TRACKING_URI is set",
    )
    args = parser.parse_args(argv)
    out = args.out
    model, accuracy = train()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    joblib.dump(model, partial)
    os.replace(partial, out)
    report = {"artifact": str(out), "test_accuracy": round(accuracy, 4)}
    if os.environ.get("MLFLOW_TRACKING_URI"):
        report["model_uri"] = register(model, accuracy, args.registered_model)
    print(json.dumps(report))


def register(model: Pipeline, accuracy: float, name: str) -> str:
    """Log the model to the MLflow tracking server MLFLOW_TRACKING_URI names, register it; its models:/ URI."""
    import mlflow  # only needed here: pip install mlflow
    from mlflow.models import infer_signature

    features = load_iris().data[:5]
    with mlflow.start_run():
        mlflow.log_metric("test_accuracy", accuracy)
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            signature=infer_signature(features, model.predict(features)),
        )
    return f"models:/{name}/{logged.registered_model_version}"


if __name__ == "__main__":
    main()
