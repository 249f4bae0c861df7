"""A search's identity on disk: which space, data and split it was started with.

`results/<name>/search.json` records the fingerprints of the search space
file, of the data and of the split when a search starts. Resuming with a
changed space or other data would mix trials that are not comparable (and
keras-tuner would silently keep its saved oracle settings), so it is refused
with a sentence saying what changed and how to proceed.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from tuner_app import storage
from tuner_app.data import DataSpec, Ratings
from tuner_app.errors import ResultsError, TunerAppError
from tuner_app.space import SearchSpec

STATE_FILE = "search.json"


class SearchMismatch(TunerAppError):
    """Resuming with a changed space or different data."""

    exit_code = 2


def _search_state(spec: SearchSpec, ratings: Ratings, data_spec: DataSpec) -> dict:
    return {
        "name": spec.name,
        "space_file": spec.path,
        "space_text": spec.source_text,  # as it was: `repeat` rebuilds trials from it
        "space_fingerprint": spec.fingerprint(),
        "data": ratings.description,
        "data_spec": dataclasses.asdict(data_spec),
        "data_fingerprint": ratings.fingerprint,
        "split": dataclasses.asdict(spec.split),
    }


def search_fingerprint(spec: SearchSpec, ratings: Ratings) -> str:
    """One hash of what makes trials comparable: the space, the data and the split."""
    import hashlib
    import json

    blob = json.dumps([spec.fingerprint(), ratings.fingerprint, dataclasses.asdict(spec.split)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def read_search_state(search_dir: Path) -> dict:
    path = search_dir / STATE_FILE
    if not path.exists():
        raise ResultsError(f"{path}: not found; is {search_dir} the state folder of a tuner_app search?")
    return storage.read_json(path, "the search state")


def check_or_start(search_dir: Path, outputs: list[Path], spec: SearchSpec, ratings: Ratings,
                   data_spec: DataSpec, overwrite: bool) -> bool:
    """Starts a new search folder or checks that a resumed one matches; True when resuming.

    Args:
        search_dir: the search's state folder.
        outputs: result files of the search, removed with `overwrite`.
    """
    state_path = search_dir / STATE_FILE
    state = _search_state(spec, ratings, data_spec)
    if overwrite:
        shutil.rmtree(search_dir, ignore_errors=True)
        for path in outputs:
            path.unlink(missing_ok=True)
    elif not state_path.exists() and search_dir.is_dir():
        # Another process of this search (a chief and its workers may share the folder and
        # start together) may be writing the state file right now: its temporary file is
        # no stranger's, and the state may appear between the two checks.
        if any(not storage.is_temp_file(p) for p in search_dir.iterdir()) and not state_path.exists():
            raise SearchMismatch(
                f"{search_dir}: exists but was not written by tuner_app (no {STATE_FILE}); "
                "pass --overwrite to replace it, or --name to choose another search name."
            )
    if not overwrite and state_path.exists():
        saved = storage.read_json(state_path, "the search state")
        how = "pass --overwrite to start over, or --name to start a new search beside it"
        if saved.get("space_fingerprint") != state["space_fingerprint"]:
            raise SearchMismatch(
                f"{search_dir}: this search was started from a different search space "
                f"({saved.get('space_file')}, which has changed since, or another file); "
                f"resuming would mix trials of two spaces; {how}."
            )
        if saved.get("data_fingerprint") != state["data_fingerprint"] or saved.get("split") != state["split"]:
            raise SearchMismatch(
                f"{search_dir}: this search was started on other data ({saved.get('data')}, split "
                f"{saved.get('split')}); now given {state['data']}, split {state['split']}; {how}."
            )
        return True
    storage.write_json_atomic(state_path, state)
    return False




class SearchLocked(TunerAppError):
    """Another process is running this search."""

    exit_code = 2


class SearchLock:
    """An exclusive lock on one search, held while a process works on it.

    `fcntl.flock` on `<results>/<name>.lock`: the kernel releases it when the
    holder exits, however it exits (kill -9 included), so a crashed process
    never leaves the search locked. The file holds the holder's pid for the
    message a second process gets.
    """

    def __init__(self, results_dir: Path, name: str, holder: str | None = None):
        # A worker sharing the chief's results folder locks its own name only.
        self.path = Path(results_dir) / (f"{name}.{holder}.lock" if holder else f"{name}.lock")
        self._handle = None

    def __enter__(self) -> SearchLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
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


def check_state_files(search_dir: Path) -> None:
    """Fails with the file's name if keras-tuner's saved state is damaged.

    keras-tuner would otherwise stop with a JSON traceback on reload. Files
    written by this tool are replaced atomically, so damage means something
    else touched them.
    """
    if not search_dir.is_dir():
        return
    for path in [*search_dir.glob("*.json"), *search_dir.glob("trial_*/trial.json")]:
        storage.read_json(path, "saved search state")
