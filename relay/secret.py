"""The signing key for tracking and unsubscribe tokens: TIDINGS_SECRET, or one generated once.

Invariant: every process on one data directory uses the same key, across restarts, so
links in mail already sent keep working. The generated key is written with mode 0600 and
created atomically, so two processes starting together agree on one key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "secret.key"


def signing_key(data_dir: Path, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    path = data_dir / FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable key; delete it to have a new one made "
                         "(links already sent will stop working), or set TIDINGS_SECRET")
    return key.encode()
