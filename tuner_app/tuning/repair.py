"""Rebuilding keras-tuner's saved state from what is left, when a file of it was deleted.

keras-tuner keeps its oracle's state in `oracle.json` and each trial's in
`trial_<id>/trial.json`, and stops with a KeyError or NotFoundError when one is
gone. What was done is still known: every trial's `trial.json`, the results CSV
(the hyperparameters, status and best-epoch figures of every ended trial) and the
history CSV (each validated epoch). So, on reload:

* a missing `oracle.json` is rebuilt from the trials' files, for the algorithms
  whose state is the trials themselves (random, grid and Bayesian search; its
  random stream starts anew). Hyperband's brackets cannot be rebuilt: refused
  with a sentence;
* a trial the oracle lists whose `trial.json` is gone is rebuilt from its CSV
  rows when it had ended; one that had not (or has no row) becomes a FAILED
  trial saying why, so trial ids keep their numbering and nothing is rerun twice.

Every repair is reported as a sentence (`SearchStateMixin.repairs`).
"""

from __future__ import annotations

import math
from pathlib import Path

from keras_tuner.engine import trial as trial_module

from tuner_app.errors import ResultsError
from tuner_app.report.rows import HYPERBAND_COLUMNS
from tuner_app.store.layout import SearchPaths, spell_trial_id
from tuner_app.tuning import kt_internals

#: Keys of keras-tuner's base oracle state (`Oracle.get_state`).
STATE_KEYS = ("ongoing_trials", "hyperparameters", "start_order", "end_order", "run_times", "retry_queue",
              "seed", "seed_state", "tried_so_far", "id_to_hash", "display")
_ENDED = (trial_module.TrialStatus.COMPLETED, trial_module.TrialStatus.FAILED, trial_module.TrialStatus.INVALID)


def check_state(oracle, state, path: Path) -> None:
    """Refuses an `oracle.json` that parses but is not keras-tuner's state, naming what is wrong."""
    if not isinstance(state, dict):
        raise ResultsError(f"{path}: keras-tuner's oracle state must be a JSON object; found "
                           f"{type(state).__name__}; {_way_out(oracle, path)}.")
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise ResultsError(f"{path}: keras-tuner's oracle state lacks {', '.join(missing)}; {_way_out(oracle, path)}.")


def _way_out(oracle, path: Path) -> str:
    if rebuildable(oracle):
        return "delete the file to have it rebuilt from the trials' files, or start over with --overwrite"
    return ("Hyperband's brackets cannot be rebuilt: restore the file, or start over with --overwrite (copy "
            "the results CSV first to keep the finished trials' results)")


def rebuildable(oracle) -> bool:
    """Whether an oracle's whole state can be rebuilt from its trials (not Hyperband's)."""
    import keras_tuner as kt

    return not isinstance(oracle, kt.oracles.HyperbandOracle)


def rebuilt_state(oracle, path: Path, paths: SearchPaths) -> dict:
    """`oracle.json`'s contents, rebuilt from `oracle.trials` (loaded from their files), the results
    CSV and the trial folders: every trial id any of them knows is listed, so that new trials
    never take an old one's id (keras-tuner numbers them by count)."""
    if not rebuildable(oracle):
        raise ResultsError(f"{path}: keras-tuner's oracle state is missing; {_way_out(oracle, path)}.")
    folders = set(paths.trial_ids())
    rows, _ = _results(paths, sorted(set(oracle.trials) | folders))
    known = set(oracle.trials) | set(rows) | folders
    ids = _every_id(known)
    ended = [t for t in ids if (t in oracle.trials and oracle.trials[t].status in _ENDED) or t in rows]
    hashes = {t: kt_internals.values_hash(oracle, oracle.trials[t].hyperparameters.values) for t in ids
              if t in oracle.trials}
    state = {
        "ongoing_trials": {},
        "hyperparameters": oracle.hyperparameters.get_config(),
        "start_order": ids,
        "end_order": ended,
        "run_times": {t: 1 for t in ended},
        "retry_queue": [t for t in ids if t not in ended],
        # keras-tuner draws each trial's values from seeds counted up from here: far from
        # those the lost state had used, so that new draws do not replay old trials.
        "seed": oracle.seed,
        "seed_state": oracle.seed + 1_000_003 * (1 + len(ids)),
        "tried_so_far": sorted(set(hashes.values())),
        "id_to_hash": hashes,
        "display": kt_internals.display_state(oracle),
    }
    extra = oracle.get_state()  # the algorithm's own settings (Bayesian: alpha, beta, ...)
    state.update({k: v for k, v in extra.items() if k not in state})
    state["tuner_app_trial_workers"] = {t: str(r["worker"]) for t, r in rows.items() if _text(r.get("worker"))}
    state["tuner_app_trial_finished"] = {t: _seconds(r["finished"]) for t, r in rows.items()
                                         if _text(r.get("finished"))}
    return state


def _every_id(known: set[str]) -> list[str]:
    """The known ids and any gap below the largest (a trial whose every trace is gone), in order."""
    numbers = [int(t) for t in known if t.isdigit()]
    if not numbers:
        return sorted(known)
    width = max(len(t) for t in known)
    return sorted(known | {f"{n:0{width}d}" for n in range(max(numbers) + 1)})


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _seconds(iso: str) -> float:
    import calendar
    import time

    from tuner_app.report.trials import UTC_FORMAT

    return float(calendar.timegm(time.strptime(iso, UTC_FORMAT)))


def missing_trials(oracle, state: dict) -> list[str]:
    """Trial ids the state lists whose `trial.json` was not found."""
    listed = [*state["start_order"], *state["end_order"], *state["retry_queue"], *state["ongoing_trials"].values()]
    return sorted({t for t in listed if t not in oracle.trials})


def rebuild_trials(oracle, state: dict, paths: SearchPaths) -> list[str]:
    """Puts back every trial the state lists but whose file is gone; returns what was done, as sentences."""
    gone = missing_trials(oracle, state)
    if not gone:
        return []
    rows, history = _results(paths, sorted({*state["start_order"], *state["end_order"], *oracle.trials}))
    notes = []
    for trial_id in gone:
        row = rows.get(trial_id)
        if row is not None and row["status"] in _ENDED:
            # A row is a trial that ended, whatever the state says: it is rebuilt, never overwritten.
            oracle.trials[trial_id] = _trial_from_row(oracle, trial_id, row, history.get(trial_id, []))
            _ended_in(state, trial_id)
            notes.append(f"trial {trial_id}: its trial.json was gone; rebuilt from {paths.csv.name} "
                         f"({row['status']}, {row['objective_name']} {row['objective']})")
        else:
            trial = trial_module.Trial(oracle.hyperparameters.copy(), trial_id, trial_module.TrialStatus.FAILED,
                                       message="FailedTrialError: its state folder was deleted before it ended")
            oracle.trials[trial_id] = trial
            _ended_in(state, trial_id)
            notes.append(f"trial {trial_id}: its trial.json was gone and it had not ended; recorded as failed "
                         "(its hyperparameters are lost), and the search goes on with new trials")
        kt_internals.save_trial(oracle, oracle.trials[trial_id])
    return notes


def _ended_in(state: dict, trial_id: str) -> None:
    """The oracle state with `trial_id` ended: neither running nor waiting for a retry."""
    state["ongoing_trials"] = {k: v for k, v in state["ongoing_trials"].items() if v != trial_id}
    state["retry_queue"] = [t for t in state["retry_queue"] if t != trial_id]
    if trial_id not in state["end_order"]:
        state["end_order"].append(trial_id)


def _results(paths: SearchPaths, known: list[str]) -> tuple[dict, dict]:
    """The results CSV's rows and the history's epochs, by trial id as the oracle spells it (`known`:
    a spreadsheet that re-saved the CSV wrote `6` for `06`); empty when absent."""
    from tuner_app.report.results_csv import read_history, read_results

    if not paths.csv.exists():
        return {}, {}
    rows = {spell_trial_id(str(r["trial_id"]), known): r for r in read_results(paths.csv).to_dict("records")}
    history: dict[str, list[dict]] = {}
    frame = read_history(paths)
    for entry in [] if frame is None else frame.to_dict("records"):
        history.setdefault(spell_trial_id(str(entry["trial_id"]), known), []).append(entry)
    return rows, history


def _trial_from_row(oracle, trial_id: str, row: dict, epochs: list[dict]):
    """A keras-tuner Trial with the row's hyperparameters, status and reported metrics."""
    hp = oracle.hyperparameters.copy()
    values = {}
    for param in hp.space:
        column = HYPERBAND_COLUMNS.get(param.name, param.name)
        value = _typed(param, row.get(column))
        if value is not None:
            values[param.name] = value
    hp.values = values
    trial = trial_module.Trial(hp, trial_id, row["status"], message=_text(row.get("reason")) or None)
    objective = row["objective_name"]
    for entry in epochs:
        step = int(entry["epoch"])
        for name, value in entry.items():
            if name in ("trial_id", "epoch") or not _finite(value):
                continue
            trial.metrics.update("epoch_seconds" if name == "seconds" else name, float(value), step=step)
    best_epoch = int(row["best_epoch"]) if _finite(row.get("best_epoch")) else 0
    for name in ("seconds", "params", "epochs_trained", "peak_rss_mb"):
        if _finite(row.get(name)):
            trial.metrics.update(name, float(row[name]), step=best_epoch)
    if _finite(row.get("objective")):
        trial.metrics.update(objective, float(row["objective"]), step=best_epoch)
        trial.score, trial.best_step = float(row["objective"]), best_epoch
    return trial


def _typed(param, cell):
    """A CSV cell as the hyperparameter's own type, or None for an empty (inactive) one."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell == "":
        return None
    kind = type(param).__name__
    if kind == "Fixed":
        return param.value
    if kind == "Boolean":
        return str(cell) == "True"
    if kind == "Int":
        return int(float(cell))
    if kind == "Float":
        return float(cell)
    for value in getattr(param, "values", ()):  # Choice: the declared value the cell shows
        if str(value) == str(cell) or (isinstance(value, (int, float)) and _finite(cell) and float(cell) == value):
            return value
    return None


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
