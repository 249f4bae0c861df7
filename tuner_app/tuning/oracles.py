"""keras-tuner's oracles for a search: its own algorithms, with atomic state and worker bookkeeping.

The algorithms are keras-tuner's (Hyperband, Bayesian optimization, random and
grid search), given the whole space up front (`make_oracle`). `SearchStateMixin`
writes oracle.json and trial.json atomically (keras-tuner writes them in place,
so a kill mid-write would leave a file no reload can read) and keeps which worker
ran each trial, for the CSV. What distributed workers need on top is
`distributed.gate.WorkerGateMixin`.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import keras_tuner as kt
from keras_tuner import synchronized
from keras_tuner.engine import trial as trial_module

from tuner_app.distributed.gate import WorkerGateMixin
from tuner_app.distributed.roles import worker_name
from tuner_app.space.spec import SearchSpec
from tuner_app.store import atomic
from tuner_app.store.layout import TRIAL_PREFIX, TRIAL_STATE_FILE, SearchPaths
from tuner_app.tuning import kt_internals


class SearchStateMixin(kt_internals.StateFileHooks):
    """Atomic state files; the worker that ran each trial and when it ended (in the oracle's state).

    The end time is the clock of the process that holds the oracle (the chief's, in a
    distributed search), so the trials of one search are timed on one clock.
    """

    def __init__(self, *args, **kwargs):
        self._init_trial_workers()
        super().__init__(*args, **kwargs)

    def _init_trial_workers(self):
        # Also called from get_state: keras-tuner's constructors save state early.
        if not hasattr(self, "trial_workers"):
            self.trial_workers: dict[str, str] = {}
            self.trial_finished: dict[str, float] = {}  # trial id -> time.time() when it ended
            self.repairs: list[str] = []  # what reload rebuilt, as sentences

    def save(self):
        atomic.write_json_atomic(kt_internals.state_path(self), self.get_state())

    def write_trial(self, trial):
        """A trial's `trial.json`, atomically (keras-tuner writes it in place: `kt_internals.StateFileHooks`)."""
        path = os.path.join(kt_internals.trial_folder(self, trial.trial_id), TRIAL_STATE_FILE)
        atomic.write_json_atomic(path, trial.get_state())

    def get_state(self):
        self._init_trial_workers()
        state = super().get_state()
        state["tuner_app_trial_workers"] = dict(self.trial_workers)
        state["tuner_app_trial_finished"] = dict(self.trial_finished)
        return state

    def reload(self):
        """keras-tuner's reload, rebuilding what is missing instead of failing (`tuning.repair`)."""
        from tuner_app.tuning import repair

        folder = Path(kt_internals.project_folder(self))
        for path in folder.glob(f"{TRIAL_PREFIX}*/{TRIAL_STATE_FILE}"):
            trial = trial_module.Trial.load(str(path))
            self.trials[trial.trial_id] = trial
        path = Path(kt_internals.state_path(self))
        paths = SearchPaths(folder.parent, folder.name)
        if path.exists():
            state = atomic.read_json(path, "saved search state")
            repair.check_state(self, state, path)
        else:
            state = repair.rebuilt_state(self, path, paths)
            self.repairs.append(f"{path}: keras-tuner's oracle state was missing; rebuilt from the "
                                f"{len(self.trials)} trials' files")
        self.repairs.extend(repair.rebuild_trials(self, state, paths))
        self.set_state(state)
        # As keras-tuner does: trials that were running are run again (they continue from
        # their last finished epoch, see tuning.trainer).
        kt_internals.retry_queue(self).extend(trial.trial_id for trial in self.ongoing_trials.values())
        self.ongoing_trials = {}
        if self.repairs:
            self.save()

    def set_state(self, state):
        super().set_state(state)
        self.trial_workers = dict(state.get("tuner_app_trial_workers", {}))
        self.trial_finished = dict(state.get("tuner_app_trial_finished", {}))

    @synchronized
    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == trial_module.TrialStatus.RUNNING:
            self.trial_workers[trial.trial_id] = worker_name(tuner_id)
        return trial

    @synchronized
    def end_trial(self, trial):
        # Called once a trial (`distributed.gate.WorkerGateMixin.end_trial` sees to it).
        self.trial_finished[trial.trial_id] = time.time()  # saved with the state the end writes
        return super().end_trial(trial)


class HyperbandOracle(WorkerGateMixin, SearchStateMixin, kt.oracles.HyperbandOracle):
    pass


class BayesianOptimizationOracle(WorkerGateMixin, SearchStateMixin, kt.oracles.BayesianOptimizationOracle):
    pass


class RandomSearchOracle(WorkerGateMixin, SearchStateMixin, kt.oracles.RandomSearchOracle):
    pass


class GridSearchOracle(WorkerGateMixin, SearchStateMixin, kt.oracles.GridSearchOracle):
    """keras-tuner's grid search, resumable: it keeps the grid's order (which combinations follow
    which) only in memory, so a reloaded grid search stopped at once, or met a KeyError."""

    def set_state(self, state):
        super().set_state(state)
        tried = [t for t in self.start_order if t in self.trials and self.trials[t].hyperparameters.values]
        order = sorted(tried, key=functools.cmp_to_key(
            lambda a, b: self._compare(self.trials[a].hyperparameters.values, self.trials[b].hyperparameters.values)))
        kt_internals.restore_grid_order(self, order)


_ORACLES = {
    "hyperband": HyperbandOracle,
    "bayesian": BayesianOptimizationOracle,
    "random": RandomSearchOracle,
    "grid": GridSearchOracle,
}


def make_oracle(spec: SearchSpec, space: kt.HyperParameters) -> kt.Oracle:
    """keras-tuner's oracle for the spec's algorithm, over a pre-declared space."""
    t = spec.tuner
    common = dict(
        objective=kt.Objective(spec.objective, direction="max"),
        hyperparameters=space,
        allow_new_entries=False,  # a name the space does not declare is a bug: fail loudly
        tune_new_entries=False,
        seed=t.seed,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=t.max_consecutive_failed_trials,
    )
    oracle = _ORACLES[t.algorithm](**t.options, **common, **(
        {} if t.algorithm == "hyperband" else {"max_trials": t.max_trials}))
    if t.algorithm == "hyperband":
        oracle.max_trials = t.max_trials  # optional cap; Hyperband's brackets decide otherwise
    oracle.verbose = 0  # progress is ours to print
    return oracle
