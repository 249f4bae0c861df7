"""`report --plot`: PNG figures next to the results CSV, each with the baselines as dashed lines.

* `<name>.curves.png`: validation objective against epoch for the best trials,
  one line per trial: the tutorial's own figure, for every trial that made the cut.
* `<name>.hyperparameters.png`: the objective against each hyperparameter, one
  panel each.
* `<name>.progress.png`: the best objective so far against the trial count and
  against wall time: what searching bought, and how soon.
* `<name>.importance.png`: each hyperparameter's fANOVA importance
  (`report.insights`), when there are enough trials.

matplotlib with the non-interactive Agg backend; no TensorFlow.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from tuner_app.errors import ResultsError
from tuner_app.report import insights
from tuner_app.report.results_csv import read_history, read_results
from tuner_app.space.names import BASELINES
from tuner_app.store import atomic
from tuner_app.store.layout import FIGURE_KINDS, SearchPaths
from tuner_app.store.summary import baseline_values, read_summary

_BASELINE_STYLES = {"popularity": ("black", "--"), "ease": ("tab:red", ":"), "als": ("tab:green", "-.")}
_LOG_SCALED = ("learning_rate", "l2", "temperature")


def write_plots(csv_path: str | Path, top: int = 10) -> list[Path]:
    """Writes the figures for one results CSV; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    csv_path = Path(csv_path)
    paths = SearchPaths.of_csv(csv_path)
    frame = read_results(csv_path)
    history = read_history(paths)
    if history is None:
        raise ResultsError(f"{paths.history}: not found; plots need the per-epoch history the search writes "
                           f"beside {csv_path.name}.")
    objective = _objective_name(frame, csv_path)
    baselines = baseline_values(read_summary(paths), objective)
    completed = insights.completed_trials(frame).sort_values("rank")
    if completed.empty:
        raise ResultsError(f"{csv_path}: has no completed trial with a numeric objective to plot; plots need one.")
    figures = [_curves(completed.head(top), history, objective, baselines, f"{paths.name}: best "
                       f"{min(top, len(completed))} trials"),
               _hyperparameters(frame, completed, objective, baselines, paths.name),
               _progress(frame, objective, baselines, paths.name),
               _importance(frame, objective, paths.name)]
    return [_save(fig, paths.figure(kind)) for kind, fig in zip(FIGURE_KINDS, figures, strict=True) if fig is not None]


def _baseline_lines(ax, baselines: dict[str, float], label: bool = True) -> None:
    for name, value in baselines.items():
        color, style = _BASELINE_STYLES.get(name, ("gray", "-."))
        ax.axhline(value, color=color, linestyle=style, linewidth=1.2,
                   label=f"{BASELINES.get(name, name)} ({value:.3f})" if label else None)


def _curves(best, history, objective: str, baselines: dict[str, float], title: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for _, row in best.iterrows():
        curve = history[(history["trial_id"] == row["trial_id"]) & history[objective].notna()]
        ax.plot(curve["epoch"], curve[objective], marker="o", markersize=2.5, linewidth=1.2,
                label=f"trial {row['trial_id']} ({row['objective']:.3f})")
    _baseline_lines(ax, baselines)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {objective}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _hyperparameters(frame, completed, objective: str, baselines: dict[str, float], name: str):
    import matplotlib.pyplot as plt
    import pandas as pd

    params = insights.searched_columns(frame)
    if not params:
        return None
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax, param in zip(axes.flat, params, strict=False):  # more panels than params
        values = completed[[param, "objective"]].dropna()
        if pd.api.types.is_numeric_dtype(values[param]) and not pd.api.types.is_bool_dtype(values[param]):
            ax.scatter(values[param], values["objective"], s=18, alpha=0.8)
            if param in _LOG_SCALED and (values[param] > 0).all():
                ax.set_xscale("log")
        else:
            labels = sorted(values[param].astype(str).unique())
            positions = values[param].astype(str).map({v: i for i, v in enumerate(labels)})
            ax.scatter(positions, values["objective"], s=18, alpha=0.8)
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
        _baseline_lines(ax, baselines, label=False)
        ax.set_title(param, fontsize=9)
        ax.set_ylabel(objective, fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    fig.suptitle(f"{name}: {objective} of each completed trial against each hyperparameter (dashed: baselines)")
    fig.tight_layout()
    return fig


def _progress(frame, objective: str, baselines: dict[str, float], name: str):
    import matplotlib.pyplot as plt

    progress = insights.best_so_far(frame)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, x, label in ((axes[0], "trial", "trials ended"), (axes[1], "minutes", "wall minutes")):
        ax.scatter(progress[x], progress["objective"], s=12, alpha=0.5, color="tab:blue", label="each trial")
        ax.step(progress[x], progress["best"], where="post", color="tab:blue", linewidth=1.8, label="best so far")
        _baseline_lines(ax, baselines)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"validation {objective}")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{name}: the best {objective} so far")
    fig.tight_layout()
    return fig


def _importance(frame, objective: str, name: str):
    import matplotlib.pyplot as plt

    found = insights.importances(frame)
    if isinstance(found, str):
        return None
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(found) + 1.5))
    names = list(found)[::-1]
    ax.barh(names, [found[n] for n in names], color="tab:blue")
    ax.set_xlabel(f"fANOVA importance for {objective} (shares sum to 1)")
    ax.set_title(f"{name}: what mattered")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def _save(fig, path: Path, dpi: int = 110) -> Path:
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
