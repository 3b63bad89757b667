"""Reading the files an operator names on the command line (settings, saved events): regular
files only, and never more than a bound.

A path may name anything: `/dev/zero` never ends, a FIFO with no writer blocks the reader
forever, `/` is a directory. Each is one clear error (`FileReadError`), raised before any more
than `max_bytes + 1` bytes are read.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path


class FileReadError(ValueError):
    """The file cannot be read; the message names the file, why, and what to do."""


def read_regular_file(
    path: Path, max_bytes: int, *, label: str, fix: str, too_large: str | None = None
) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes` of them.

    `label` names the file in messages (`settings file x.json`), `fix` says what to pass
    instead (`too_large`: what to do with a file over the bound). Opened without blocking,
    so that a FIFO is refused rather than waited on.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise FileReadError(f"{label} does not exist: {fix}") from None
    except OSError as error:
        raise _unreadable(label, error) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise FileReadError(f"{label} is a directory: {fix}")
        if not stat.S_ISREG(mode):
            raise FileReadError(f"{label} is not a regular file (a device, a pipe): {fix}")
        with os.fdopen(descriptor, "rb", closefd=False) as source:
            raw = source.read(max_bytes + 1)
    except OSError as error:
        raise _unreadable(label, error) from None
    finally:
        os.close(descriptor)
    if len(raw) > max_bytes:
        size = f"{max_bytes // 2**20} MiB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
        raise FileReadError(f"{label} is larger than {size}: {too_large or fix}")
    return raw


def _unreadable(label: str, error: OSError) -> FileReadError:
    return FileReadError(
        f"{label} cannot be read ({error.strerror}): check the path and its permissions"
    )


def json_where(error: Exception) -> str:
    """Where a text stopped being JSON, ` (why at line L column C)`, when the parser says; not
    for an integer of over 4,300 digits, which Python refuses with a plain ValueError."""
    if isinstance(error, json.JSONDecodeError):
        return f" ({error.msg} at line {error.lineno} column {error.colno})"
    return ""
