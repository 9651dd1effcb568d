"""Train the example model (iris, scikit-learn) and write the artifact the Dockerfile copies into the image.

Run `python train.py` before `docker build`; it writes model/model.joblib (the path ml-model.yaml's
model.uri and the Dockerfile's MODEL_URI point at inside the image) and prints the test accuracy.
Replace the body of train() with your own training; keep writing one joblib file.
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
    out = parser.parse_args(argv).out
    model, accuracy = train()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    joblib.dump(model, partial)
    os.replace(partial, out)
    print(json.dumps({"artifact": str(out), "test_accuracy": round(accuracy, 4)}))


if __name__ == "__main__":
    main()
