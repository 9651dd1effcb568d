"""What a check found: per object, ok or its problems; and warnings that do not fail the check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ml_gen.errors import ValidationFailed


@dataclass
class Report:
    """Findings per object: ok, or problems; warnings do not fail unless they would block pods."""

    entries: list[tuple[str, str, list[str]]] = field(default_factory=list)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, where: str, obj: str, problems: list[str]) -> None:
        self.entries.append((where, obj, problems))

    def warn(self, where: str, obj: str, message: str) -> None:
        """A finding worth a look that does not fail the check."""
        self.warnings.append((where, obj, message))

    @property
    def ok(self) -> bool:
        return not any(problems for _, _, problems in self.entries)

    def lines(self) -> list[str]:
        out = []
        for where, obj, problems in self.entries:
            if not problems:
                out.append(f"ok    {where}  {obj}")
            for problem in problems:
                out.append(f"FAIL  {where}  {obj}: {problem}")
        out += [f"WARN  {where}  {obj}: {message}" for where, obj, message in self.warnings]
        failed = sum(1 for _, _, p in self.entries if p)
        warned = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        out.append(f"{len(self.entries) - failed} passed, {failed} failed{warned}")
        return out

    def raise_if_failed(self) -> None:
        """Raise ValidationFailed (exit 1) when any object has a problem."""
        if not self.ok:
            failed = sum(1 for _, _, p in self.entries if p)
            raise ValidationFailed(f"validation failed: {failed} object(s) with problems")

    def __iadd__(self, other: Report) -> Report:
        self.entries += other.entries
        self.warnings += other.warnings
        return self


def object_id(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
