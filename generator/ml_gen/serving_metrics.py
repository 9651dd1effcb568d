"""Metric names of the model server `ml-gen init` writes: the one place alert rules and tests read them from.

`ml-gen init` copies this file unchanged into the project as `model_server/metrics.py`, so the server
exports exactly these names and ml-gen (alert rules, tests) can import them as `ml_gen.serving_metrics`.
Names are as Prometheus shows them (a counter's `_total`, an info metric's `_info` included).
This module must stay plain data: no imports from ml_gen or prometheus_client.
"""

REQUESTS = "model_server_requests_total"
"""Counter: HTTP requests, labelled by route, method and status code (each from a fixed set, see below)."""
REQUESTS_LABELS = ("route", "method", "status")

REQUEST_SECONDS = "model_server_request_duration_seconds"
"""Histogram: request latency in seconds, labelled by route and method."""
REQUEST_SECONDS_LABELS = ("route", "method")
REQUEST_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Label values come from fixed sets, so no request can add a series: route is the matched URL rule
# ("/predict") or UNMATCHED_ROUTE, method is one of METHODS or OTHER_METHOD, status is a code the server answers.
UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route matched (an unknown path, or a method the route does not allow)."""
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
"""Methods the method label shows as sent (RFC 9110's and PATCH); any other method is OTHER_METHOD."""
OTHER_METHOD = "other"

PREDICTIONS = "model_server_predictions_total"
"""Counter: instances predicted (one request may carry many)."""

MODEL_LOADED = "model_server_model_loaded"
"""Gauge: 1 once the model is loaded and /ready answers 200, else 0."""

MODEL_LOAD_SECONDS = "model_server_model_load_seconds"
"""Gauge: seconds the last successful model load took."""

MODEL_INFO = "model_server_model_info"
"""Info (a gauge of 1): the served model's name, version and framework as labels."""
MODEL_INFO_LABELS = ("name", "version", "framework")

ALL = (REQUESTS, REQUEST_SECONDS, PREDICTIONS, MODEL_LOADED, MODEL_LOAD_SECONDS, MODEL_INFO)
"""Every metric name above."""
