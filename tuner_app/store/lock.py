"""`SearchLock`: one process at a time works on a search."""

from __future__ import annotations

import os
from pathlib import Path

from tuner_app.errors import ResultsError, SearchLocked


class SearchLock:
    """An exclusive lock on one search, held while a process works on it.

    `fcntl.flock` on `<results>/<name>.lock` (`SearchPaths.lock`): the kernel
    releases it when the holder exits, however it exits (kill -9 included), so
    a crashed process never leaves the search locked. The file holds the
    holder's pid for the message a second process gets.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._handle = None

    def __enter__(self) -> SearchLock:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+")  # held open as long as the lock is
        except IsADirectoryError:
            raise ResultsError(f"{self.path}: is a folder where this search keeps its lock file; remove it "
                               "(it holds nothing of the search's) and run the same command again.") from None
        except OSError as exc:
            raise ResultsError(f"{self.path}: the search's lock file cannot be created ({exc.strerror}); "
                               "check that --results-dir names a folder you can write to.") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise SearchLocked(
                f"{self.path}: another process (pid {holder}) is running this search; wait for it to "
                f"finish or stop it (kill -INT {holder}), or use --name for a separate search."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> bool:
        if self._handle is not None:
            self._handle.close()  # closing releases the lock
            self._handle = None
        return False
