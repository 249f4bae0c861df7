"""One ended trial as the results show it (`TrialRow`), the ranking, and the CSV's columns.

Completed trials are ranked by the objective (best first); failed trials follow,
unranked, with their reason. TensorFlow-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tuner_app.space.names import CLASSICAL_BASELINES, METRICS
from tuner_app.store.states import is_completed

#: The objective over each baseline's (`space.names.BASELINES`) on the same rows.
LIFT_COLUMNS = {"popularity": "lift", "ease": "lift_ease", "als": "lift_als"}
#: The objective over the better classical baseline's (`space.names.CLASSICAL_BASELINES`): the headline.
BEST_LIFT_COLUMN = "lift_best"
LEADING_COLUMNS = ("rank", "trial_id", "status", "objective", "objective_name", *LIFT_COLUMNS.values(),
                   BEST_LIFT_COLUMN)
METRIC_COLUMNS = METRICS
RUN_COLUMNS = ("best_epoch", "epochs_trained", "seconds", "params", "worker", "peak_rss_mb", "finished",
               "validation_rows", "cut_by_budget")
#: keras-tuner's Hyperband bookkeeping, renamed for the CSV.
HYPERBAND_COLUMNS = {
    "tuner/bracket": "bracket",
    "tuner/round": "round",
    "tuner/initial_epoch": "initial_epoch",
    "tuner/epochs": "target_epochs",
    "tuner/trial_id": "parent_trial",
}
REQUIRED_COLUMNS = ("rank", "trial_id", "status", "objective", "objective_name", "reason")
#: Columns that are not hyperparameters (for plots and importances).
NON_HYPERPARAMETER_COLUMNS = frozenset(
    {*LEADING_COLUMNS, *RUN_COLUMNS, *METRIC_COLUMNS, *HYPERBAND_COLUMNS.values(), "reason", "search"}
)


def best_classical(baselines: dict[str, float]) -> float | None:
    """The better classical baseline's value of the objective (`space.names.CLASSICAL_BASELINES`), if any ran."""
    values = [baselines[name] for name in CLASSICAL_BASELINES if baselines.get(name)]
    return max(values) if values else None


@dataclass
class TrialRow:
    """One trial as the CSV shows it."""

    trial_id: str
    status: str  # a TrialState value
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
    finished: str | None = None  # when the trial ended, UTC, ISO 8601 to the second
    validation_rows: int | None = None  # how many validation rows its figures come from
    cut_by_budget: bool | None = None  # True: the time budget ended it (`tuning.budget`)

    @property
    def completed(self) -> bool:
        return is_completed(self.status)

    @property
    def objective(self) -> float | None:
        value = self.metrics.get(self.objective_name)
        return value if value is not None and math.isfinite(value) else None


def at_epoch_cap(best_epoch: object, epochs: object, hyperband_epochs: object = None,
                 cut_by_budget: object = None) -> bool:
    """Whether a completed trial was at its best on the last epoch its `epochs` bound allowed, so it may
    still have been improving. Not a Hyperband round (it ends at its target on purpose) nor a trial the
    time budget cut; values as a TrialRow or a results CSV holds them (missing: None or NaN)."""
    def number(value: object) -> float | None:
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None

    if number(hyperband_epochs) is not None or str(cut_by_budget).lower() == "true":
        return False
    best, bound = number(best_epoch), number(epochs)
    return best is not None and bound is not None and best >= bound


def epoch_cap_line(trial_ids: list[str], bounds: Iterable[object]) -> str:
    """The line that names the trials `at_epoch_cap` found, and what to change."""
    shown = ", ".join(sorted({f"{float(b):g}" for b in bounds}))
    which = f"trial {trial_ids[0]} was at its" if len(trial_ids) == 1 else \
        f"{len(trial_ids)} trials ({', '.join(trial_ids[:8])}{', ...' if len(trial_ids) > 8 else ''}) were at their"
    return (f"{which} best on the last epoch allowed (epochs: {shown}) and may still have been improving: "
            "raise epochs (hyperparameters.epochs in the space, or --epochs); early_stopping_patience still ends the "
            "trials that stop improving")


def rank_rows(rows: Iterable[TrialRow]) -> list[tuple[int | None, TrialRow]]:
    """Completed trials with an objective first, best first; then the rest by trial id."""
    rows = list(rows)
    scored = sorted((r for r in rows if r.completed and r.objective is not None),
                    key=lambda r: (-r.objective, r.trial_id))
    others = sorted((r for r in rows if r not in scored), key=lambda r: r.trial_id)
    return [(i + 1, r) for i, r in enumerate(scored)] + [(None, r) for r in others]


def best_row(rows: Iterable[TrialRow]) -> TrialRow | None:
    """The best completed trial, or None."""
    ranked = rank_rows(rows)
    return ranked[0][1] if ranked and ranked[0][0] is not None else None
