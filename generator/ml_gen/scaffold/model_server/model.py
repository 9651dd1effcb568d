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


ARTIFACT_SUFFIXES = (".joblib", ".pkl", ".pickle", ".skops")
"""The files a directory may hold the model in (MODEL_PATH without an MLmodel file: exactly one of them)."""


def _load_sklearn(path: Path) -> Any:
    """A scikit-learn model from a file, or from a directory: an MLflow model (MLmodel) or one artifact file."""
    if path.is_dir():
        path, serialization, trusted = _artifact_in(path)
    else:
        serialization, trusted = _format_of(path), None
    if serialization == "skops":
        return _load_skops(path, trusted)
    # joblib and pickle (cloudpickle writes pickles) run code from the file they load: only load artifacts you
    # trust, from stores only your pipeline can write to.
    import joblib

    return joblib.load(path)  # joblib reads plain pickles too


def _format_of(path: Path) -> str:
    return "skops" if path.suffix == ".skops" else "pickle"


def _artifact_in(directory: Path) -> tuple[Path, str, list[str] | None]:
    """(the file, its serialization, skops' trusted types) of the model a directory holds."""
    mlmodel = directory / "MLmodel"
    if mlmodel.is_file():
        import yaml

        flavors = (yaml.safe_load(mlmodel.read_text("utf-8")) or {}).get("flavors") or {}
        sklearn = flavors.get("sklearn")
        if not isinstance(sklearn, dict) or "pickled_model" not in sklearn:
            raise ValueError(f"{mlmodel} has no sklearn flavor (flavors: {', '.join(flavors) or 'none'})")
        file = directory / sklearn["pickled_model"]
        serialization = sklearn.get("serialization_format") or _format_of(file)
        if serialization not in ("skops", "pickle", "cloudpickle"):
            raise ValueError(f"{mlmodel}: serialization_format {serialization!r} is not supported")
        trusted = sklearn.get("skops_trusted_types")
        return file, "skops" if serialization == "skops" else "pickle", trusted if isinstance(trusted, list) else None
    found = sorted(p for p in directory.rglob("*") if p.suffix in ARTIFACT_SUFFIXES and p.is_file())
    if len(found) != 1:
        names = ", ".join(str(p.relative_to(directory)) for p in found) or "none"
        raise ValueError(
            f"{directory} must hold an MLmodel file or exactly one {'/'.join(ARTIFACT_SUFFIXES)} file (found: {names})"
        )
    return found[0], _format_of(found[0]), None


def _load_skops(path: Path, trusted: list[str] | None) -> Any:
    """A skops file, refusing types outside skops' default trusted set and TRUSTED (the MLmodel's list)."""
    import skops.io

    untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in (trusted or [])]
    if untrusted:
        raise ValueError(f"{path} holds types skops does not trust: {', '.join(untrusted)}")
    return skops.io.load(path, trusted=trusted or None)


LOADERS: dict[str, Callable[[Path], Any]] = {"sklearn": _load_sklearn}
"""MODEL_FRAMEWORK -> the function that loads its artifact (a file or a directory); add a framework here."""


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
        fetched = environ.get("MODEL_PATH", "")  # the directory the fetcher (model_server.fetch) filled
        return cls(
            path=Path(fetched) if fetched else local_path(environ.get("MODEL_URI", "")),
            framework=framework,
            name=environ.get("MODEL_NAME", "model"),
            version=environ.get("MODEL_VERSION", "unknown"),
            max_body_bytes=int(limit),
        )


def local_path(uri: str) -> Path:
    """MODEL_URI as a local path: a plain path or file:///path (other URIs are fetched: MODEL_PATH)."""
    if not uri:
        raise StartupError("MODEL_URI is not set (a local path or file:///path to the model artifact)")
    parsed = urlparse(uri)
    if parsed.scheme == "" and not parsed.netloc:
        return Path(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost") and parsed.path:
        return Path(unquote(parsed.path))
    raise StartupError(
        f"MODEL_URI={uri!r} is not supported without MODEL_PATH: use a local path or file:///path, or fetch it "
        "(python -m model_server.fetch) into the directory MODEL_PATH names"
    )


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
