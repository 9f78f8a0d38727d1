"""One active `ringbot run` per database: an OS file lock beside the SQLite file, held while the process lives.

The kernel drops an `flock` when its holder dies (kill -9 and power loss of the process included), so a standby
that retries the non-blocking lock every second takes over without any stale-lock clean-up. `flock` works
between processes of one host (containers sharing a local volume included), not across machines or on NFS.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bot.values import whole


def lock_path(db_path: str | Path) -> Path:
    """`<RINGBOT_DB>.lock`: beside the database, so every process on that file agrees on one lock."""
    return Path(f"{db_path}.lock")


class InstanceLock:
    """The active role's lock. `try_acquire` never blocks (it is cheap enough to call on the event loop)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @classmethod
    def for_database(cls, db_path: str | Path) -> InstanceLock:
        return cls(lock_path(db_path))

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if no other process (or other InstanceLock) holds it; True when this one holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # The holder's pid, for the standby's /healthz and for a person looking at the file; the lock is the flock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def holder_pid(self) -> int | None:
        """The pid written by the last process that took the lock (it may have died since: the lock says so)."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return whole(text, most=2**31)  # a pid

    def release(self) -> None:
        """Give the lock up (closing the descriptor drops the flock); a standby takes over within its poll."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
