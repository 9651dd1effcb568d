"""The model server: a Flask app (server.py) that loads a model artifact (model.py) and serves predictions."""
