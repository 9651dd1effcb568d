"""A bounded HTTP load generator (stdlib only): POSTs a body with N threads, one connection per request.

bench/serving.py runs it inside a pod of the local cluster (`kubectl exec -i POD -- python3 -c SOURCE SETTINGS`),
so it reaches the Service's ClusterIP as the live tests' client does; it stops by itself after `seconds` or
`max_requests`, whichever comes first, or when its stdin closes (`stop_on_eof`), and prints one JSON line.

Settings (one JSON argument): url, body, concurrency (threads), processes (the threads spread over that many
processes, default 1), seconds, max_requests, expect (a substring of a good answer), pause (seconds each thread
waits between requests), stop_on_eof, version_url and version (poll version_url every 0.1 s and record when its
answer first names version).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import sys
import threading
import time
import urllib.parse
from typing import Any

TIMEOUT = 10.0  # seconds per request: connect, send and read


class Load:
    """The shared state of one run: the stop flag, the request budget and what came back."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        url = urllib.parse.urlsplit(settings["url"])
        self.host, self.port, self.path = url.hostname or "", url.port or 80, url.path or "/"
        self.body = json.dumps(settings["body"]).encode()
        self.expect = settings.get("expect", "").encode()
        self.deadline = time.monotonic() + float(settings["seconds"])
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.left = int(settings["max_requests"])
        self.latencies: list[float] = []
        self.failures: list[tuple[float, str]] = []
        self.first_version: float | None = None

    def take(self) -> bool:
        """One request from the budget, unless the run is over."""
        if self.stop.is_set() or time.monotonic() >= self.deadline:
            return False
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def one(self) -> None:
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            conn.request("POST", self.path, self.body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            answer = response.read()
            problem = "" if response.status == 200 and self.expect in answer else f"status {response.status}"
        except (OSError, http.client.HTTPException) as err:
            problem = repr(err)[:200]
        finally:
            conn.close()
        seconds = time.perf_counter() - started
        with self.lock:
            if problem:
                self.failures.append((time.time(), problem))
            else:
                self.latencies.append(seconds)

    def worker(self) -> None:
        pause = float(self.settings.get("pause", 0))
        while self.take():
            self.one()
            if pause:
                time.sleep(pause)

    def watch_version(self) -> None:
        """Poll version_url until its JSON answer names the awaited version; note when it first did."""
        url, wanted = self.settings["version_url"], self.settings["version"]
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            parts = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=TIMEOUT)
            try:
                conn.request("GET", parts.path)
                if json.loads(conn.getresponse().read() or b"{}").get("version") == wanted:
                    self.first_version = time.time()
                    return
            except (OSError, ValueError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.1)


def percentile(ordered: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of sorted samples, None when there are none."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def threads_of(settings: dict[str, Any]) -> dict[str, Any]:
    """Run the settings' threads in this process; what they saw (raw)."""
    load = Load(settings)
    threads = [threading.Thread(target=load.worker, daemon=True) for _ in range(int(settings["concurrency"]))]
    if settings.get("version_url"):
        threads.append(threading.Thread(target=load.watch_version, daemon=True))
    if settings.get("stop_on_eof"):
        threading.Thread(target=lambda: (sys.stdin.read(), load.stop.set()), daemon=True).start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=float(settings["seconds"]) + 2 * TIMEOUT)
    load.stop.set()
    with load.lock:
        return {"latencies": list(load.latencies), "failures": list(load.failures), "first": load.first_version}


def in_processes(settings: dict[str, Any], processes: int) -> dict[str, Any]:
    """The threads spread over PROCESSES forked processes (one interpreter lock each), the budget shared out."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    shares = []
    for i in range(processes):
        share = dict(settings, stop_on_eof=False)
        share["concurrency"] = settings["concurrency"] // processes + (i < settings["concurrency"] % processes)
        share["max_requests"] = settings["max_requests"] // processes
        shares.append(share)
    children = [context.Process(target=lambda s=s: queue.put(threads_of(s)), daemon=True) for s in shares]
    for child in children:
        child.start()
    parts = [queue.get(timeout=float(settings["seconds"]) + 4 * TIMEOUT) for _ in children]
    for child in children:
        child.join(timeout=TIMEOUT)
    return {
        "latencies": [x for part in parts for x in part["latencies"]],
        "failures": [x for part in parts for x in part["failures"]],
        "first": None,
    }


def run(settings: dict[str, Any]) -> dict[str, Any]:
    """One run: `processes` (default 1; never more than the threads) processes of threads; the summary."""
    processes = max(1, min(int(settings.get("processes", 1)), int(settings["concurrency"])))
    started, began = time.perf_counter(), time.time()
    seen = threads_of(settings) if processes == 1 else in_processes(settings, processes)
    seconds = time.perf_counter() - started
    ordered, failures = sorted(seen["latencies"]), seen["failures"]
    return {
        "started": began,
        "seconds": round(seconds, 3),
        "concurrency": settings["concurrency"],
        "processes": processes,
        "requests": len(ordered) + len(failures),
        "ok": len(ordered),
        "failed": len(failures),
        "failures": [{"at": round(at, 3), "error": error} for at, error in failures[:20]],
        "per_second": round(len(ordered) / seconds, 1) if seconds else None,
        "latency_ms": {
            name: None if value is None else round(value * 1000, 2)
            for name, value in (
                ("p50", percentile(ordered, 0.5)),
                ("p90", percentile(ordered, 0.9)),
                ("p99", percentile(ordered, 0.99)),
                ("max", ordered[-1] if ordered else None),
            )
        },
        "first_version_at": seen["first"],
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)
