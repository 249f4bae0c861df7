"""From the oracle's trials to the results files: one code path, local or distributed.

Every trial reports to the oracle through keras-tuner's own channel,
`oracle.update_trial(trial_id, metrics, step)`:

* after each validated epoch, that epoch's figures at step = epoch (`loss`,
  `epoch_seconds` and every `val_*`), which also serves as the worker's heartbeat;
* when it ends, `seconds`, `params`, `epochs_trained`, `best_epoch` and, when the
  time budget ended it, `cut_by_budget`; a
  failed trial adds one metric named `failure/<reason>` (trial protos carry
  no message between a worker and the chief, metric names travel).

So the oracle, wherever it runs, holds everything the CSV and the history
need; no file of a worker's machine is read. Duck-typed on keras-tuner's
`Trial`, so this module imports neither TensorFlow nor keras-tuner.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable

from tuner_app.report import results_csv
from tuner_app.report.rows import METRIC_COLUMNS, TrialRow
from tuner_app.space.names import BOOKKEEPING_PREFIX
from tuner_app.store.layout import SearchPaths
from tuner_app.store.states import is_completed, is_finished

#: A failed trial reports one metric named `failure/<reason>`.
FAILURE_PREFIX = "failure/"


#: When a trial ended, as the CSV's `finished` column writes it (UTC, to the second).
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _observations(trial, name: str) -> dict[int, float]:
    """step -> value of one metric: the last report of each step (a step is reported again when
    a report is retried, or when a trial trained again from scratch)."""
    if not trial.metrics.exists(name):
        return {}
    return {int(obs.step): float(obs.value[-1]) for obs in trial.metrics.get_history(name)}


def failure_reason(trial) -> str | None:
    names = [n for n in trial.metrics.metrics if n.startswith(FAILURE_PREFIX)]
    if names:
        return names[-1][len(FAILURE_PREFIX):]
    lines = [line.strip() for line in (getattr(trial, "message", None) or "").splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    # "<keras-tuner's module>.FailedTrialError: loss became nan" -> "loss became nan"
    head, _, rest = last.partition(": ")
    return rest if rest and head.endswith("Error") and " " not in head else last


def trial_row(trial, objective: str, oracle=None) -> TrialRow:
    """The CSV row of one ended trial, from what it reported to the oracle.

    Args:
        oracle: the search's oracle, for who ran the trial and when it ended (optional).
    """
    best_epoch = None
    metrics: dict[str, float] = {}
    completed = is_completed(trial.status)
    if completed:
        steps = _observations(trial, objective)
        finite = {s: v for s, v in steps.items() if math.isfinite(v)}
        if finite:
            best_epoch = max(finite, key=lambda s: (finite[s], -s))
            for name in METRIC_COLUMNS:
                value = _observations(trial, name).get(best_epoch)
                if value is not None:
                    metrics[name] = value

    def last(name):
        values = _observations(trial, name)
        return values[max(values)] if values else None

    params, epochs, rss, cut = last("params"), last("epochs_trained"), last("peak_rss_mb"), last("cut_by_budget")
    return TrialRow(
        trial_id=trial.trial_id,
        status=trial.status,
        objective_name=objective,
        metrics=metrics,
        hyperparameters={k: v for k, v in trial.hyperparameters.values.items() if not k.startswith(BOOKKEEPING_PREFIX)},
        best_epoch=best_epoch,
        epochs_trained=None if epochs is None else int(epochs),
        seconds=last("seconds"),
        params=None if params is None else int(params),
        reason=None if completed else failure_reason(trial),
        worker=getattr(oracle, "trial_workers", {}).get(trial.trial_id),
        peak_rss_mb=None if rss is None else round(rss, 1),
        finished=_utc(getattr(oracle, "trial_finished", {}).get(trial.trial_id)),
        cut_by_budget=True if cut else None,
    )


def trial_history(trial) -> list[dict[str, float]]:
    """The trial's validated epochs: [{"epoch": e, "loss": ..., "val_top_1": ...}, ...]."""
    by_step: dict[int, dict[str, float]] = {}
    for name, column in (("loss", "loss"), ("epoch_seconds", "seconds"), *((m, m) for m in METRIC_COLUMNS)):
        for step, value in _observations(trial, name).items():
            by_step.setdefault(step, {"epoch": step})[column] = value
    return [by_step[s] for s in sorted(by_step) if len(by_step[s]) > 1]


def _utc(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime(UTC_FORMAT, time.gmtime(seconds))


def ended(trials: Iterable) -> list:
    return [t for t in trials if is_finished(t.status)]


def write_search_results(oracle, objective: str, paths: SearchPaths, hp_names: list[str],
                         baselines: dict[str, float], validation_rows: int | None = None) -> list[TrialRow]:
    """Rewrites `<name>.csv` and `<name>.history.csv` from the oracle's ended trials."""
    done = ended(oracle.trials.values())
    rows = [dataclasses.replace(trial_row(t, objective, oracle), validation_rows=validation_rows) for t in done]
    shown = [n for n in hp_names if not n.startswith(BOOKKEEPING_PREFIX)]
    results_csv.write_results(paths.csv, rows, shown, baselines)
    results_csv.write_history(paths.history, {t.trial_id: trial_history(t) for t in done})
    return rows
