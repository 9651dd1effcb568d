"""Generate N varied, valid model configs: models/<name>/ml-model.yaml with dev, staging and prod.

Deterministic: model i depends only on (seed, i), so the first 10 models of N=100 are the models of N=10.

    python -m bench.generate 100 /tmp/bench-models [--seed 0]
"""

from __future__ import annotations

import argparse
import hashlib
import random
from pathlib import Path

import yaml

ENVS = ("dev", "staging", "prod")
TEAMS = ("risk", "search", "vision", "nlp")  # namespaces: bench-<team>-<env>, 12 in all
FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "tensorflow", "onnx", "lightgbm")
KINDS = ("classifier", "ranker", "embedder", "forecaster", "detector", "scorer")


def model_config(index: int, seed: int = 0) -> dict:
    """The config of model `index`: a mix of HPA, PDB, ingress, secretEnv, configFiles, GPU and digests."""
    rng = random.Random(f"{seed}:{index}")
    kind = rng.choice(KINDS)
    name = f"{kind}-{index:04d}"
    team = rng.choice(TEAMS)
    version = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    gpu = rng.random() < 0.15
    port = rng.choice((5000, 8000, 8080))
    image: dict = {"repository": f"registry.example.com/{team}/{name}"}
    if rng.random() < 0.25:
        image["digest"] = "sha256:" + hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()
    else:
        image["tag"] = version
    cfg: dict = {
        "name": name,
        "partOf": f"{team}-platform",
        "model": {
            "name": f"{team}-{kind}",
            "version": version,
            "uri": f"s3://models/{team}/{name}/{version}/model.bin",
            "framework": "pytorch" if gpu else rng.choice(FRAMEWORKS),
        },
        "image": image,
        "port": port,
        "replicas": rng.randint(1, 3),
        "env": {"LOG_LEVEL": "info", "WORKERS": str(rng.randint(1, 8)), "BATCH_SIZE": str(2 ** rng.randint(0, 7))},
        "resources": {
            "requests": {"cpu": rng.choice(("250m", "500m", "1", "2")), "memory": rng.choice(("512Mi", "1Gi", "4Gi"))},
            "limits": {"memory": rng.choice(("8Gi", "16Gi"))},
        },
        "labels": {"team": team},
    }
    if rng.random() < 0.4:
        cfg["secretEnv"] = {"API_KEY": {"secret": f"{name}-secrets", "key": "api-key"}}
        if rng.random() < 0.5:
            cfg["secretEnv"]["DB_PASSWORD"] = {"secret": f"{team}-db", "key": "password", "optional": True}
    if rng.random() < 0.3:
        cfg["configFiles"] = {
            "features.json": '{"features": ["a", "b", "c"]}',
            "thresholds.yaml": f"default: 0.{rng.randint(50, 99)}\n",
        }
    if rng.random() < 0.6:
        cfg["metrics"] = {"enabled": True, "path": "/metrics"}
    if gpu:
        cfg["gpu"] = rng.randint(1, 2)
        cfg["nodeSelector"] = {"nvidia.com/gpu.present": "true"}
        cfg["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if rng.random() < 0.3:
        cfg["podDisruptionBudget"] = {"minAvailable": 1}
    cfg["environments"] = _environments(rng, name, team, gpu)
    return cfg


def _environments(rng: random.Random, name: str, team: str, gpu: bool) -> dict:
    envs: dict = {env: {"namespace": f"bench-{team}-{env}"} for env in ENVS}
    envs["dev"].update(replicas=1, env={"LOG_LEVEL": "debug"})
    if gpu:
        envs["dev"].update(gpu=0, nodeSelector={}, tolerations=[])
    if rng.random() < 0.3:
        envs["dev"].update(image={"tag": "latest"}, security={"allowLatestTag": True})
    if rng.random() < 0.5:
        envs["prod"]["autoscaling"] = {
            "enabled": True,
            "minReplicas": 2,
            "maxReplicas": rng.randint(4, 20),
            "targetCPUUtilizationPercentage": rng.choice((60, 70, 80)),
        }
        if rng.random() < 0.5:
            # at least 2: a model-wide PDB minAvailable: 1 would block every eviction at 1 replica
            envs["staging"]["autoscaling"] = {"enabled": True, "minReplicas": 2, "maxReplicas": 3}
    if rng.random() < 0.4:
        envs["prod"]["podDisruptionBudget"] = {"maxUnavailable": 1}
    if rng.random() < 0.4:
        envs["prod"]["ingress"] = {
            "enabled": True,
            "className": "nginx",
            "host": f"{name}.{team}.example.com",
            "tlsSecret": f"{name}-tls",
        }
        if rng.random() < 0.5:
            envs["staging"]["ingress"] = {"enabled": True, "className": "nginx", "host": f"{name}.staging.example.com"}
    return envs


def generate(root: Path, n: int, seed: int = 0) -> list[Path]:
    """Write models 0..n-1 under root/models/<name>/ml-model.yaml; return the config paths."""
    paths = []
    for i in range(n):
        cfg = model_config(i, seed)
        path = Path(root) / "models" / cfg["name"] / "ml-model.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of models")
    parser.add_argument("root", type=Path, help="directory to write models/ into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paths = generate(args.root, args.n, args.seed)
    print(f"wrote {len(paths)} configs under {args.root / 'models'}")


if __name__ == "__main__":
    main()
