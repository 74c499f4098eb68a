"""The one atomic writer: every file robaudit writes at a predictable path goes through here;
and the one folder lock (:func:`out_lock`): one robaudit run writes into a folder at a time.

A temporary file is created in the destination folder with ``O_CREAT | O_EXCL | O_NOFOLLOW``
(a planted file or symlink at the temporary name makes the open fail instead of being followed),
written, flushed, then renamed over the destination. ``rename`` replaces a symlink at the
destination itself rather than writing through it, and a killed run never leaves a torn file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from robaudit.errors import RobauditError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a fresh temporary file beside ``path``; on success rename it onto ``path``.

    ``mode`` is "wb" or "w" (UTF-8 text). On an exception the temporary file is removed and
    ``path`` is left untouched.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, _FLAGS, 0o644)
    except OSError as exc:
        raise RobauditError(f"cannot write {target}: {exc.strerror}; choose another folder") from None
    try:
        with open(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, target)
        except OSError as exc:  # e.g. the target is a folder
            raise RobauditError(f"cannot write {target}: {exc.strerror}; choose another path") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_with(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Let ``write(handle)`` fill a binary file (e.g. ``np.savez``, ``torch.save``), atomically."""
    with atomic_open(path, "wb") as handle:
        write(handle)


def check_writable(path: str | os.PathLike[str], flag: str) -> None:
    """Refuse, before any work, a file destination :func:`atomic_open` could not write: a folder,
    a parent that cannot be created or written, a name too long (tried with a real temporary file
    of the same name pattern, which is then removed)."""
    target = Path(path)
    try:
        if target.is_dir():
            raise RobauditError(f"{flag} {target} is a folder; give a file path")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        os.close(os.open(tmp, _FLAGS, 0o644))
        os.unlink(tmp)
    except OSError as exc:
        raise RobauditError(f"cannot write {flag} {target}: {exc.strerror}; choose another path") from None


def ensure_folder(path: str | os.PathLike[str], flag: str) -> Path:
    """Create the output folder ``path`` (and parents); a file in the way or an unwritable place
    is a one-line RobauditError naming ``flag``."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RobauditError(f"cannot create {flag} folder {folder}: {exc.strerror}; choose another {flag}") from None
    return folder


@contextlib.contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.robaudit.lock`` for the run: a second run into the same folder fails at once
    with one line instead of mixing two runs' files (released when the process ends, even on kill)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / ".robaudit.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise RobauditError(f"cannot write the report folder {out}: {exc.strerror}; choose another --out") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RobauditError(f"another robaudit run is writing into {out}; wait for it to finish "
                                "or choose another --out") from None
        yield
    finally:
        os.close(fd)
