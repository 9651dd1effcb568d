"""Each of ml-gen's fast paths against the plain library route it replaces, on the same work.

    python -m bench.fastpaths                       # 20 in-process repetitions, 10 fresh processes, pool 5 runs
    python -m bench.fastpaths --repeat 3 --cold 2 --pool-repeat 1 --pool-sizes 16 --out /tmp/fastpaths.json
    python -m bench.fastpaths --out bench/results/fastpaths-before.json   # the frozen "before" figures
    python -m bench.fastpaths --only quickschema --out bench/results/schemacheck.json   # the schema check alone

- quickschema: `quickschema.is_valid` against jsonschema (ml-gen's Draft 2020-12 class from `patterns`) on the
  raw data of every config;
- fastyaml (gone since the objects are built in Python: there is no template output to read back);
- the YAML emitter: `yamlio.dump` against `yaml.dump` (the C dumper, same options: block style, keys in order,
  unicode as is, no line wrapping) on every values file and object one render writes; are the bytes equal?
- the process pool: `ml-gen render --all` of N generated configs with worker processes (as shipped) and with
  PARALLEL_MIN_CONFIGS set out of reach (one process).

In-process figures are the median CPU time of `--repeat` passes over all inputs, the routes taking turns. "Fresh
process" figures are the CPU time, in a new interpreter each, of the imports a route needs and its first call (what one
`ml-gen` command pays), the inputs read beforehand from a JSON file, PyYAML and the config reader imported.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import generate
from bench.run import ROOT, run, settle
from bench.startup import machine, summary

# Where each piece lives. The package is being restructured: update these, nothing else.
PATHS = {
    "load_config": "ml_gen.config:load",  # file -> Config (.name, .environments, .data)
    "config_schema": "ml_gen.config:schema",  # ml-gen's own JSON Schema of ml-model.yaml, as data
    "render_environment": "ml_gen.render:render_environment",  # (Config, env) -> .values, .objects, .namespace
    "quick_is_valid": "ml_gen.config.quickschema:is_valid",  # fast path: (schema, data) -> bool
    "jsonschema_class": "ml_gen.patterns:validator_class",  # library route: draft -> jsonschema validator class
    "yaml_load": "ml_gen.yamlio:load",  # library route: PyYAML with the C loader
    "emit": "ml_gen.yamlio:dump",  # fast path: data -> YAML text
    "parallel_min": "ml_gen.project:PARALLEL_MIN_CONFIGS",  # configs from which render uses worker processes
    "cli_main": "ml_gen.cli:main",  # the click group
}
RESULTS = ROOT / "bench" / "results" / "fastpaths.json"


class Gone(Exception):
    """A module or name of PATHS no longer exists: that fast path was removed."""


def resolve(key: str) -> Any:
    """The object PATHS names, or Gone."""
    module, name = PATHS[key].split(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise Gone(f"{PATHS[key]}: {err}") from None


def library_dump(data: Any) -> str:
    """PyYAML with ml-gen's output options: block style, two-space indent, keys in order, no wrapping."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=10**6)


def library_validator(schema: dict) -> Any:
    """jsonschema's validator as ml-gen would build it without quickschema (schema_errors does this on errors)."""
    return resolve("jsonschema_class")("2020-12")(schema)


# --- inputs ----------------------------------------------------------------------------------------------


def inputs(models: int, work: Path) -> dict[str, Any]:
    """The bundled example and `models` generated configs: their raw data and every document one render
    writes (values files and objects)."""
    yaml_load, load_config, render_environment = (
        resolve("yaml_load"),
        resolve("load_config"),
        resolve("render_environment"),
    )
    files = [ROOT / "ml-model.yaml", *generate.generate(work / "inputs", models)]
    configs = [load_config(str(f)) for f in files]
    schema = resolve("config_schema")()
    found: dict[str, Any] = {
        "schema": schema,
        "schema_lines": len(json.dumps(schema, indent=2).splitlines()),  # as ml-model.schema.json is written
        "configs": [yaml_load(f.read_text()) for f in files],
        "documents": [],
    }
    for config in configs:
        for env in config.environments:
            rendered = render_environment(config, env)
            found["documents"] += [rendered.values, *rendered.objects]
    return found


# --- the routes: each builds (imports, compiles) what it needs and returns the work on all inputs ----------


def quickschema_fast(data: dict) -> Callable[[], list]:
    is_valid, schema, configs = resolve("quick_is_valid"), data["schema"], data["configs"]
    return lambda: [is_valid(schema, c) for c in configs]


def quickschema_library(data: dict) -> Callable[[], list]:
    validator, configs = library_validator(data["schema"]), data["configs"]
    return lambda: [validator.is_valid(c) for c in configs]


def emitter_fast(data: dict) -> Callable[[], list]:
    emit, documents = resolve("emit"), data["documents"]
    return lambda: [emit(d) for d in documents]


def emitter_library(data: dict) -> Callable[[], list]:
    documents = data["documents"]
    return lambda: [library_dump(d) for d in documents]


FAST_PATHS: dict[str, dict[str, Any]] = {
    "quickschema": {
        "items": "configs",
        "unit": "config",
        "routes": {"fast": quickschema_fast, "library": quickschema_library},
        "fast": PATHS["quick_is_valid"],
        "library": f"jsonschema Draft 2020-12 ({PATHS['jsonschema_class']})",
    },
    "yaml emitter": {
        "items": "documents",
        "unit": "document",
        "routes": {"fast": emitter_fast, "library": emitter_library},
        "fast": PATHS["emit"],
        "library": "PyYAML, C dumper (yaml.dump, same options)",
    },
}


def agreement(name: str, data: dict, results: dict[str, Any]) -> dict[str, Any]:
    """Whether both routes gave the same answer (for the emitter: the same bytes, and data read back)."""
    fast, library = results["fast"], results["library"]
    if name != "yaml emitter":
        return {"same_result": sum(f == lib for f, lib in zip(fast, library, strict=True)), "of": len(fast)}
    yaml_load = resolve("yaml_load")
    return {
        "same_bytes": sum(f == lib for f, lib in zip(fast, library, strict=True)),
        "fast_reads_back": sum(yaml_load(f) == d for f, d in zip(fast, data["documents"], strict=True)),
        "library_reads_back": sum(yaml_load(lib) == d for lib, d in zip(library, data["documents"], strict=True)),
        "bytes": {"fast": sum(len(f.encode()) for f in fast), "library": sum(len(lib.encode()) for lib in library)},
        "of": len(fast),
        "example": {"fast": fast[0], "library": library[0]},
    }


def in_process(name: str, data: dict, repeat: int) -> dict[str, Any]:
    """Both routes over all inputs, `repeat` passes each, taking turns; CPU seconds per pass (the wall time
    of a pass on a busy machine also counts the time other processes had the CPU)."""
    spec = FAST_PATHS[name]
    routes = {route: build(data) for route, build in spec["routes"].items()}
    found: dict[str, Any] = {"fast": spec["fast"], "library": spec["library"], "unit": spec["unit"]}
    found.update(items=len(data[spec["items"]]), passes={r: [] for r in routes}, passes_wall={r: [] for r in routes})
    answers = {r: work() for r, work in routes.items()}  # warm-up, and the outputs compared
    for _ in range(repeat):
        for route, work in routes.items():
            start, cpu = time.perf_counter(), time.process_time()
            work()
            found["passes"][route].append(time.process_time() - cpu)
            found["passes_wall"][route].append(time.perf_counter() - start)
    found["summary"] = {r: summary(p) for r, p in found["passes"].items()}
    found.update(agreement(name, data, answers))
    return found


def cold(name: str, route: str, inputs_file: Path, times: int) -> list[tuple[float, float]]:
    """In `times` fresh interpreters: (wall, CPU) seconds from before the imports a route needs to the end of
    its first call on the first input."""
    samples = []
    for _ in range(times):
        cmd = [sys.executable, "-m", "bench.fastpaths", "--cold-child", name, route, str(inputs_file)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr[-2000:]}")
        wall, cpu = proc.stdout.strip().splitlines()[-1].split()
        samples.append((float(wall), float(cpu)))
    return samples


def cold_child(name: str, route: str, inputs_file: Path) -> None:
    """(In the fresh interpreter) time the imports and first call of one route; print wall and CPU seconds.
    PyYAML and the config reader are imported before: every command that reads a config imports them."""
    data = json.loads(inputs_file.read_text())
    resolve("yaml_load")
    items = FAST_PATHS[name]["items"]
    data[items] = data[items][:1]
    start, cpu = time.perf_counter(), time.process_time()
    FAST_PATHS[name]["routes"][route](data)()
    print(time.perf_counter() - start, time.process_time() - cpu)


# --- the process pool ------------------------------------------------------------------------------------


def pool_command(tree: Path, serial: bool) -> list[str]:
    """`ml-gen render --all -c tree` through the click group, with the pool threshold out of reach if serial."""
    module, name = PATHS["parallel_min"].split(":")
    main_module, main_name = PATHS["cli_main"].split(":")
    code = (
        f"import importlib, sys; m = importlib.import_module({module!r}); "
        + (f"m.{name} = 10**9; " if serial else "")
        + f"sys.argv[0] = 'ml-gen'; getattr(importlib.import_module({main_module!r}), {main_name!r})()"
    )
    return [sys.executable, "-c", code, "render", "--all", "-c", str(tree)]


def process_pool(sizes: list[int], repeat: int, work: Path) -> dict[str, Any]:
    """render --all of N fresh configs with and without workers, `repeat` runs each, taking turns."""
    threshold = resolve("parallel_min")
    nproc = os.cpu_count() or 1
    found: dict[str, Any] = {"parallel_min_configs": threshold, "cpu_count": nproc, "sizes": {}}
    for n in sizes:
        source = work / f"pool-{n}"
        generate.generate(source, n)
        samples: dict[str, list[dict]] = {"with workers": [], "one process": []}
        for rep in range(repeat):
            for mode in samples:
                tree = work / f"pool-{n}-{rep}-{mode.replace(' ', '-')}"
                shutil.copytree(source / "models", tree)
                settle()
                samples[mode].append(run(pool_command(tree, serial=mode == "one process")))
                shutil.rmtree(tree)
        found["sizes"][str(n)] = {
            "worker_processes": min(nproc, n // (threshold // 2)),
            **{
                mode: {key: [s[key] for s in runs] for key in runs[0]} | {"summary": summary([s["wall"] for s in runs])}
                for mode, runs in samples.items()
            },
        }
        medians = {m: found["sizes"][str(n)][m]["summary"]["median"] for m in samples}
        print(f"  pool N={n}: " + ", ".join(f"{m} {s:.2f}s" for m, s in medians.items()), flush=True)
        shutil.rmtree(source)
    return found


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--cold-child":
        cold_child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=64, help="generated configs beside the example (default 64)")
    parser.add_argument("--repeat", type=int, default=20, help="in-process passes per route (default 20)")
    parser.add_argument("--cold", type=int, default=10, help="fresh processes per route (default 10)")
    parser.add_argument("--pool-sizes", type=generate_sizes, default=[16, 64, 256], help="N for the process pool")
    parser.add_argument("--pool-repeat", type=int, default=5, help="runs per N and mode (default 5)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default bench/results/fastpaths.json)")
    parser.add_argument("--only", choices=sorted(FAST_PATHS), action="append", help="these fast paths, no process pool")
    args = parser.parse_args()
    # the "before" of a change runs another checkout's ml_gen through PYTHONPATH: the command says so
    pythonpath = [f"PYTHONPATH={os.environ['PYTHONPATH']}"] if os.environ.get("PYTHONPATH") else []
    results: dict[str, Any] = {
        "command": " ".join([*pythonpath, "python -m bench.fastpaths", *sys.argv[1:]]),
        "machine": machine(),
        "paths": PATHS,
        "fast_paths": {},
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ml-gen-fastpaths-") as tmp:
        work = Path(tmp)
        data = inputs(args.models, work)
        inputs_file = work / "inputs.json"
        inputs_file.write_text(json.dumps(data))
        results["schema_lines"] = data["schema_lines"]
        for name in args.only or FAST_PATHS:
            try:
                found = in_process(name, data, args.repeat)
            except Gone as gone:
                results["fast_paths"][name] = {"gone": str(gone)}
                print(f"  {name}: gone ({gone})", flush=True)
                continue
            runs: dict[str, list[tuple[float, float]]] = {"fast": [], "library": []}
            for _ in range(args.cold):  # the routes take turns
                for route in runs:
                    runs[route] += cold(name, route, inputs_file, 1)
            found["fresh_process"] = {
                route: {
                    "seconds": [wall for wall, _ in s],
                    "cpu_seconds": [cpu for _, cpu in s],
                    "summary": summary([wall for wall, _ in s]),
                    "cpu_summary": summary([cpu for _, cpu in s]),
                }
                for route, s in runs.items()
            }
            results["fast_paths"][name] = found
            med = {r: found["summary"][r]["median"] / found["items"] * 1e6 for r in ("fast", "library")}
            first = {r: found["fresh_process"][r]["cpu_summary"]["median"] * 1000 for r in ("fast", "library")}
            print(
                f"  {name}: {found['items']} {found['unit']}s, per {found['unit']} fast {med['fast']:.1f} µs, "
                f"library {med['library']:.1f} µs; fresh process fast {first['fast']:.1f} ms, "
                f"library {first['library']:.1f} ms",
                flush=True,
            )
        try:
            if not args.only:
                results["process_pool"] = process_pool(args.pool_sizes, args.pool_repeat, work)
        except Gone as gone:
            results["process_pool"] = {"gone": str(gone)}
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    m = results["machine"]
    print(f"load average {m['loadavg_start']} at the start, {m['loadavg_end']} at the end")
    print(f"wrote {args.out} ({results['seconds']}s)")


def generate_sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


if __name__ == "__main__":
    main()
