"""Atomic file writes and guarded reads.

Every state or result file is written to a temporary file in the same folder,
flushed to disk, then renamed over the target: a reader (or a process killed
mid-write) sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tuner_app import faults
from tuner_app.errors import ResultsError


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Replaces `path` with `text` atomically (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        faults.reached(f"write:{path.name}")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def is_temp_file(path: Path) -> bool:
    """Whether `path` is one of `write_text_atomic`'s temporary files (`.<name>.*.tmp`)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def remove_stray_temp_files(folder: str | os.PathLike, prefix: str = "", recursive: bool = True) -> None:
    """Deletes temporary files a killed process left behind (`.<name>.*.tmp`).

    Args:
        folder: where to look.
        prefix: only files whose target name starts with this (e.g. the search name).
        recursive: also look in sub-folders.
    """
    folder = Path(folder)
    if folder.is_dir():
        pattern = f".{prefix}*.tmp"
        for path in folder.rglob(pattern) if recursive else folder.glob(pattern):
            path.unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike, what: str) -> Any:
    """Reads a JSON file this tool wrote; a damaged one is a `ResultsError` naming it.

    Args:
        path: the file.
        what: what the file is, for the message (e.g. "the trial record").
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(
            f"{path}: {what} is damaged ({exc.__class__.__name__}: {exc}); "
            "delete it to discard that state, or start over with --overwrite."
        ) from None


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, without importing numpy here.
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
