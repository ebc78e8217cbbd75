"""One error type for everything a user can get wrong.

The CLI prints ``AekitError`` as ``error: <message>`` plus its hint and exits non-zero; it never
shows a traceback for these. Library users catch it like any ``ValueError``.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class AekitError(ValueError):
    """A problem the user can fix; ``hint`` says how."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message}\n  fix: {hint}")


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The valid choice nearest to a misspelt ``name`` (None when nothing is close)."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return match[0] if match else None


def unknown_choice(kind: str, name: str, choices: Iterable[str]) -> AekitError:
    choices = sorted(choices)
    near = closest(name, choices)
    hint = f"did you mean {near!r}? " if near else ""
    return AekitError(f"unknown {kind} {name!r}", hint + "valid: " + ", ".join(choices))
