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
from tuner_app.store import atomic
from tuner_app.store.layout import IDENTITY_FILE, SearchPaths


def describe_search(spec: SearchSpec, ratings: Ratings) -> dict:
    """What both `search.json` and the summary `<name>.json` say of a search."""
    return {
        "name": spec.name,
        "space_file": spec.path,
        "data": ratings.description,
        "split": dataclasses.asdict(spec.split),
    }


def search_identity(spec: SearchSpec, ratings: Ratings, data_spec: DataSpec) -> dict:
    """The contents of `search.json`."""
    return {
        **describe_search(spec, ratings),
        "space_text": spec.source_text,  # as it was: `repeat` rebuilds trials from it
        "space_fingerprint": spec.fingerprint(),
        "data_spec": dataclasses.asdict(data_spec),
        "data_fingerprint": ratings.fingerprint,
    }


def search_fingerprint(spec: SearchSpec, ratings: Ratings) -> str:
    """One hash of what makes trials comparable: the space, the data and the split."""
    blob = json.dumps([spec.fingerprint(), ratings.fingerprint, dataclasses.asdict(spec.split)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def read_identity(paths: SearchPaths) -> dict:
    path = paths.identity
    if not path.exists():
        raise ResultsError(f"{path}: not found; is {paths.state_dir} the state folder of a tuner_app search?")
    return atomic.read_json(path, "the search state")


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
        saved = atomic.read_json(state_path, "the search state")
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
    atomic.write_json_atomic(state_path, state)
    return False


def check_state_files(paths: SearchPaths) -> None:
    """Fails with the file's name if keras-tuner's saved state is damaged.

    keras-tuner would otherwise stop with a JSON traceback on reload. Files
    written by this tool are replaced atomically, so damage means something
    else touched them.
    """
    if paths.state_dir.is_dir():
        for path in paths.trial_states():
            atomic.read_json(path, "saved search state")
