"""The tuner: keras-tuner's oracles driving our own trial loop.

keras-tuner 1.4 builds models with Keras 3, and TFRS needs Keras 2
(`tf_keras`), so its default `Tuner.run_trial` rejects our model. Its public
extension point is used instead: `RetrievalTuner` is a `BaseTuner` whose
`run_trial` builds the model through `MovielensHyperModel`, trains it with
`training.Trainer` and returns the objective at the best validated epoch.
The oracles (Hyperband, Bayesian optimization, random and grid search) are
keras-tuner's own, with the whole space declared up front.
"""

from __future__ import annotations

import gc
import math
import os
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

import keras_tuner as kt
import tensorflow as tf
from keras_tuner.src import config as kt_config
from keras_tuner.src.engine import trial as trial_module

from tuner_app import reporter, storage
from tuner_app.hypermodel import MovielensHyperModel
from tuner_app.space import SearchSpec
from tuner_app.training import EpochPlan, StopRequested, Trainer, TrialFailed, TrialRecord


# keras-tuner prints the traceback of every failed trial when DEBUG is set (its
# default); the reason goes to the CSV and, for crashes, to trial_<id>/error.txt.
kt_config.DEBUG = False


class SearchStopped(kt.errors.FatalError):
    """Raised through keras-tuner's loop (which swallows other errors) when the user stops."""


class _AtomicState:
    """Oracle mixin: keras-tuner writes its state files in place; a kill mid-write
    would leave a truncated oracle.json or trial.json that no reload can read."""

    def save(self):
        storage.write_json_atomic(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        storage.write_json_atomic(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())


class HyperbandOracle(_AtomicState, kt.oracles.HyperbandOracle):
    pass


class BayesianOptimizationOracle(_AtomicState, kt.oracles.BayesianOptimizationOracle):
    pass


class RandomSearchOracle(_AtomicState, kt.oracles.RandomSearchOracle):
    pass


class GridSearchOracle(_AtomicState, kt.oracles.GridSearchOracle):
    pass


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
    o = t.options
    if t.algorithm == "hyperband":
        oracle = HyperbandOracle(
            max_epochs=o["max_epochs"], factor=o["factor"], hyperband_iterations=o["hyperband_iterations"], **common
        )
        oracle.max_trials = t.max_trials  # optional cap; Hyperband's brackets decide otherwise
    elif t.algorithm == "bayesian":
        oracle = BayesianOptimizationOracle(
            max_trials=t.max_trials, num_initial_points=o["num_initial_points"], alpha=o["alpha"],
            beta=o["beta"], **common,
        )
    elif t.algorithm == "random":
        oracle = RandomSearchOracle(max_trials=t.max_trials, **common)
    else:
        oracle = GridSearchOracle(max_trials=t.max_trials, **common)
    oracle.verbose = 0  # progress is ours to print
    return oracle


class RetrievalTuner(kt.engine.base_tuner.BaseTuner):
    """Runs each trial with `Trainer` and keeps the results CSV current.

    Args:
        oracle: from `make_oracle`.
        hypermodel: the search's MovielensHyperModel.
        trainer: trains trials on the search's data.
        results_csv: rewritten after every trial.
        directory, project_name, overwrite: as for keras-tuner tuners.
        baseline: the popularity baseline's objective, for the CSV's lift column.
        on_trial_done: called with each ended trial's `reporter.TrialRow`.
    """

    def __init__(self, oracle, hypermodel: MovielensHyperModel, trainer: Trainer,
                 results_csv: Path, directory: str, project_name: str, overwrite: bool = False,
                 baseline: float | None = None, on_trial_begin: Callable | None = None,
                 on_trial_done: Callable | None = None):
        self.trainer = trainer
        self.baseline = baseline
        self.results_csv = Path(results_csv)
        self.objective_name = oracle.objective.name
        self._on_trial_begin = on_trial_begin
        self._on_trial_done = on_trial_done
        self._hp_names = [hp.name for hp in hypermodel.search_space().space]
        super().__init__(oracle, hypermodel, directory=directory, project_name=project_name, overwrite=overwrite)
        self._drop_unrecorded_trials()

    def _drop_unrecorded_trials(self):
        """Forgets trials a kill left half-created.

        keras-tuner writes a new trial's trial.json before the oracle state that
        records it; a kill in between leaves a RUNNING trial that no queue will
        ever run again. It never started training, so it is removed; the oracle
        proposes that slot again.
        """
        oracle = self.oracle
        known = set(oracle.start_order) | set(oracle._retry_queue)
        for trial_id, trial in list(oracle.trials.items()):
            if trial.status == trial_module.TrialStatus.RUNNING and trial_id not in known:
                del oracle.trials[trial_id]
                shutil.rmtree(self.trainer.trial_dir(trial_id), ignore_errors=True)

    def save(self):
        # keras-tuner's own save writes in place; see _AtomicState.
        self.oracle.save()
        storage.write_json_atomic(self._get_tuner_fname(), self.get_state())

    def _populate_initial_space(self):
        # The oracle was given the whole space; keras-tuner would otherwise build
        # a model for every conditional branch just to discover it.
        pass

    def on_search_begin(self):
        # keras-tuner first writes its tuner state when the first trial ends, and
        # only reloads when that file exists: without this a kill during the
        # first trial would silently restart the search.
        self.save()

    def pre_create_trial(self):
        if self.trainer.stop_requested():
            raise SearchStopped("stop requested")

    def on_trial_begin(self, trial):
        if self._on_trial_begin:
            self._on_trial_begin(trial, self.plan(trial))

    def plan(self, trial) -> EpochPlan:
        values = trial.hyperparameters.values
        return EpochPlan(
            epochs=int(values.get("tuner/epochs", self.hypermodel.training_config(trial.hyperparameters).epochs)),
            initial_epoch=int(values.get("tuner/initial_epoch", 0)),
            parent=values.get("tuner/trial_id"),
        )

    def run_trial(self, trial, *args, **kwargs):
        config = self.hypermodel.model_config(trial.hyperparameters)
        training = self.hypermodel.training_config(trial.hyperparameters)
        try:
            record = self.trainer.run(trial.trial_id, config, self.plan(trial), training)
        except StopRequested:
            raise SearchStopped("stop requested") from None
        except TrialFailed as exc:
            raise kt.errors.FailedTrialError(str(exc)) from None
        except Exception as exc:  # an error in one trial must not end the search
            self._record_crash(trial.trial_id, exc)
            raise kt.errors.FailedTrialError(f"{type(exc).__name__}: {exc}") from None
        finally:
            # Without this, graphs of finished trials pile up (keras-tuner #395, #873).
            tf.keras.backend.clear_session()
            gc.collect()
        return {self.objective_name: record.best[self.objective_name]}

    def _record_crash(self, trial_id: str, exc: Exception) -> None:
        trial_dir = self.trainer.trial_dir(trial_id)
        trial_dir.mkdir(parents=True, exist_ok=True)
        (trial_dir / "error.txt").write_text("".join(traceback.format_exception(exc)))
        record = self.trainer.load_record(trial_id)
        if record is not None:
            record.status = "failed"
            record.reason = f"{type(exc).__name__}: {exc}"
            record.save(trial_dir)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # tells the oracle; may raise after too many failures
        self.write_results()
        if self._on_trial_done:
            self._on_trial_done(self.row(self.oracle.get_trial(trial.trial_id)))

    # -- results -------------------------------------------------------------------
    def row(self, trial) -> reporter.TrialRow:
        record: TrialRecord | None = self.trainer.load_record(trial.trial_id)
        reason = None
        if trial.status != trial_module.TrialStatus.COMPLETED:
            reason = (record.reason if record and record.reason else None) or _last_line(trial.message)
        return reporter.TrialRow(
            trial_id=trial.trial_id,
            status=trial.status,
            objective_name=self.objective_name,
            metrics=dict(record.best) if record and trial.status == "COMPLETED" else {},
            hyperparameters=dict(trial.hyperparameters.values),
            best_epoch=record.best_epoch if record else None,
            epochs_trained=record.epochs_trained if record else None,
            seconds=record.seconds if record else None,
            params=record.params if record else None,
            reason=reason,
        )

    def ended_rows(self) -> list[reporter.TrialRow]:
        ended = [t for t in self.oracle.trials.values() if t.status not in ("RUNNING", "IDLE")]
        return [self.row(t) for t in ended]

    def write_results(self) -> list[reporter.TrialRow]:
        """Rewrites the results CSV and the per-epoch history beside it."""
        rows = self.ended_rows()
        reporter.write_results(self.results_csv, rows, self._hp_names, self.baseline)
        histories = {}
        for row in rows:
            record = self.trainer.load_record(row.trial_id)
            if record is not None:
                histories[row.trial_id] = record.history
        reporter.write_history(reporter.history_path(self.results_csv), histories)
        return rows


def _last_line(message: str | None) -> str | None:
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def best_row(rows: list[reporter.TrialRow]) -> reporter.TrialRow | None:
    ranked = reporter.rank_rows(rows)
    return ranked[0][1] if ranked and ranked[0][0] is not None else None


def is_finite(value) -> bool:
    return value is not None and math.isfinite(value)
