"""Message size against the configured limit, for SIZE= at MAIL and the real size at DATA.

A size the client did not declare is never over the limit: the real size is checked again
once the data has arrived, so an undeclared size cannot slip through.
"""

from __future__ import annotations


def size_exceeded(size: int | None, *, max_size: int) -> bool:
    return size is not None and size > max_size
