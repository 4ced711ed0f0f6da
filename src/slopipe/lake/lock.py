"""One writer at a time: an advisory lock file beside the table.

Delta's own commit protocol keeps every commit atomic, but two collectors that read the same
watermarks would both append the same new samples. Every slopipe write (collect, append,
compact, vacuum) therefore holds this lock. It is an `flock` on `<lake>.lock`: the kernel drops
it when its holder exits, SIGKILL included, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from slopipe.errors import LakeError


class WriterLock:
    """Re-entrant within one object: nested `hold()` calls share the lock."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        self._depth = 0

    def acquire(self, wait_seconds: float = 0.0) -> None:
        if self._depth:
            self._depth += 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read(fd)
                    os.close(fd)
                    raise LakeError(
                        f"lake {self.path.with_suffix('')} is being written by another slopipe "
                        f"process ({holder or 'unknown'}); nothing was changed: wait for it to "
                        "finish, or pass --wait SECONDS"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}".encode())
        self._fd, self._depth = fd, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 200).decode(errors="replace").strip()
