"""A search's identity on disk, `<name>/search.json`: which space, data and split it started with.

Resuming with a changed space or other data would mix trials that are not
comparable (and keras-tuner would silently keep its saved oracle settings), so
it is refused with a sentence saying what changed and how to proceed. The same
description heads the search's summary, `<name>.json` (`store.summary`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

from tuner_app.data.records import DataSpec, Ratings
from tuner_app.errors import ResultsError, SearchMismatch
from tuner_app.space.spec import SearchSpec
from tuner_app.store import atomic, migrations
from tuner_app.store.layout import (
    IDENTITY_FILE,
    ORACLE_FILE,
    RECORD_FILE,
    TRIAL_PREFIX,
    TRIAL_STATE_FILE,
    SearchPaths,
)

#: How to get past a damaged search.json.
IDENTITY_FIX = "restore it, or start over with --overwrite, or use --name for a new search beside it"


def describe_search(spec: SearchSpec, ratings: Ratings) -> dict:
    """What both `search.json` and the summary `<name>.json` say of a search."""
    return {
        "name": spec.name,
        "space_file": spec.path,
        "data": ratings.description,
        "split": spec.split.identity(),
    }


def search_identity(spec: SearchSpec, ratings: Ratings, data_spec: DataSpec) -> dict:
    """The contents of `search.json`."""
    return {
        **describe_search(spec, ratings),
        "space_text": spec.source_text,  # as it was: `repeat` rebuilds trials from it
        "space_fingerprint": spec.fingerprint(),
        "epochs_flag": spec.epochs_flag,
        "data_spec": dataclasses.asdict(data_spec),
        "data_fingerprint": ratings.fingerprint,
        "format": migrations.FORMAT,  # of the files this version writes (`store.migrations`)
    }


def search_fingerprint(spec: SearchSpec, ratings: Ratings) -> str:
    """One hash of what makes trials comparable: the space, the data and the split."""
    blob = json.dumps([spec.fingerprint(), ratings.fingerprint, spec.split.identity()], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def read_identity(paths: SearchPaths) -> dict:
    path = paths.identity
    if not path.exists():
        raise ResultsError(f"{path}: not found; is {paths.state_dir} the state folder of a tuner_app search?")
    return atomic.read_json(path, "the search state", IDENTITY_FIX)


def check_or_start(paths: SearchPaths, spec: SearchSpec, ratings: Ratings, data_spec: DataSpec,
                   overwrite: bool) -> bool:
    """Starts a new search folder or checks that a resumed one matches; True when resuming.

    With `overwrite`, the state folder and the result files beside it are removed first.
    """
    search_dir, state_path = paths.state_dir, paths.identity
    state = search_identity(spec, ratings, data_spec)
    if overwrite:
        shutil.rmtree(search_dir, ignore_errors=True)
        for path in paths.outputs:
            path.unlink(missing_ok=True)
    elif not state_path.exists() and search_dir.is_dir():
        # Another process of this search (a chief and its workers may share the folder and
        # start together) may be writing the state file right now: its temporary file is
        # no stranger's, and the state may appear between the two checks.
        if any(not atomic.is_temp_file(p) for p in search_dir.iterdir()) and not state_path.exists():
            raise SearchMismatch(
                f"{search_dir}: exists but was not written by tuner_app (no {IDENTITY_FILE}); "
                "pass --overwrite to replace it, or --name to choose another search name."
            )
    if not overwrite and state_path.exists():
        saved = atomic.read_json(state_path, "the search state", IDENTITY_FIX)
        how = "pass --overwrite to start over, or --name to start a new search beside it"
        if saved.get("space_fingerprint") != state["space_fingerprint"] and saved.get("space_text") == spec.source_text:
            raise SearchMismatch(
                f"{search_dir}: this search was started with {_epochs(saved.get('epochs_flag'))}, and is resumed "
                f"with {_epochs(spec.epochs_flag)}; the space file is unchanged; give the same --epochs as when it "
                f"started to resume it, or {how}."
            )
        if saved.get("space_fingerprint") != state["space_fingerprint"]:
            raise SearchMismatch(
                f"{search_dir}: this search was started from a different search space "
                f"({saved.get('space_file')}, which has changed since, or another file); "
                f"resuming would mix trials of two spaces; {how}."
            )
        if saved.get("data_fingerprint") != state["data_fingerprint"] or saved.get("split") != state["split"]:
            raise SearchMismatch(
                f"{search_dir}: this search was started on other data ({saved.get('data')}, split "
                f"{_split(saved.get('split'))}); now given {state['data']}, split {_split(state['split'])}; {how}."
            )
        return True
    atomic.write_json_atomic(state_path, state)
    return False


def _epochs(flag: int | None) -> str:
    return f"--epochs {flag}" if flag else "no --epochs (the space file's epochs)"


def _split(split: dict | None) -> str:
    """A split as messages show it, in one order whatever the file's."""
    if not isinstance(split, dict):
        return str(split)
    return ", ".join(f"{key} {split[key]:g}" if isinstance(split[key], float) else f"{key} {split[key]}"
                     for key in sorted(split))


def check_state_files(paths: SearchPaths) -> None:
    """Fails with the file's name, and the way out, if a saved state file is damaged.

    keras-tuner would otherwise stop with a JSON traceback on reload, and a damaged
    trial record would show only at export. Files written by this tool are replaced
    atomically, so damage means something else touched them. Missing files are
    rebuilt on reload (`tuning.repair`); what is damaged can be deleted to have it so.
    """
    if not paths.state_dir.is_dir():
        return
    for path in paths.trial_states():
        if path.name == ORACLE_FILE:
            fix = ("delete it to have it rebuilt from the trials' files (a Hyperband search's brackets cannot be: "
                   "restore it, or start over with --overwrite)")
        elif path.name == TRIAL_STATE_FILE:
            fix = f"delete it to have the trial rebuilt from {paths.csv.name}"
        else:
            fix = "delete it: it holds nothing the search needs"
        atomic.read_json(path, "saved search state", fix)
    for path in paths.state_dir.glob(f"{TRIAL_PREFIX}*/{RECORD_FILE}"):
        atomic.read_json(path, "the trial record", "delete it: the trial keeps its results (and is trained again "
                         "if it had not ended), but can no longer be exported or scored on held-back rows")
