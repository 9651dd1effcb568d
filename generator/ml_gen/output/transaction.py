"""Writing plans as one transaction: every changed file of every plan, or none, through the atomic writer."""

from __future__ import annotations

from pathlib import Path

from ml_gen.output import atomic
from ml_gen.output.plan import Plan, preflight


def commit(plans: list[Plan], also: list[atomic.Write] | None = None) -> list[Path]:
    """Write every changed file of every plan, or none, and remove stale files (and the environment
    directories they leave empty). Every check and read is done before the first write; on any error
    every tree is left as it was. `also`: files written in the same transaction (an edited config),
    flushed to disk before anything is swapped in. Returns the plans' paths written or removed."""
    removals: list[atomic.Removal] = []
    for plan in plans:
        preflight(plan.root)
        plan.refuse_foreign()
        removals += [atomic.Removal(plan.root, rel) for rel in plan.stale()]
    writes = [atomic.Write(plan.root, rel, plan.files[rel]) for plan in plans for rel, _ in plan.differing()]
    atomic.write_files([*(also or []), *writes], removals, durable=bool(also))
    return [write.path for write in writes] + [removal.path for removal in removals]
