"""The output tree: what a render would write (plans, ownership, --check diffs) and writing it atomically."""

from ml_gen.output.layout import VALUES_SCHEMA
from ml_gen.output.plan import GENERATED, SCHEMA_OWNER, Owner, Plan, Release, owner, preflight
from ml_gen.output.transaction import commit

__all__ = ["GENERATED", "SCHEMA_OWNER", "VALUES_SCHEMA", "Owner", "Plan", "Release", "commit", "owner", "preflight"]
