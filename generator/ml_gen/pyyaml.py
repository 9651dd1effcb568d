"""PyYAML, imported with the regular expressions its modules compile at import time compiled on first use."""

from __future__ import annotations

import re
import sys
from types import ModuleType
from typing import Any


class OnFirstUse:
    """A regular expression compiled when first used. PyYAML compiles some 15 as it is imported; one, the
    pure-Python reader's NON_PRINTABLE (a class spanning most of Unicode), takes 15-20 ms on its own, in every
    ml-gen process, though the C parser ml-gen reads with never uses it (bench/startup.py counts it)."""

    __slots__ = ("args", "compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.args = (pattern, flags)
        self.compiled: re.Pattern[str] | None = None

    def _pattern(self) -> re.Pattern[str]:
        if self.compiled is None:
            self.compiled = re.compile(*self.args)
        return self.compiled

    def match(self, text: str, *args: int) -> re.Match[str] | None:
        return self._pattern().match(text, *args)

    def search(self, text: str, *args: int) -> re.Match[str] | None:
        return self._pattern().search(text, *args)

    def __getattr__(self, name: str) -> Any:  # what PyYAML does not use today: sub, pattern, flags, ...
        return getattr(self._pattern(), name)


def load() -> ModuleType:
    """The yaml package; imported here first, every pattern compiled by a module of it is an OnFirstUse."""
    if "yaml" in sys.modules:
        return sys.modules["yaml"]
    compile_now = re.compile

    def compile_later(pattern: Any, flags: int = 0) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("yaml.") and isinstance(pattern, str):
            return OnFirstUse(pattern, flags)
        return compile_now(pattern, flags)

    re.compile = compile_later
    try:
        import yaml
    finally:
        re.compile = compile_now
    return yaml
