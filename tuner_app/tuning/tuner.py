"""The tuner: keras-tuner's oracles driving our own trial loop.

keras-tuner 1.4 builds models with Keras 3, and TFRS needs Keras 2
(`tf_keras`), so its default `Tuner.run_trial` rejects our model. Its public
extension point is used instead: `RetrievalTuner` is a `BaseTuner` whose
`run_trial` builds the model through `MovielensHyperModel`, trains it with
`tuning.trainer.Trainer` and returns the objective at the best validated epoch.
The oracles (Hyperband, Bayesian optimization, random and grid search) are
keras-tuner's own, with the whole space declared up front.
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
import resource
import shutil
import traceback
from collections.abc import Callable

import keras_tuner as kt
import tensorflow as tf
from keras_tuner.engine import trial as trial_module

from tuner_app.distributed.roles import CHIEF_ID, Role
from tuner_app.errors import StopRequested, TrialEndedElsewhere, TrialFailed, TunerAppError
from tuner_app.report import trials as trial_rows
from tuner_app.report.rows import TrialRow
from tuner_app.report.trials import FAILURE_PREFIX
from tuner_app.store import atomic
from tuner_app.store.layout import ERROR_FILE, SearchPaths
from tuner_app.store.records import TrialRecord
from tuner_app.store.states import TrialState
from tuner_app.tuning import kt_internals
from tuner_app.tuning.budget import TimeBudget
from tuner_app.tuning.hypermodel import MovielensHyperModel
from tuner_app.tuning.trainer import EpochPlan, Trainer


class SearchStopped(kt.errors.FatalError):
    """Raised through keras-tuner's loop (which swallows other errors) when the user stops."""


class BudgetSpent(kt.errors.FatalError):
    """Raised through keras-tuner's loop when the search's time budget is spent: no trial starts."""


class SearchAborted(kt.errors.FatalError):
    """Carries one of the project's errors through keras-tuner's loop: `error` is re-raised."""

    def __init__(self, error: TunerAppError):
        super().__init__(str(error))
        self.error = error


class RetrievalTuner(kt_internals.TunerHooks, kt.engine.base_tuner.BaseTuner):
    """Runs each trial with `Trainer` and keeps the results CSV current.

    Args:
        oracle: from `tuning.oracles.make_oracle`.
        hypermodel: the search's MovielensHyperModel.
        trainer: trains trials on the search's data.
        paths: the search's files; the results CSV is rewritten after every trial.
        baselines: each baseline's objective on the validation rows, for the CSV's lift columns.
        on_trial_begin: called with each trial and its `EpochPlan` before it trains.
        on_trial_done: called with each ended trial's `report.rows.TrialRow`.
        budget: the search's time budget (None on a worker, whose chief decides; or no limit).
        role: this process's part in a distributed search (None: a local search).

    The search connects it to the trainer (`tuning.setup.build_tuner`): its `report_epoch`,
    `forget_epochs` and `cut_due` are the trainer's listeners.
    """

    def __init__(self, oracle, hypermodel: MovielensHyperModel, trainer: Trainer, paths: SearchPaths,
                 baselines: dict[str, float] | None = None, on_trial_begin: Callable | None = None,
                 on_trial_done: Callable | None = None, budget: TimeBudget | None = None,
                 role: Role | None = None):
        self.trainer = trainer
        self.budget = budget
        self._chief_cut = False
        self.baselines = baselines or {}
        self.paths = paths
        self.objective_name = oracle.objective.name
        self._on_trial_begin = on_trial_begin
        self.begun: list[str] = []  # trials this process started
        self._on_trial_done = on_trial_done
        #: Called with a trial id; the context manager it returns is held while the trial runs
        #: (a distributed worker's heartbeat, `distributed.worker.Heartbeat`).
        self.trial_scope: Callable[[str], contextlib.AbstractContextManager] = lambda trial_id: contextlib.nullcontext()
        self._hp_names = [hp.name for hp in hypermodel.search_space().space]
        tuner_id = "tuner0" if role is None else CHIEF_ID if not role.is_worker else None
        if tuner_id is not None and paths.has_tuner_state():
            # keras-tuner reloads a search only when this process's own tuner file exists
            # ("tuner0.json" here, "chief.json" as a chief): a search begun the other way, or
            # whose file was deleted, would otherwise start afresh over its own trials.
            tuner_file = paths.state_dir / f"{tuner_id}.json"
            if not tuner_file.exists():
                atomic.write_json_atomic(tuner_file, {})
        with contextlib.redirect_stdout(io.StringIO()):  # keras-tuner prints "Reloading Tuner from ..."
            super().__init__(oracle, hypermodel, directory=str(paths.results_dir), project_name=paths.name)
        if not kt_internals.is_worker(self):
            self._drop_unrecorded_trials()

    def _drop_unrecorded_trials(self):
        """Forgets trials a kill left half-created.

        keras-tuner writes a new trial's trial.json before the oracle state that
        records it; a kill in between leaves a RUNNING trial that no queue will
        ever run again. It never started training, so it is removed; the oracle
        proposes that slot again.
        """
        oracle = self.oracle
        known = set(oracle.start_order) | set(kt_internals.retry_queue(oracle))
        for trial_id, trial in list(oracle.trials.items()):
            if trial.status == trial_module.TrialStatus.RUNNING and trial_id not in known:
                del oracle.trials[trial_id]
                shutil.rmtree(self.trainer.trial_dir(trial_id), ignore_errors=True)

    def save(self):
        # keras-tuner's own save writes in place; see _AtomicState. Workers hold
        # no oracle state: theirs lives with the chief.
        if not kt_internals.is_worker(self):
            self.oracle.save()
        atomic.write_json_atomic(kt_internals.tuner_state_path(self), self.get_state())

    def on_search_begin(self):
        # keras-tuner first writes its tuner state when the first trial ends, and
        # only reloads when that file exists: without this a kill during the
        # first trial would silently restart the search.
        self.save()

    def pre_create_trial(self):
        if self.trainer.stop.requested():
            raise SearchStopped("stop requested")
        if self.budget is not None and self.budget.exhausted():
            raise BudgetSpent("time budget spent")

    def on_trial_begin(self, trial):
        self.begun.append(trial.trial_id)
        self._chief_cut = False
        if self._on_trial_begin:
            self._on_trial_begin(trial, self.plan(trial))

    def plan(self, trial) -> EpochPlan:
        values = trial.hyperparameters.values
        return EpochPlan(
            epochs=int(values.get("tuner/epochs", self.hypermodel.training_config(trial.hyperparameters).epochs)),
            initial_epoch=int(values.get("tuner/initial_epoch", 0)),
            parent=values.get("tuner/trial_id"),
        )

    def run_trial_in_scope(self, trial, *fit_args, **fit_kwargs):
        """Runs one trial inside `trial_scope` (keras-tuner's loop calls it: `kt_internals.TunerHooks`)."""
        with self.trial_scope(trial.trial_id):
            self.run_trial(trial, *fit_args, **fit_kwargs)

    def run_trial(self, trial, *args, **kwargs):
        """Trains the trial and reports it to the oracle (see `report.trials`); returns nothing.

        The objective reaches the oracle with every validated epoch, so keras-tuner
        scores the trial by its best epoch itself.
        """
        config = self.hypermodel.model_config(trial.hyperparameters)
        training = self.hypermodel.training_config(trial.hyperparameters)
        try:
            try:
                record = self.trainer.run(trial.trial_id, config, self.plan(trial), training)
            except (StopRequested, TunerAppError):
                raise
            except TrialEndedElsewhere:
                return  # its first end stands; keras-tuner's end of it changes nothing (distributed.gate)
            except TrialFailed as exc:
                self._report_end(trial.trial_id, failure=str(exc))
                raise kt.errors.FailedTrialError(str(exc)) from None
            except Exception as exc:  # noqa: BLE001 (an error in one trial must not end the search)
                reason = f"{type(exc).__name__}: {exc}"
                self._record_crash(trial.trial_id, exc, reason)
                self._report_end(trial.trial_id, failure=reason)
                raise kt.errors.FailedTrialError(reason) from None
            finally:
                # Without this, graphs of finished trials pile up (keras-tuner #395, #873).
                tf.keras.backend.clear_session()
                gc.collect()
            self._report_end(trial.trial_id, record=record)
        except StopRequested:
            raise SearchStopped("stop requested") from None
        except TunerAppError as exc:
            # Not the trial's doing (a full disk, a lost chief): the search stops, and the
            # trial continues from its last finished epoch when it resumes.
            raise SearchAborted(exc) from None

    # -- reporting to the oracle -----------------------------------------------------
    def forget_epochs(self, trial_id: str) -> None:
        """A trial that trains again from scratch: its earlier epochs' figures must not count."""
        if not kt_internals.is_worker(self):  # a worker's oracle is the chief's: its trial rows keep the last
            kt_internals.forget_metrics(self.oracle.trials[trial_id])

    def report_epoch(self, record: TrialRecord, entry: dict[str, float]) -> None:
        """Sends a validated epoch's figures; epochs without validation carry no objective.

        A chief whose time budget is spent answers STOPPED (`distributed.gate`): the trial
        then ends at this epoch (`cut_due`).
        """
        if self.objective_name in entry:
            answer = self.oracle.update_trial(record.trial_id, _epoch_metrics(entry), step=entry["epoch"])
            self._chief_cut = getattr(answer, "status", None) == trial_module.TrialStatus.STOPPED

    def cut_due(self) -> bool:
        """Whether the running trial is to end at this epoch: this search's budget, or the chief's, is spent."""
        return (self.budget is not None and self.budget.exhausted()) or self._chief_cut

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
            **({"cut_by_budget": 1.0} if record is not None and record.cut_by_budget else {}),
        }
        if failure is None:
            summary.update({self.objective_name: record.best[self.objective_name], "best_epoch": record.best_epoch})
            self.oracle.update_trial(trial_id, summary, step=record.best_epoch)
        else:
            summary.update({self.objective_name: math.nan, f"{FAILURE_PREFIX}{' '.join(failure.split())}": 1.0})
            self.oracle.update_trial(trial_id, summary, step=record.epochs_trained if record else 0)

    def _record_crash(self, trial_id: str, exc: Exception, reason: str) -> None:
        trial_dir = self.trainer.trial_dir(trial_id)
        atomic.write_text_atomic(trial_dir / ERROR_FILE, "".join(traceback.format_exception(exc)))
        record = self.trainer.load_record(trial_id)
        if record is not None:
            record.status = TrialState.FAILED
            record.reason = reason
            record.save(trial_dir)

    def on_trial_end(self, trial):
        if self.budget is not None:
            self.budget.save()
        super().on_trial_end(trial)  # tells the oracle; may raise after too many failures
        self.write_results()
        if self._on_trial_done:
            done = self.oracle.get_trial(trial.trial_id)
            self._on_trial_done(trial_rows.trial_row(done, self.objective_name, self.oracle))

    # -- results -------------------------------------------------------------------
    def write_results(self) -> list[TrialRow]:
        """Rewrites the results CSV and the per-epoch history beside it (not on workers)."""
        if kt_internals.is_worker(self):
            return []
        return trial_rows.write_search_results(self.oracle, self.objective_name, self.paths, self._hp_names,
                                               self.baselines, len(self.trainer.data.validation))


def _epoch_metrics(entry: dict[str, float]) -> dict[str, float]:
    metrics = {k: v for k, v in entry.items() if k not in ("epoch", "seconds")}
    metrics["epoch_seconds"] = entry.get("seconds", 0.0)
    return metrics
