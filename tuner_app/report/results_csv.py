"""The results CSV, `<name>.csv`, and the per-epoch history beside it: writing and reading.

One row per ended trial (`report.rows`). Columns:

    rank, trial_id, status, objective, objective_name,
    lift, lift_ease, lift_als      (objective / the popularity, EASE and ALS baselines')
    lift_best                      (objective / the better of EASE and ALS: the headline)
    val_top_1 ... val_top_100      (at the best validated epoch; then val_recall_*, val_ndcg_*, val_hitrate_*)
    val_filtered_top_1 ... _100    (the same with seen titles excluded, when evaluated)
    best_epoch, epochs_trained, seconds, params, worker   (the tuner id that ran it),
    peak_rss_mb                    (the process's peak memory when the trial ended)
    finished                       (when it ended, UTC)
    validation_rows                (how many validation rows its figures come from)
    cut_by_budget                  (True: the search's time budget ended it at its best epoch so far)
    <one column per hyperparameter, empty where inactive>,
    bracket, round, initial_epoch, target_epochs, parent_trial   (Hyperband's own)
    reason

`<name>.history.csv` holds every trial's validation figures per epoch, for plots.
Both are rewritten atomically after every trial. TensorFlow-free, so `report` is fast.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tuner_app.errors import ResultsError
from tuner_app.report.rows import (
    HYPERBAND_COLUMNS,
    LEADING_COLUMNS,
    LIFT_COLUMNS,
    METRIC_COLUMNS,
    REQUIRED_COLUMNS,
    RUN_COLUMNS,
    TrialRow,
    best_classical,
    rank_rows,
)
from tuner_app.store import atomic
from tuner_app.store.layout import SearchPaths, same_trial_id, spell_trial_id
from tuner_app.store.states import TrialState


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


def _lift(objective: float | None, baseline: float | None) -> float | None:
    return objective / baseline if objective is not None and baseline else None


def render_csv(rows: Iterable[TrialRow], hyperparameter_names: Sequence[str],
               baselines: Mapping[str, float] | None = None) -> str:
    """The CSV text for `rows`; hyperparameter columns in the given order.

    Args:
        baselines: each baseline's value of the objective, by name, for the lift columns.
    """
    hp_names = [n for n in hyperparameter_names if n not in HYPERBAND_COLUMNS]
    header = [*LEADING_COLUMNS, *METRIC_COLUMNS, *RUN_COLUMNS, *hp_names, *HYPERBAND_COLUMNS.values(), "reason"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for rank, row in rank_rows(rows):
        hps = row.hyperparameters
        writer.writerow(
            [
                _cell(rank), row.trial_id, row.status, _cell(row.objective), row.objective_name,
                *(_cell(_lift(row.objective, (baselines or {}).get(name))) for name in LIFT_COLUMNS),
                _cell(_lift(row.objective, best_classical(baselines or {}))),
                *(_cell(row.metrics.get(m)) for m in METRIC_COLUMNS),
                _cell(row.best_epoch), _cell(row.epochs_trained),
                _cell(None if row.seconds is None else round(row.seconds, 2)), _cell(row.params),
                _cell(row.worker), _cell(row.peak_rss_mb), _cell(row.finished), _cell(row.validation_rows),
                _cell(row.cut_by_budget),
                *(_cell(hps.get(n)) for n in hp_names),
                *(_cell(hps.get(n)) for n in HYPERBAND_COLUMNS),
                " ".join((row.reason or "").split()),  # one line, whatever the exception said
            ]
        )
    return out.getvalue()


def write_results(path: str | Path, rows: Iterable[TrialRow], hyperparameter_names: Sequence[str],
                  baselines: Mapping[str, float] | None = None) -> None:
    """Rewrites the results CSV atomically."""
    atomic.write_text_atomic(path, render_csv(rows, hyperparameter_names, baselines))


HISTORY_COLUMNS = ("trial_id", "epoch", "loss", "seconds", *METRIC_COLUMNS)


def write_history(path: str | Path, histories: dict[str, list[dict[str, float]]]) -> None:
    """Rewrites `<name>.history.csv`: one row per (trial, epoch), atomically."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for trial_id in sorted(histories, key=lambda t: (len(t), t)):
        for entry in histories[trial_id]:
            writer.writerow([trial_id, *(_cell(entry.get(c)) for c in HISTORY_COLUMNS[1:])])
    atomic.write_text_atomic(path, out.getvalue())


def read_results(path: str | Path):
    """Reads a results CSV written by this tool into a pandas DataFrame.

    A CSV re-saved by a spreadsheet is read too (columns in another order, a byte-order mark,
    CRLF line ends, trial ids without their leading zeros): trial ids are spelled as the
    search's state spells them (`store.layout.spell_trial_id`).

    Raises:
        ResultsError: the file is missing, is not CSV, was cut off, or lacks this tool's columns.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"{path}: no such results file; searches write results/<name>.csv.")
    try:
        text = path.read_text(encoding="utf-8-sig")
        _check_header(path, text)
        _check_complete_rows(path, text)
        frame = pd.read_csv(io.StringIO(text), dtype={"trial_id": str, "parent_trial": str}, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise ResultsError(f"{path}: is not a results CSV written by tuner_app ({exc}).") from None
    if frame.empty:  # a search with no finished trial yet: the header alone
        return frame.astype({c: float for c in ("rank", "objective")})
    if not pd.api.types.is_numeric_dtype(frame["objective"]):
        raise ResultsError(f"{path}: column 'objective' must hold numbers; found {frame['objective'].dtype}.")
    leading, trailing = [*LEADING_COLUMNS, *METRIC_COLUMNS, *RUN_COLUMNS], [*HYPERBAND_COLUMNS.values(), "reason"]
    order = [c for c in leading if c in frame] + [c for c in frame if c not in {*leading, *trailing}] + \
        [c for c in trailing if c in frame]  # as written, whatever order a spreadsheet saved
    return _spelled_as_the_search(frame[order], SearchPaths.of_csv(path), ("trial_id", "parent_trial"))


_HISTORY_FIX = "run the search command again: it rewrites the file from the trials' records"


def read_history(paths: SearchPaths):
    """The per-epoch history beside a results CSV, trial ids spelled as the search spells them; None when
    there is none.

    Raises:
        ResultsError: the file is not a history this tool wrote.
    """
    import pandas as pd

    if not paths.history.is_file():
        return None
    try:
        frame = pd.read_csv(paths.history, dtype={"trial_id": str}, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise ResultsError(f"{paths.history}: is not a history written by tuner_app ({exc}); {_HISTORY_FIX}.") from None
    missing = [c for c in ("trial_id", "epoch") if c not in frame.columns]
    if missing:
        raise ResultsError(f"{paths.history}: is not a history written by tuner_app: it lacks the column(s) "
                           f"{', '.join(missing)}; {_HISTORY_FIX}.")
    return _spelled_as_the_search(frame, paths, ("trial_id",))


def _spelled_as_the_search(frame, paths: SearchPaths, columns: Sequence[str]):
    """`frame` with the trial ids in `columns` as the search's trial folders spell them."""
    known = paths.trial_ids()
    for column in columns:
        if known and column in frame.columns:
            frame[column] = [spell_trial_id(t, known) if isinstance(t, str) else t for t in frame[column]]
    return frame


def _check_header(path: Path, text: str) -> None:
    """The header has this tool's columns; one that is not comma-separated is named as such."""
    header = next(csv.reader(io.StringIO(text)), None)
    if header is None:
        return
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if not missing:
        return
    line = text.split("\n", 1)[0]
    separator = next((s for s in (";", "\t", "|") if line.count(s) >= len(REQUIRED_COLUMNS) - 1), None)
    if separator is not None and len(header) == 1:
        shown = "tabs" if separator == "\t" else f"'{separator}'"
        raise ResultsError(f"{path}: is not a results CSV written by tuner_app: its columns are separated by {shown}, "
                           "not commas (a spreadsheet re-saved it?); save it as comma-separated CSV, or use the file "
                           "the search wrote.")
    raise ResultsError(
        f"{path}: is not a results CSV written by tuner_app: it lacks the column(s) "
        f"{', '.join(missing)}; results CSVs come from `python -m tuner_app search`."
    )


def _check_complete_rows(path: Path, text: str) -> None:
    """Every row has the header's number of fields: a row cut short means the file was cut off."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        return
    for number, row in enumerate(rows, start=2):
        if row and len(row) != len(header):
            raise ResultsError(
                f"{path}: line {number} has {len(row)} of the header's {len(header)} fields: the file was cut off "
                "or edited; the search rewrites it whole after every trial: run it again (it resumes) or restore "
                "the file."
            )


def choose_trial(csv_path: Path, trial: str) -> dict:
    """The CSV row of `trial` ("best" for rank 1); it must be a completed trial."""
    frame = read_results(csv_path)
    if trial == "best":
        ranked = frame[frame["rank"] == 1]
        if ranked.empty:
            raise ResultsError(f"{csv_path}: has no completed trial to export.")
        row = ranked.iloc[0]
    else:
        matches = frame[[isinstance(t, str) and same_trial_id(t, trial) for t in frame["trial_id"]]]
        if matches.empty:
            known = ", ".join(frame["trial_id"].dropna().head(10))
            raise ResultsError(f"{csv_path}: has no trial {trial!r}; trials include {known}; or use --trial best.")
        row = matches.iloc[0]
        if row["status"] != TrialState.COMPLETED.value:
            raise ResultsError(f"{csv_path}: trial {trial} is {row['status']}, not COMPLETED; it has no model to export.")
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.to_dict().items()}
