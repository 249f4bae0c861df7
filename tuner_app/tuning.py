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
import resource
import shutil
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import keras_tuner as kt
import tensorflow as tf
from keras_tuner.src import config as kt_config
from keras_tuner.src.engine import trial as trial_module

from tuner_app import reporter, results, storage
from tuner_app.hypermodel import MovielensHyperModel
from tuner_app.oracles import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    RandomSearchOracle,
)
from tuner_app.space import SearchSpec
from tuner_app.results import FAILURE_PREFIX
from tuner_app.training import EpochPlan, StopRequested, Trainer, TrialFailed, TrialRecord


# keras-tuner prints the traceback of every failed trial when DEBUG is set (its
# default); the reason goes to the CSV and, for crashes, to trial_<id>/error.txt.
kt_config.DEBUG = False
# Trials report each validated epoch to the oracle (keras-tuner's own channel, which
# also carries them from workers to the chief); keras-tuner then warns that a
# run_trial that reported should not also return: it does not.
warnings.filterwarnings("ignore", message="The use case of calling", category=DeprecationWarning)


class SearchStopped(kt.errors.FatalError):
    """Raised through keras-tuner's loop (which swallows other errors) when the user stops."""


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
        trainer.epoch_listeners.append(self._report_epoch)
        if not self._is_worker():
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
        # keras-tuner's own save writes in place; see _AtomicState. Workers hold
        # no oracle state: theirs lives with the chief.
        if not self._is_worker():
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
        """Trains the trial and reports it to the oracle (see `results`); returns nothing.

        The objective reaches the oracle with every validated epoch, so keras-tuner
        scores the trial by its best epoch itself.
        """
        config = self.hypermodel.model_config(trial.hyperparameters)
        training = self.hypermodel.training_config(trial.hyperparameters)
        try:
            record = self.trainer.run(trial.trial_id, config, self.plan(trial), training)
        except StopRequested:
            raise SearchStopped("stop requested") from None
        except TrialFailed as exc:
            self._report_end(trial.trial_id, failure=str(exc))
            raise kt.errors.FailedTrialError(str(exc)) from None
        except Exception as exc:  # an error in one trial must not end the search
            reason = f"{type(exc).__name__}: {exc}"
            self._record_crash(trial.trial_id, exc, reason)
            self._report_end(trial.trial_id, failure=reason)
            raise kt.errors.FailedTrialError(reason) from None
        finally:
            # Without this, graphs of finished trials pile up (keras-tuner #395, #873).
            tf.keras.backend.clear_session()
            gc.collect()
        self._report_end(trial.trial_id, record=record)

    # -- reporting to the oracle -----------------------------------------------------
    def _report_epoch(self, record: TrialRecord, entry: dict[str, float]) -> None:
        """Sends a validated epoch's figures; epochs without validation carry no objective."""
        if self.objective_name in entry:
            self.oracle.update_trial(record.trial_id, _epoch_metrics(entry), step=entry["epoch"])

    def _report_end(self, trial_id: str, record: TrialRecord | None = None, failure: str | None = None) -> None:
        record = record or self.trainer.load_record(trial_id)
        if record is not None:
            # Epochs a kill kept from reaching the oracle (the record is saved first).
            reported = self.oracle.get_trial(trial_id).metrics
            seen = {obs.step for obs in reported.get_history(self.objective_name)} \
                if reported.exists(self.objective_name) else set()
            for entry in record.history:
                if self.objective_name in entry and entry["epoch"] not in seen:
                    self.oracle.update_trial(trial_id, _epoch_metrics(entry), step=entry["epoch"])
        summary = {
            "seconds": record.seconds if record else 0.0,
            "params": record.params if record else 0,
            "epochs_trained": record.epochs_trained if record else 0,
            # The process's peak so far: if trials leaked memory it would climb trial after trial.
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        if failure is None:
            summary.update({self.objective_name: record.best[self.objective_name], "best_epoch": record.best_epoch})
            self.oracle.update_trial(trial_id, summary, step=record.best_epoch)
        else:
            summary.update({self.objective_name: math.nan, f"{FAILURE_PREFIX}{' '.join(failure.split())}": 1.0})
            self.oracle.update_trial(trial_id, summary, step=record.epochs_trained if record else 0)

    def _record_crash(self, trial_id: str, exc: Exception, reason: str) -> None:
        trial_dir = self.trainer.trial_dir(trial_id)
        trial_dir.mkdir(parents=True, exist_ok=True)
        (trial_dir / "error.txt").write_text("".join(traceback.format_exception(exc)))
        record = self.trainer.load_record(trial_id)
        if record is not None:
            record.status = "failed"
            record.reason = reason
            record.save(trial_dir)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # tells the oracle; may raise after too many failures
        self.write_results()
        if self._on_trial_done:
            done = self.oracle.get_trial(trial.trial_id)
            self._on_trial_done(results.trial_row(done, self.objective_name))

    # -- results -------------------------------------------------------------------
    def write_results(self) -> list[reporter.TrialRow]:
        """Rewrites the results CSV and the per-epoch history beside it (not on workers)."""
        if self._is_worker():
            return []
        workers = getattr(self.oracle, "trial_workers", {})
        return results.write_search_results(self.oracle.trials.values(), self.objective_name, self.results_csv,
                                            self._hp_names, self.baseline, workers)


def _epoch_metrics(entry: dict[str, float]) -> dict[str, float]:
    metrics = {k: v for k, v in entry.items() if k not in ("epoch", "seconds")}
    metrics["epoch_seconds"] = entry.get("seconds", 0.0)
    return metrics


def best_row(rows: list[reporter.TrialRow]) -> reporter.TrialRow | None:
    ranked = reporter.rank_rows(rows)
    return ranked[0][1] if ranked and ranked[0][0] is not None else None

