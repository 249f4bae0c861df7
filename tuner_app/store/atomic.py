"""Atomic writes and guarded reads: the only way this tool puts a file on disk.

A file is written to a temporary file in its own folder, flushed to disk, renamed
over its target, and then the folder itself is flushed, so that the rename also
survives a power cut. A reader, or a process killed mid-write, sees the old file
or the new one, never half of one. Folders (checkpoints, exported models) are
written under a staging name and renamed into place the same way (`publish_folder`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from tuner_app import faults
from tuner_app.errors import DiskFull, ResultsError

#: Suffix of a folder being written; it gets its final name once complete.
STAGING_SUFFIX = ".partial"


def fsync_folder(folder: str | os.PathLike) -> None:
    """Flushes a folder's entries (a rename into it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Replaces `path` with `data` atomically (temp file + fsync + rename + folder fsync).

    The file gets the permissions of any new file (0666 less the umask), as a plain
    `open` would give it.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            faults.writing(f"write:{path.name}")
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        faults.reached(f"write:{path.name}")
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise_if_disk_full(exc, path)
        if isinstance(exc, OSError) and exc.errno in UNWRITABLE_ERRNOS:
            raise ResultsError(f"{path}: cannot be written ({exc.strerror}); give a path in a folder you can "
                               "write to, or change its permissions.") from None
        raise
    fsync_folder(path.parent)


#: The errors of a place that cannot be written: no permission, a read-only file system, a name too long,
#: a file where a folder should be.
UNWRITABLE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR)

#: The errors a full disk (or a full quota) gives.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def raise_if_disk_full(exc: BaseException, path: Path) -> None:
    """Raises `DiskFull` naming `path` when `exc` is the disk running out of space."""
    full = isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS
    full = full or "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc)
    if full:
        raise DiskFull(f"{path}: no space left on the device; the search stopped without losing a finished "
                       "epoch: free some space and run the same command again (it resumes)") from None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Replaces `path` with `text` (UTF-8, newlines as given) atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True, default=_json_default) + "\n")


def write_npz_atomic(path: str | os.PathLike, **arrays: Any) -> None:
    """`numpy.savez` of `arrays`, written atomically."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())


def staging_folder(folder: Path) -> Path:
    """An empty folder to write `folder`'s contents into before `publish_folder`."""
    staging = folder.with_name(folder.name + STAGING_SUFFIX)
    shutil.rmtree(staging, ignore_errors=True)
    return staging


def publish_folder(staging: Path, folder: Path) -> None:
    """Gives a complete staging folder its final name, replacing what was there."""
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    fsync_folder(folder.parent)


def is_temp_file(path: Path) -> bool:
    """Whether `path` is one of `write_bytes_atomic`'s temporary files (`.<name>.*.tmp`)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def remove_stray_temp_files(folder: str | os.PathLike, prefix: str = "", recursive: bool = True) -> None:
    """Deletes temporary files a killed process left behind (`.<name>.*.tmp`).

    Args:
        folder: where to look.
        prefix: only the temporary files of the file of this name (e.g. `deep.csv`).
        recursive: also look in sub-folders.
    """
    folder = Path(folder)
    if folder.is_dir():
        # Exactly `.<name>.<8 hex digits>.tmp` for a named target: `.a.csv*.tmp` would also take the
        # temporary files of a search named `a.csv.x` that is running beside it.
        pattern = f".{prefix}.{'[0-9a-f]' * 8}.tmp" if prefix else ".*.tmp"
        for path in folder.rglob(pattern) if recursive else folder.glob(pattern):
            path.unlink(missing_ok=True)


def read_json(path: str | os.PathLike, what: str, fix: str = "start over with --overwrite",
              expect: type | None = None) -> Any:
    """Reads a JSON file this tool wrote; a damaged one is a `ResultsError` naming it.

    Args:
        path: the file.
        what: what the file is, for the message (e.g. "the trial record").
        fix: how to get past it, for the message.
        expect: the type the file holds (`dict`: a JSON object), when the caller relies on it.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: {what} is damaged ({exc.__class__.__name__}: {exc}); {fix}.") from None
    if expect is not None and not isinstance(data, expect):
        expected = "a JSON object" if expect is dict else f"JSON {expect.__name__}"
        raise ResultsError(f"{path}: {what} must be {expected}; found {_json_type(data)}; {fix}.")
    return data


def _json_type(data: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(data), "a number")


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, without importing numpy here.
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
