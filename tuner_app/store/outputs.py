"""Where a command may write: output paths checked before any work, and exports replaced safely.

Every path a user names as an output (`export --out`, `report --html`, `search
--tensorboard`) is checked first (`check_output`): not empty, every component a
name the file system takes, of the right kind, and never one of the tool's own
inputs or state (a results CSV, its history or summary, a search's state folder),
nor a folder that holds them. An export replaces only a folder that is a
previous export of this tool, or an empty one (`check_export_target`), and it
does so in one step that an interrupt cannot split (`swap_in`, `swap_back`).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from tuner_app.errors import ResultsError, StopRequested
from tuner_app.store.atomic import fsync_folder
from tuner_app.store.layout import (
    IDENTITY_FILE,
    KIND_NAMES,
    MODEL_DESCRIPTION_FILE,
    MODEL_ENTRIES,
    MODEL_FORMAT,
    SearchPaths,
    kind_of,
)

#: The longest file name (one path component) Linux file systems take, in bytes.
NAME_MAX = 255
#: The longest path Linux takes, in bytes, with its terminating NUL.
PATH_MAX = 4096


def check_path_text(path: str | os.PathLike, flag: str, kind: str | None = None, fix: str = "give another path"
                    ) -> Path:
    """`path` as a Path, after the checks every path argument gets: not empty, no component
    longer than the file system takes, no symbolic-link loop; and with `kind` ("file",
    "folder" or "file or folder"), that what is there, if anything, is one (a FIFO or a
    device is neither). A path that is not there is left to the command, which knows what
    to say (`no such results file`).

    Args:
        flag: how messages name the argument (`--out`, `results CSV`).
        fix: how to get past a path of the wrong kind, for the message.

    Raises:
        ResultsError: one sentence naming the flag and what is wrong.
    """
    text = os.fspath(path)
    if not text.strip():
        raise ResultsError(f"{flag}: expected a path; got an empty one.")
    for part in Path(text).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ResultsError(f"{flag} {text[:60]}...: the name {part[:40]}... is {len(os.fsencode(part))} bytes "
                               f"long; file systems take at most {NAME_MAX}: give a shorter one.")
    if len(os.fsencode(text)) >= PATH_MAX:
        raise ResultsError(f"{flag} {text[:60]}...: is {len(os.fsencode(text))} bytes long; paths are at most "
                           f"{PATH_MAX - 1}: give a shorter one.")
    try:
        Path(text).resolve(strict=False)
        dangling = Path(text).is_symlink() and not Path(text).exists()
    except (RuntimeError, OSError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise ResultsError(f"{flag} {text}: cannot be looked at ({getattr(exc, 'strerror', None) or exc}); it is a "
                           "symbolic-link loop or in a folder you cannot read: give another path.") from None
    if dangling:
        raise ResultsError(f"{flag} {text}: is a symbolic link to nothing (or a loop); give another path.")
    found = kind_of(Path(text))
    if kind is not None and found is not None and found not in kind.split(" or "):
        raise ResultsError(f"{flag} {text}: is {KIND_NAMES[found]}, not a {kind}; {fix}.")
    return Path(text)


def search_files(paths: SearchPaths) -> dict[Path, str]:
    """What a search owns on disk, each with how messages name it: its result files, figures, lock and
    state folder."""
    return {path: f"the {what} of search '{paths.name}' ({path})" for what, path in paths.files().items()}


def check_search_name(paths: SearchPaths, flag: str = "--name") -> None:
    """A search's files may not be another search's: beside a search `a`, a search `a.history` would
    write its results over a's history (and `a.csv` would have its state folder where a's results are).

    Each of this search's files is read as another search's file of another kind (`a.history.csv` is
    the results of `a.history` and the history of `a`); that other search is there when any file of
    its own (one it does not share with this search) is.

    Raises:
        ResultsError: the colliding file and the search it belongs to, named.
    """
    mine = paths.files()
    suffixes = {what: path.name[len(paths.name):] for what, path in mine.items()}
    for what, path in mine.items():
        for theirs, suffix in suffixes.items():
            other = path.name[: len(path.name) - len(suffix)] if path.name.endswith(suffix) else ""
            if theirs == what or not other or other == paths.name:
                continue
            owner = SearchPaths(paths.results_dir, other)
            own = [p for p in owner.files().values() if p not in mine.values()]
            if any(p.exists() or p.is_symlink() for p in own):
                raise ResultsError(f"{flag} {paths.name}: this search's {what} would be {path}, which is the "
                                   f"{theirs} of the search '{other}' in {paths.results_dir}; give another --name.")


def check_output(path: str | os.PathLike, flag: str, protected: Mapping[Path, str], kind: str = "file") -> Path:
    """Checks an output path before any work: see `check_path_text`, then its kind (`"file"`:
    not a folder; `"folder"`: not a file), then that it neither is nor holds a protected
    path (the tool's inputs and state, each with how to name it), nor lies inside a
    search's state folder.

    Returns:
        The path.

    Raises:
        ResultsError: one sentence naming the flag, what is there and what to do.
    """
    out = check_path_text(path, flag)
    if kind_of(out) in ("FIFO", "device"):
        raise ResultsError(f"{flag} {out}: is neither a file nor a folder ({KIND_NAMES[kind_of(out)]}); give another "
                           "path.")
    if kind == "file" and out.is_dir():
        raise ResultsError(f"{flag} {out}: is a folder; give the name of a file to write.")
    if kind == "folder" and out.exists() and not out.is_dir():
        raise ResultsError(f"{flag} {out}: is a file; give a folder to write to.")
    target = _absolute(out)
    for owned, what in protected.items():
        owned_abs = _absolute(owned)
        if target == owned_abs or owned_abs.is_relative_to(target):
            verb = "is" if target == owned_abs else "holds"
            raise ResultsError(f"{flag} {out}: {verb} {what}; writing there would destroy it: give another path.")
    for parent in target.parents:
        if (parent / IDENTITY_FILE).is_file():
            raise ResultsError(f"{flag} {out}: is inside {parent}, the state folder of search '{parent.name}'; "
                               "give a path outside it.")
    return out


def check_writable_folder(folder: Path, what: str) -> None:
    """The folder a file will be written into exists (or can be made) and is writable."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ResultsError(f"{what}: {existing} is a file, not a folder; give a path in a folder.")
    if existing is None:
        return
    try:  # a real file, not os.access: root passes that check on read-only file systems too
        with tempfile.TemporaryFile(dir=existing, prefix=".tuner_app-probe-"):
            pass
    except OSError as exc:
        raise ResultsError(f"{what}: cannot write in the folder {existing} ({exc.strerror}); give a path in a folder "
                           "you can write to, or change its permissions.") from None


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve(strict=False)


def is_export(folder: Path) -> bool:
    """Whether `folder` is a model `export` wrote (its description says so)."""
    try:
        with open(folder / MODEL_DESCRIPTION_FILE, encoding="utf-8") as handle:
            description = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(description, dict) and ("exported" in description or description.get("format") == MODEL_FORMAT)


def check_export_target(out: Path, flag: str = "--out") -> None:
    """An export may replace only a previous export of this tool holding nothing else, or an empty folder.

    Raises:
        ResultsError: `out` holds anything else, named.
    """
    if not out.exists():
        return
    entries = sorted(entry.name for entry in out.iterdir())
    if not entries:
        return
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    if not is_export(out):
        raise ResultsError(f"{flag} {out}: the folder exists and is not a model exported by tuner_app (it holds "
                           f"{shown}); an export replaces only a previous export: give a new or empty folder.")
    foreign = [name for name in entries if name not in MODEL_ENTRIES]
    if foreign:
        raise ResultsError(f"{flag} {out}: holds a previous export and also {', '.join(foreign[:5])}, which "
                           "export did not write and replacing the folder would delete; move them, or give "
                           "another folder.")


def staging_beside(folder: Path, purpose: str) -> Path:
    """A new, unique, hidden folder name beside `folder` (`.<name>.<purpose>-<random>`), not created."""
    folder = Path(os.path.abspath(folder))
    return folder.with_name(f".{folder.name}.{purpose}-{secrets.token_hex(4)}")


def swap_in(staging: Path, folder: Path) -> Path | None:
    """Puts the complete folder `staging` at `folder` in one step.

    On Linux, `renameat2(RENAME_EXCHANGE)` swaps the two at once: at every moment
    `folder` is the previous folder or the new one. Elsewhere it takes two renames
    (call it with signals held, `held_signals`).

    Returns:
        Where the previous folder now is (to `discard`, or to `swap_back`), or None if there was none.
    """
    if not folder.exists():
        staging.rename(folder)
        fsync_folder(folder.parent)
        return None
    if _exchange(staging, folder):
        previous = staging
    else:
        previous = staging_beside(folder, "previous")
        folder.rename(previous)
        staging.rename(folder)
    fsync_folder(folder.parent)
    return previous


def swap_back(previous: Path | None, folder: Path) -> None:
    """Undoes `swap_in`: the previous folder (or nothing) is at `folder` again, the new one removed."""
    new = staging_beside(folder, "undone")
    if previous is None:
        folder.rename(new)
    elif not _exchange(previous, folder):
        folder.rename(new)
        previous.rename(folder)
    else:
        new = previous
    fsync_folder(folder.parent)
    shutil.rmtree(new, ignore_errors=True)


def discard(previous: Path | None) -> None:
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swaps two paths atomically (Linux `renameat2` with RENAME_EXCHANGE); False where unavailable."""
    libc_name = ctypes.util.find_library("c")
    renameat2 = getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None) if libc_name else None
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # the file system or kernel cannot exchange
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def held_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM are noted, not acted on, until the block ends; yields the list of those noted."""
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class InterruptWatch:
    """Notes Ctrl-C and SIGTERM during a long step that may swallow the KeyboardInterrupt (TensorFlow's
    SavedModel writer does), so that the step's caller can still stop before it publishes anything.

    A signal raises `StopRequested` at once, unless it lands in a finalizer (`__del__`), where
    Python would print the error as ignored and go on; `check()` raises it after the step.
    """

    def __init__(self):
        self.signals: list[int] = []
        self._previous: dict[int, object] = {}

    def __enter__(self) -> InterruptWatch:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signals.append(signum)
        while frame is not None:
            if frame.f_code.co_name == "__del__":
                return
            frame = frame.f_back
        raise StopRequested(signal.Signals(signum).name)

    def check(self) -> None:
        if self.signals:
            raise StopRequested(signal.Signals(self.signals[0]).name)

    def __exit__(self, *exc) -> bool:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
