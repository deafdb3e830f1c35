"""The signing key for tracking and unsubscribe tokens: TIDINGS_SECRET, or one generated once.

Invariant: every process on one data directory uses the same key, across restarts, so
links in mail already sent keep working. The generated key is written with mode 0600 and
created atomically, so two processes starting together agree on one key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

FILE_NAME = "secret.key"


def signing_key(data_dir: Path, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    path = data_dir / FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return _read(path)
    # Written in full under a private name, then linked into place: the link either makes
    # the key visible complete or fails because another process's key won; a reader never
    # sees a file still being written.
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable key; delete it to have a new one made "
                         "(links already sent will stop working), or set TIDINGS_SECRET")
    return key.encode()
