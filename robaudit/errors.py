"""The user-facing error type and the one formatter for one-line messages.

Anything the user can fix (a missing file, an unknown name, a label-space mismatch) is raised
as :class:`RobauditError`; the CLI prints it as one line and exits with code 2.
"""

from __future__ import annotations

import re

_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colour codes some libraries put in messages

class RobauditError(Exception):
    """A problem with the user's input, with a message that says what to do about it."""

    exit_code = 2


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message with newlines folded and terminal colour codes
    removed (the type name when empty)."""
    text = " ".join(_TERMINAL_CODES.sub("", str(exc)).split())
    return text or type(exc).__name__


def describe_exception(exc: BaseException) -> str:
    """'ValueError: message' on one line, for failures that are not the user's input (the type
    name alone when the message is empty)."""
    text = one_line(exc)
    name = type(exc).__name__
    return name if text == name else f"{name}: {text}"
