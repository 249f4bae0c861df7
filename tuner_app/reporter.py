"""The ranked results CSV: writing it after every trial, reading it back, printing it.

One row per ended trial. Completed trials are ranked by the objective (best
first); failed trials follow, unranked, with their reason. Columns:

    rank, trial_id, status, objective, objective_name,
    lift                           (objective / the popularity baseline's)
    val_top_1 ... val_top_100      (at the best validated epoch)
    val_filtered_top_1 ... _100    (the same with seen titles excluded, when evaluated)
    best_epoch, epochs_trained, seconds, params, worker   (the tuner id that ran it),
    peak_rss_mb                    (the process's peak memory when the trial ended)
    <one column per hyperparameter, empty where inactive>,
    bracket, round, initial_epoch, target_epochs, parent_trial   (Hyperband's own)
    reason

Beside `<name>.csv` the search keeps `<name>.history.csv` (every trial's
validation figures per epoch, for plots) and `<name>.json` (the search's
settings, the baselines and the best trial's held-back score).

This module does not import TensorFlow, so `report` is fast.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner_app import storage
from tuner_app.errors import ResultsError
from tuner_app.space import TOP_KS

METRIC_COLUMNS = tuple(f"val_top_{k}" for k in TOP_KS) + tuple(f"val_filtered_top_{k}" for k in TOP_KS)
LEADING_COLUMNS = ("rank", "trial_id", "status", "objective", "objective_name", "lift")
RUN_COLUMNS = ("best_epoch", "epochs_trained", "seconds", "params", "worker", "peak_rss_mb")
#: keras-tuner's Hyperband bookkeeping, renamed for the CSV.
HYPERBAND_COLUMNS = {
    "tuner/bracket": "bracket",
    "tuner/round": "round",
    "tuner/initial_epoch": "initial_epoch",
    "tuner/epochs": "target_epochs",
    "tuner/trial_id": "parent_trial",
}
REQUIRED_COLUMNS = ("rank", "trial_id", "status", "objective", "objective_name", "reason")


def history_path(csv_path: str | Path) -> Path:
    csv_path = Path(csv_path)
    return csv_path.with_name(f"{csv_path.stem}.history.csv")


def meta_path(csv_path: str | Path) -> Path:
    return Path(csv_path).with_suffix(".json")


@dataclass
class TrialRow:
    """One trial as the CSV shows it."""

    trial_id: str
    status: str  # COMPLETED | FAILED | ...
    objective_name: str
    metrics: dict[str, float] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    best_epoch: int | None = None
    epochs_trained: int | None = None
    seconds: float | None = None
    params: int | None = None
    reason: str | None = None
    worker: str | None = None
    peak_rss_mb: float | None = None

    @property
    def objective(self) -> float | None:
        value = self.metrics.get(self.objective_name)
        return value if value is not None and math.isfinite(value) else None


def rank_rows(rows: Iterable[TrialRow]) -> list[tuple[int | None, TrialRow]]:
    """Completed trials with an objective first, best first; then the rest by trial id."""
    rows = list(rows)
    scored = sorted(
        (r for r in rows if r.status == "COMPLETED" and r.objective is not None),
        key=lambda r: (-r.objective, r.trial_id),
    )
    others = sorted((r for r in rows if r not in scored), key=lambda r: r.trial_id)
    return [(i + 1, r) for i, r in enumerate(scored)] + [(None, r) for r in others]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


def render_csv(rows: Iterable[TrialRow], hyperparameter_names: Sequence[str], baseline: float | None = None) -> str:
    """The CSV text for `rows`; hyperparameter columns in the given order.

    Args:
        baseline: the popularity baseline's value of the objective, for `lift`.
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
                _cell(row.objective / baseline if row.objective is not None and baseline else None),
                *(_cell(row.metrics.get(m)) for m in METRIC_COLUMNS),
                _cell(row.best_epoch), _cell(row.epochs_trained),
                _cell(None if row.seconds is None else round(row.seconds, 2)), _cell(row.params),
                _cell(row.worker), _cell(row.peak_rss_mb),
                *(_cell(hps.get(n)) for n in hp_names),
                *(_cell(hps.get(n)) for n in HYPERBAND_COLUMNS),
                " ".join((row.reason or "").split()),  # one line, whatever the exception said
            ]
        )
    return out.getvalue()


def write_results(path: str | Path, rows: Iterable[TrialRow], hyperparameter_names: Sequence[str],
                  baseline: float | None = None) -> None:
    """Rewrites the results CSV atomically."""
    storage.write_text_atomic(path, render_csv(rows, hyperparameter_names, baseline))


HISTORY_COLUMNS = ("trial_id", "epoch", "loss", "seconds", *METRIC_COLUMNS)


def write_history(path: str | Path, histories: dict[str, list[dict[str, float]]]) -> None:
    """Rewrites `<name>.history.csv`: one row per (trial, epoch), atomically."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for trial_id in sorted(histories, key=lambda t: (len(t), t)):
        for entry in histories[trial_id]:
            writer.writerow([trial_id, *(_cell(entry.get(c)) for c in HISTORY_COLUMNS[1:])])
    storage.write_text_atomic(path, out.getvalue())


def read_meta(csv_path: str | Path) -> dict[str, Any]:
    """The search's sidecar JSON, or {} when there is none."""
    path = meta_path(csv_path)
    return storage.read_json(path, "the search summary") if path.exists() else {}


def write_meta(csv_path: str | Path, meta: dict[str, Any]) -> None:
    storage.write_json_atomic(meta_path(csv_path), meta)


def read_results(path: str | Path):
    """Reads a results CSV written by this tool into a pandas DataFrame.

    Raises:
        ResultsError: the file is missing, is not CSV, or lacks this tool's columns.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"{path}: no such results file; searches write results/<name>.csv.")
    try:
        frame = pd.read_csv(path, dtype={"trial_id": str, "parent_trial": str}, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ResultsError(f"{path}: is not a results CSV written by tuner_app ({exc}).") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ResultsError(
            f"{path}: is not a results CSV written by tuner_app: it lacks the column(s) "
            f"{', '.join(missing)}; results CSVs come from `python -m tuner_app search`."
        )
    if not pd.api.types.is_numeric_dtype(frame["objective"]):
        raise ResultsError(f"{path}: column 'objective' must hold numbers; found {frame['objective'].dtype}.")
    return frame


def combine_results(paths: Sequence[str | Path]):
    """Several results CSVs as one frame, ranked together, with a `search` column.

    Raises:
        ResultsError: the searches optimise different objectives, so cannot be ranked together.
    """
    import pandas as pd

    frames = []
    for path in paths:
        frame = read_results(path)
        frame.insert(0, "search", Path(path).stem)
        frames.append(frame)
    names = {str(n) for f in frames for n in f["objective_name"].dropna().unique()}
    if len(names) > 1:
        raise ResultsError(
            f"{', '.join(map(str, paths))}: optimise different objectives ({', '.join(sorted(names))}), "
            "which cannot be ranked together; report them one at a time."
        )
    combined = pd.concat(frames, ignore_index=True)
    done = combined["status"].eq("COMPLETED") & combined["objective"].notna()
    order = combined[done].sort_values(["objective", "search", "trial_id"], ascending=[False, True, True]).index
    combined["rank"] = float("nan")
    combined.loc[order, "rank"] = range(1, len(order) + 1)
    return combined


def format_table(frame, top: int | None = None) -> str:
    """The ranked table `report` prints: ranked trials first, then the others."""
    import pandas as pd

    frame = frame.copy()
    frame["_order"] = frame["rank"].fillna(math.inf)
    keys = ["_order", "search", "trial_id"] if "search" in frame.columns else ["_order", "trial_id"]
    frame = frame.sort_values(keys).drop(columns="_order")
    if top is not None:
        frame = frame.head(top)
    hidden = {"objective_name", "reason", *HYPERBAND_COLUMNS.values()}
    if "lift" in frame.columns:
        frame["lift"] = frame["lift"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}x")
    columns = [c for c in frame.columns if c not in hidden and not frame[c].isna().all()]
    shown = frame[columns].copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            if column in ("rank", "best_epoch", "epochs_trained", "params") or column.startswith("units_"):
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else str(int(v)))
            elif column == "seconds":
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
            else:
                shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    shown = shown.fillna("")
    lines = [shown.to_string(index=False)]
    failed = frame[frame["status"] != "COMPLETED"]
    for _, row in failed.iterrows():
        if isinstance(row["reason"], str) and row["reason"]:
            lines.append(f"trial {row['trial_id']} {row['status'].lower()}: {row['reason']}")
    return "\n".join(lines)
