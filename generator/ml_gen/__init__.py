"""ml-gen: one model config rendered into Helm values and plain Kubernetes manifests."""

__version__ = "0.1.0"
