"""The one-file Flask app teams start from: a pickled model behind POST /predict, served by `app.run()`."""

import pickle

from flask import Flask, jsonify, request

with open("model.pkl", "rb") as f:
    model = pickle.load(f)

app = Flask(__name__)


@app.route("/predict", methods=["POST"])
def predict():
    rows = request.get_json()["instances"]
    return jsonify(predictions=model.predict(rows).tolist())


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
