"""What the Kubernetes API server accepts: names, labels, quantities, fields and size limits; no ml-gen policy.

Nothing here imports ml-gen's config, values or kinds: these are facts about Kubernetes, which `config/`
(ml-gen's rules) and `check/` (validation of rendered objects) both use.
"""
