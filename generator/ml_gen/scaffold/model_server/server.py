"""The HTTP API: POST /predict, GET /health (liveness), GET /ready (readiness), GET /metrics (Prometheus)."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from model_server import logs, metrics
from model_server.model import ModelState, Settings, StartupError

log = logging.getLogger("model_server")
QUIET_ROUTES = {"/health", "/ready", "/metrics"}  # probed every few seconds: logged at debug level only


class Metrics:
    """The server's Prometheus metrics, in a registry of their own (names from metrics.py)."""

    def __init__(self, settings: Settings):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(metrics.REQUESTS, "HTTP requests.", metrics.REQUESTS_LABELS, registry=r)
        self.latency = Histogram(
            metrics.REQUEST_SECONDS,
            "HTTP request latency in seconds.",
            metrics.REQUEST_SECONDS_LABELS,
            buckets=metrics.REQUEST_SECONDS_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(metrics.PREDICTIONS, "Instances predicted.", registry=r)
        self.loaded = Gauge(metrics.MODEL_LOADED, "1 once the model is loaded.", registry=r)
        self.load_seconds = Gauge(metrics.MODEL_LOAD_SECONDS, "Seconds the model load took.", registry=r)
        info = Info(metrics.MODEL_INFO.removesuffix("_info"), "The served model.", registry=r)
        info.info({"name": settings.name, "version": settings.version, "framework": settings.framework})

    def model_loaded(self, seconds: float) -> None:
        """Record a successful load."""
        self.load_seconds.set(seconds)
        self.loaded.set(1)


class BadRequest(Exception):
    """The request body is not a valid prediction request; the message says why."""


def instances(body: Any, features: int | None) -> list[list[float]]:
    """The rows of a KServe v1 request {"instances": [[...], ...]}, checked; BadRequest says what is wrong."""
    if not isinstance(body, dict) or "instances" not in body:
        raise BadRequest('expected a JSON object {"instances": [[number, ...], ...]}')
    rows = body["instances"]
    if not isinstance(rows, list) or not rows:
        raise BadRequest('"instances" must be a non-empty list of rows')
    for i, row in enumerate(rows):
        if not isinstance(row, list) or not row:
            raise BadRequest(f"instances[{i}] must be a non-empty list of numbers")
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int | float) or not finite(value):
                raise BadRequest(f"instances[{i}][{j}] must be a finite number, got {json_type(value)}")
        if features is not None and len(row) != features:
            raise BadRequest(f"instances[{i}] has {len(row)} features; the model expects {features}")
    if len({len(row) for row in rows}) > 1:
        raise BadRequest("every row of instances must have the same number of features")
    return rows


def finite(number: float) -> bool:
    """A number a float can hold (an integer with 400 digits cannot)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if isinstance(value, int | float) and not isinstance(value, bool) and not finite(value):
        return "a number too large" if isinstance(value, int) else str(value)
    names = {bool: "a boolean", str: "a string", list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def method_label(method: str) -> str:
    """The method label: a standard method as sent, any other as one value (a client cannot add series)."""
    return method if method in metrics.METHODS else metrics.OTHER_METHOD


def read_body(limit: int) -> bytes:
    """The request body; RequestEntityTooLarge (413) past limit bytes, whether sent with Content-Length or chunked."""
    body = request.get_data(cache=False)  # Werkzeug: 413 for a Content-Length over limit; chunked: cut at limit
    if len(body) == limit and request.content_length is None and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()  # a chunked body with more to come
    return body


def error(status: int, message: str) -> tuple[Response, int]:
    """A JSON error body: {"error": message}."""
    return jsonify(error=message), status


def create_app(environ: Mapping[str, str] | None = None, *, load: bool = True) -> Flask:
    """The Flask app, configured from environ (default: os.environ); loads the model in the background if load."""
    settings = Settings.from_environ(os.environ if environ is None else environ)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes  # larger bodies get 413
    stats = Metrics(settings)
    state = ModelState(settings, on_loaded=stats.model_loaded)
    app.extensions["model_state"] = state
    app.extensions["metrics"] = stats

    @app.before_request
    def start_timer() -> None:
        g.start = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else metrics.UNMATCHED_ROUTE  # label values: a fixed set
        method = method_label(request.method)
        seconds = time.perf_counter() - g.get("start", time.perf_counter())
        stats.requests.labels(route, method, str(response.status_code)).inc()
        stats.latency.labels(route, method).observe(seconds)
        level = logging.DEBUG if route in QUIET_ROUTES and response.status_code < 500 else logging.INFO
        fields = {"method": request.method, "route": route, "status": response.status_code}
        log.log(level, "request", extra={**fields, "seconds": round(seconds, 4)})
        return response

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> tuple[Response, int]:
        return error(err.code or 500, err.description or err.name)

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")  # the traceback goes to the log, never into the response
        return error(500, "internal server error")

    @app.get("/health")
    def health() -> Response:
        """Liveness: the process answers (even while the model loads or after it failed to load)."""
        return jsonify(status="ok")

    @app.get("/ready")
    def ready() -> Response | tuple[Response, int]:
        """Readiness: 200 once the model is loaded; 503 with the reason before that or after a failed load."""
        if state.model is None:
            return jsonify(status="not ready", reason=state.reason), 503
        return jsonify(status="ready", model=settings.name, version=settings.version)

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(stats.registry), mimetype=CONTENT_TYPE_LATEST)

    @app.post("/predict")
    def predict() -> Response | tuple[Response, int]:
        """{"instances": [[...], ...]} -> {"predictions": [...]}, one prediction per row."""
        model = state.model
        if model is None:
            return error(503, state.reason)
        raw = read_body(settings.max_body_bytes)  # over MAX_CONTENT_LENGTH: 413
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deeply
            return error(400, 'the body must be JSON: {"instances": [[number, ...], ...]}')
        try:
            rows = instances(body, getattr(model, "n_features_in_", None))
            predictions = model.predict(rows)
        except BadRequest as err:
            return error(400, str(err))
        except ValueError as err:  # scikit-learn's way of refusing input
            return error(400, f"the model refused the input: {err}")
        stats.predictions.inc(len(rows))
        return jsonify(predictions=predictions.tolist() if hasattr(predictions, "tolist") else list(predictions))

    if load:
        state.start()
    return app


def main() -> Flask:
    """gunicorn's entry point: JSON logs, then the app; a bad setting is one log line and exit code 3."""
    logs.configure(os.environ.get("LOG_LEVEL", "info"))
    try:
        return create_app()
    except StartupError as err:
        log.critical("cannot start: %s", err)
        sys.exit(3)  # gunicorn's "worker failed to boot": the whole server stops instead of retrying
