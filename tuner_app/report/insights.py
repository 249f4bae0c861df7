"""What a search found beyond its ranking: which hyperparameters mattered, and what searching bought.

* `importances`: each hyperparameter's share of the objective's variance, by
  fANOVA (Hutter et al. 2014) as optuna implements it (a random forest over the
  completed trials, scikit-learn's); the trials are handed to an in-memory optuna
  study for that, nothing else of optuna is used.
* `best_so_far`: the best objective after each trial, against the trial count
  and the wall time, to set beside the baselines: whether the search beat them,
  and how soon.

Both read a results CSV's frame (`report.results_csv.read_results`), so they work
on any search, finished or running. TensorFlow-free; optuna is imported only here.
"""

from __future__ import annotations

import math

from tuner_app.report.rows import NON_HYPERPARAMETER_COLUMNS
from tuner_app.store.states import TrialState

#: Fewer completed trials than this give no importances (a forest over a handful says little).
MIN_TRIALS = 8
def completed_trials(frame):
    """The completed trials with a finite objective."""
    done = frame[(frame["status"] == TrialState.COMPLETED.value) & frame["objective"].notna()]
    # A boolean mask even when no row is left (an empty mask of objects would select columns).
    return done[done["objective"].map(math.isfinite).astype(bool)]


def searched_columns(frame) -> list[str]:
    """Hyperparameter columns whose value varies among the completed trials."""
    done = completed_trials(frame)
    return [c for c in frame.columns if c not in NON_HYPERPARAMETER_COLUMNS
            and done[c].notna().any() and done[c].nunique(dropna=True) > 1]


def importances(frame, seed: int = 0) -> dict[str, float] | str:
    """Each searched hyperparameter's fANOVA importance (they sum to 1), best first.

    Hyperparameters that only some trials have (a third layer's width) are left out:
    fANOVA needs every trial to have a value. Returns why there is none instead, as a
    sentence, when too few trials completed or nothing varied.
    """
    done = completed_trials(frame)
    if len(done) < MIN_TRIALS:
        return f"importances need at least {MIN_TRIALS} completed trials; this search has {len(done)}"
    columns = [c for c in searched_columns(frame) if done[c].notna().all()]
    if not columns:
        return "no hyperparameter varied across every completed trial"
    import optuna
    import pandas as pd
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {}
    for column in columns:
        values = done[column]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            distributions[column] = CategoricalDistribution(sorted(values.astype(str).unique()))
        elif all(float(v).is_integer() for v in values):
            distributions[column] = IntDistribution(int(values.min()), int(values.max()))
        else:
            low, high = float(values.min()), float(values.max())
            distributions[column] = FloatDistribution(low, high, log=low > 0 and high / low >= 100)
    study = optuna.create_study(direction="maximize")
    for _, row in done.iterrows():
        params = {c: _param_value(row[c], distributions[c]) for c in columns}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                  value=float(row["objective"])))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    return {name: float(value) for name, value in optuna.importance.get_param_importances(study, evaluator=evaluator).items()}


def _param_value(value, distribution):
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return str(value)
    return int(value) if isinstance(distribution, IntDistribution) else float(value)


def best_so_far(frame):
    """The best objective after each trial, in the order the trials ended.

    Returns a frame with `trial` (1-based count), `trial_id`, `objective`, `best`
    and `minutes`: wall minutes since the first trial started, from the `finished`
    column (searches written before it existed: the trials' seconds added up).
    """
    import pandas as pd

    rows = frame[frame["status"].isin([TrialState.COMPLETED.value, TrialState.FAILED.value])].copy()
    seconds = pd.to_numeric(rows["seconds"], errors="coerce").fillna(0.0)
    finished = pd.to_datetime(rows["finished"], utc=True, errors="coerce") if "finished" in rows else None
    if finished is not None and finished.notna().all() and len(rows):
        rows["_end"] = finished
        rows = rows.sort_values(["_end", "trial_id"])
        start = (rows["_end"] - pd.to_timedelta(seconds.loc[rows.index], unit="s")).min()
        minutes = (rows["_end"] - start).dt.total_seconds() / 60
    else:
        rows = rows.sort_values("trial_id")
        minutes = seconds.loc[rows.index].cumsum() / 60
    objective = pd.to_numeric(rows["objective"], errors="coerce").astype(float).where(
        rows["status"] == TrialState.COMPLETED.value)  # as floats: a column of 1s reads as integers
    return pd.DataFrame({
        "trial": range(1, len(rows) + 1),
        "trial_id": rows["trial_id"].to_numpy(),
        "objective": objective.to_numpy(),
        "best": objective.cummax().ffill().to_numpy(),  # a failed trial keeps the best before it
        "minutes": minutes.to_numpy(),
    })


def first_reaching(progress, value: float) -> tuple[str, int, float] | None:
    """(trial id, trials finished, wall minutes) when the best so far first reached `value`, or None."""
    reached = progress[progress["best"] >= value]
    if reached.empty:
        return None
    first = reached.iloc[0]
    return str(first["trial_id"]), int(first["trial"]), float(first["minutes"])


def when(trial_id: str, count: int, minutes: float) -> str:
    """How `report` names a point in a search: "trial 07, after 3 trials (4.2 min)"."""
    return f"trial {trial_id}, after {count} trial{'' if count == 1 else 's'} ({minutes:.1f} min)"
