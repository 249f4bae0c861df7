"""`report --plot`: PNG figures next to the results CSV.

* `<name>.curves.png`: validation objective against epoch for the best trials,
  one line per trial, the popularity baseline dashed: the tutorial's own
  figure, for every trial that made the cut.
* `<name>.hyperparameters.png`: the objective against each hyperparameter,
  one panel each: which knobs mattered.

matplotlib with the non-interactive Agg backend; no TensorFlow.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from tuner_app.errors import ResultsError
from tuner_app.report.results_csv import read_results
from tuner_app.report.rows import NON_HYPERPARAMETER_COLUMNS, TrialStatus
from tuner_app.store import atomic
from tuner_app.store.layout import SearchPaths
from tuner_app.store.summary import read_summary, validation_baselines


def write_plots(csv_path: str | Path, top: int = 10) -> list[Path]:
    """Writes the figures for one results CSV; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    csv_path = Path(csv_path)
    paths = SearchPaths.of_csv(csv_path)
    frame = read_results(csv_path)
    history_file = paths.history
    if not history_file.exists():
        raise ResultsError(f"{history_file}: not found; plots need the per-epoch history the search writes beside "
                           f"{csv_path.name}.")
    history = pd.read_csv(history_file, dtype={"trial_id": str})
    objective = _objective_name(frame, csv_path)
    baseline = validation_baselines(read_summary(paths)).get(objective)
    completed = frame[frame["status"] == TrialStatus.COMPLETED.value].sort_values("rank")
    if completed.empty:
        raise ResultsError(f"{csv_path}: has no completed trial to plot.")

    pngs = []
    fig, ax = plt.subplots(figsize=(8, 5))
    for _, row in completed.head(top).iterrows():
        curve = history[(history["trial_id"] == row["trial_id"]) & history[objective].notna()]
        ax.plot(curve["epoch"], curve[objective], marker="o", markersize=2.5, linewidth=1.2,
                label=f"trial {row['trial_id']} ({row['objective']:.3f})")
    if baseline is not None:
        ax.axhline(baseline, color="black", linestyle="--", linewidth=1.2, label=f"popularity ({baseline:.3f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {objective}")
    ax.set_title(f"{csv_path.stem}: best {min(top, len(completed))} trials")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    pngs.append(_save(fig, paths.figure("curves"), dpi=120))

    params = [c for c in frame.columns if c not in NON_HYPERPARAMETER_COLUMNS and completed[c].notna().any()
              and completed[c].nunique(dropna=True) > 1]
    if params:
        cols = min(3, len(params))
        rows = math.ceil(len(params) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
        for ax, name in zip(axes.flat, params, strict=False):  # more panels than params
            values = completed[[name, "objective"]].dropna()
            numeric = pd.api.types.is_numeric_dtype(values[name])
            if numeric:
                ax.scatter(values[name], values["objective"], s=18, alpha=0.8)
                if name in ("learning_rate", "l2", "temperature") and (values[name] > 0).all():
                    ax.set_xscale("log")
            else:
                labels = sorted(values[name].astype(str).unique())
                positions = values[name].astype(str).map({v: i for i, v in enumerate(labels)})
                ax.scatter(positions, values["objective"], s=18, alpha=0.8)
                ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
            if baseline is not None:
                ax.axhline(baseline, color="black", linestyle="--", linewidth=1)
            ax.set_title(name, fontsize=9)
            ax.set_ylabel(objective, fontsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(params):]:
            ax.axis("off")
        fig.suptitle(f"{csv_path.stem}: {objective} of each completed trial against each hyperparameter")
        fig.tight_layout()
        pngs.append(_save(fig, paths.figure("hyperparameters"), dpi=110))
    return pngs


def _save(fig, path: Path, dpi: int) -> Path:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    atomic.write_bytes_atomic(path, buffer.getvalue())
    return path


def _objective_name(frame, csv_path: Path) -> str:
    names = frame["objective_name"].dropna().unique()
    if len(names) != 1:
        raise ResultsError(f"{csv_path}: column objective_name must hold one metric name; found {list(names)}.")
    return str(names[0])
