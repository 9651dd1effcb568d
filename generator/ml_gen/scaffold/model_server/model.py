"""Where the model comes from: settings read from MODEL_* environment variables, one loader per framework."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

log = logging.getLogger("model_server.model")


class StartupError(Exception):
    """The server cannot start with these settings; the message says which variable to change."""


def _load_joblib(path: Path) -> Any:
    # joblib (pickle) runs code from the file it loads: only load artifacts you built yourself.
    import joblib

    return joblib.load(path)


LOADERS: dict[str, Callable[[Path], Any]] = {"sklearn": _load_joblib}
"""MODEL_FRAMEWORK -> the function that loads its artifact; add a framework here."""


@dataclass(frozen=True)
class Settings:
    """What the server serves, from the environment ml-gen renders (MODEL_NAME, MODEL_VERSION, ...)."""

    path: Path
    framework: str
    name: str
    version: str
    max_body_bytes: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read and check the settings; raise StartupError naming the variable that is wrong."""
        framework = environ.get("MODEL_FRAMEWORK", "sklearn")
        if framework not in LOADERS:
            raise StartupError(f"MODEL_FRAMEWORK={framework!r} is not supported (supported: {', '.join(LOADERS)})")
        limit = environ.get("MAX_CONTENT_LENGTH", str(1024 * 1024))
        if not limit.isdigit() or int(limit) == 0:
            raise StartupError(f"MAX_CONTENT_LENGTH={limit!r} must be a positive number of bytes")
        return cls(
            path=local_path(environ.get("MODEL_URI", "")),
            framework=framework,
            name=environ.get("MODEL_NAME", "model"),
            version=environ.get("MODEL_VERSION", "unknown"),
            max_body_bytes=int(limit),
        )


def local_path(uri: str) -> Path:
    """MODEL_URI as a local path: a plain path or file:///path; other schemes are not supported yet."""
    if not uri:
        raise StartupError("MODEL_URI is not set (a local path or file:///path to the model artifact)")
    parsed = urlparse(uri)
    if parsed.scheme == "" and not parsed.netloc:
        return Path(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost") and parsed.path:
        return Path(unquote(parsed.path))
    raise StartupError(f"MODEL_URI={uri!r} is not supported: use a local path or file:///path (the image's copy)")


class ModelState:
    """The model, loaded once (in a background thread), and why it is not ready when it is not."""

    def __init__(self, settings: Settings, on_loaded: Callable[[float], None] = lambda seconds: None):
        self.settings = settings
        self.model: Any = None
        self.error: str | None = None
        self._on_loaded = on_loaded
        self._done = threading.Event()

    @property
    def reason(self) -> str:
        """Why the model cannot serve yet: still loading, or the load error."""
        return self.error or "the model is still loading"

    def start(self) -> None:
        """Load in a daemon thread, so /health answers while a large model loads."""
        threading.Thread(target=self.load, name="model-loader", daemon=True).start()

    def load(self) -> None:
        """Load the artifact; on failure keep the reason (the server stays up, /ready says why)."""
        s = self.settings
        start = time.perf_counter()
        log.info("loading model", extra={"model_path": str(s.path), "framework": s.framework})
        try:
            model = LOADERS[s.framework](s.path)
            if not callable(getattr(model, "predict", None)):
                raise TypeError(f"{type(model).__name__} has no predict()")
        except Exception as err:  # any failure to load is reported by /ready, never raised into a request
            self.error = f"cannot load {s.path}: {type(err).__name__}: {err}"
            log.error("model load failed", extra={"reason": self.error})
        else:
            seconds = time.perf_counter() - start
            self.model = model
            self._on_loaded(seconds)
            log.info("model loaded", extra={"seconds": round(seconds, 3), "model": s.name, "version": s.version})
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the load finished (loaded or failed); False on timeout."""
        return self._done.wait(timeout)
