"""The exception tree: every failure ml-gen reports to a user is an MlGenError."""

from __future__ import annotations

import re

EXIT_FAILED = 1
"""A check or validation found a problem, or standard output could not be written (ml_gen.stdout); for `diff`,
applying would change the cluster (as diff(1) and kubectl diff say "differences found")."""
EXIT_USAGE = 2
"""Bad usage or a bad config."""
EXIT_INTERNAL = 3
"""A bug in ml-gen itself."""
EXIT_UNREACHABLE = 4
"""The Kubernetes API server could not be reached (validate --server, diff)."""
EXIT_BROKEN_PIPE = 141
"""Standard output's reader went away (a closed pipe): 128 + SIGPIPE, what a shell reports for a program a
closed pipe ended (ml_gen.stdout)."""


def os_reason(err: OSError) -> str:
    """An OSError as a few words ("Permission denied"), without the errno or the file name."""
    return err.strerror or type(err).__name__


class MlGenError(Exception):
    """Base class; the CLI prints ``str(error)`` and exits with ``exit_code``."""

    exit_code = EXIT_USAGE


def one_line(text: str) -> str:
    """Text with every unprintable character (line breaks, controls, U+2028, ...) escaped, e.g. \\n."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*)://([^\s/?#@\[\]'\"]+)@")


def without_userinfo(text: str) -> str:
    """Text with the secrets in its URLs' user info as ***: a password (user:password@, any scheme) or an http(s)
    URL's user (a token). An ssh:// user or hf://repo@revision stays."""

    def masked(url: re.Match[str]) -> str:
        secret = ":" in url[2] or url[1].lower().rpartition("+")[2] in ("http", "https")
        return f"{url[1]}://***@" if secret else url[0]

    return _USERINFO.sub(masked, text)


class ConfigError(MlGenError):
    """A model config is unreadable or invalid; carries file, line and field path."""

    def __init__(self, file: str, path: str, message: str, line: int | None = None):
        self.file, self.path, self.message, self.line = file, path, message, line
        where = f"{file}:{line}" if line else file
        field = f" {path}:" if path else ""
        super().__init__(one_line(without_userinfo(f"{where}:{field} {message}")))  # a refusal echoes no secret

    def __reduce__(
        self,
    ) -> tuple[
        type[ConfigError], tuple[str, str, str, int | None]
    ]:  # picklable, so errors cross from worker processes intact
        return (ConfigError, (self.file, self.path, self.message, self.line))


class UsageError(MlGenError):
    """The command line asks for something that cannot be done (unknown environment, ...)."""


class OutputError(MlGenError):
    """The output tree cannot be written; nothing was changed."""


class EditError(MlGenError):
    """`set-image`/`set-model`: the round trip would change more than the edit asked for (a bug in ml-gen;
    nothing is written)."""

    exit_code = EXIT_INTERNAL


class ValidationFailed(MlGenError):
    """Validation found problems in the rendered objects."""

    exit_code = EXIT_FAILED


class OutOfDate(MlGenError):
    """`render --check` found output trees that differ from a render (exit 1)."""

    exit_code = EXIT_FAILED

    def __init__(self, trees: int, prune_too: bool):
        hint = ", and with --prune (or --all) for environments no longer in the config" if prune_too else ""
        super().__init__(f"{trees} output tree(s) out of date; run the same command without --check{hint}")


class UnknownKind(MlGenError):
    """An object whose kind ml-gen does not know (a bug in a target, or a hand-made object given to a check)."""


class ServerUnreachable(MlGenError):
    """The API server of `validate --server` or `diff` did not answer (network, TLS, timeout): nothing was checked."""

    exit_code = EXIT_UNREACHABLE


class WouldBeRefused(MlGenError):
    """`diff`: applying the environment would fail, as the API server (or a kind's admission rule) refuses an
    object; the config asks for something this cluster will not take."""
