"""The one user-facing error type.

Anything the user can fix (a missing file, an unknown name, a label-space mismatch) is raised
as :class:`RobauditError`; the CLI prints its message as one line and exits with code 2.
"""

from __future__ import annotations


class RobauditError(Exception):
    """A problem with the user's input, with a message that says what to do about it."""

    exit_code = 2
