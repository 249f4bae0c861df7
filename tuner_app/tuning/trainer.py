"""Running one trial: fit, validate, checkpoint, and keep its record (`store.records`) on disk.

Each trial owns a folder `trial_<id>/` (`store.layout`) holding its record,
rewritten atomically after every epoch (`tuning.callbacks`), and its
checkpoints (`tuning.checkpoints`). A trial that was interrupted continues from
its last checkpoint; one during which the process died too often is failed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import NoReturn

import tensorflow as tf

from tuner_app.baselines.scoring import coverage
from tuner_app.errors import StopRequested, TrialEndedElsewhere, TrialFailed, TunerAppError
from tuner_app.model import pipelines
from tuner_app.model.build import build_model
from tuner_app.model.features import SplitData
from tuner_app.model.metrics import short_metrics, top_columns
from tuner_app.space.config import ModelConfig, TrainingConfig
from tuner_app.space.names import TOP_KS
from tuner_app.space.spec import TrainingSpec
from tuner_app.store import layout
from tuner_app.store.records import MAX_DEATHS, TrialRecord
from tuner_app.store.states import TrialState
from tuner_app.tuning.callbacks import TrialProgress
from tuner_app.tuning.checkpoints import remove_stray_checkpoints, restore_checkpoint
from tuner_app.tuning.signals import StopToken


def validation_epochs(initial_epoch: int, epochs: int, freq: int) -> list[int]:
    """1-based epochs to validate: every `freq`-th, and always the last one."""
    chosen = [e for e in range(initial_epoch + 1, epochs + 1) if e % freq == 0]
    if epochs > initial_epoch and epochs not in chosen:
        chosen.append(epochs)
    return chosen


def count_params(model: tf.keras.Model) -> int:
    """Trainable parameters (the model must be built)."""
    return int(sum(v.shape.num_elements() for v in model.trainable_variables))


@dataclass
class EpochPlan:
    """Which epochs a trial trains: from `initial_epoch` (0-based count done) to `epochs`."""

    epochs: int
    initial_epoch: int = 0
    parent: str | None = None  # Hyperband: the trial whose state this one continues


class Start(Enum):
    """How a trial starts, given the record a previous run left (`resume_decision`)."""

    FRESH = "fresh"  # no record, another configuration, or a finished record of another plan
    CONTINUE = "continue"  # stopped cleanly: from its last finished epoch
    DIED = "died"  # the process died while it ran: from its last finished epoch, one death more
    DIED_TOO_OFTEN = "died too often"  # that death was the last one allowed: the trial fails
    DONE = "done"  # it had completed this very plan: its result stands
    FAILED = "failed"  # it had failed: it fails again, with the same reason


def resume_decision(saved: TrialRecord | None, config: ModelConfig, training: TrainingConfig, target_epochs: int,
                    max_deaths: int) -> Start:
    """How a trial starts given the record a previous run of it left (None: none). Pure: reads, changes nothing.

    Configurations are compared as configs, so that a record written before a field existed matches its
    default.
    """
    if saved is None or ModelConfig.from_dict(saved.config) != config or TrainingConfig(**saved.training) != training:
        return Start.FRESH
    if saved.status == TrialState.COMPLETED:
        return Start.DONE if saved.target_epochs == target_epochs else Start.FRESH
    if saved.status == TrialState.FAILED:
        return Start.FAILED
    if saved.status == TrialState.RUNNING:
        return Start.DIED_TOO_OFTEN if saved.deaths + 1 >= max_deaths else Start.DIED
    return Start.CONTINUE


class Trainer:
    """Trains trials of one search on data prepared once.

    Args:
        data: the search's vocabularies and encoded splits.
        objective: the short validation metric to maximise, e.g. "val_top_100".
        validation_freq: validate every this many epochs (and at a trial's last).
        search_dir: folder holding the `trial_<id>` folders.
        eval_batch_size: validation batch size.
        exclude_seen: also report the seen-filtered metrics.
        shuffle_seed: seed of the per-epoch shuffling (None: a fresh order each run).
        max_deaths: a trial during which the process died this many times is failed.
        keep_last_checkpoint: keep a finished trial's last-epoch state (model and
            optimizer); Hyperband continues promoted trials from it. Otherwise
            only the best epoch's weights are kept.
        stop: the search's stop request (`tuning.signals.StopToken`), read after each step.
    """

    def __init__(self, data: SplitData, objective: str, validation_freq: int, search_dir: Path,
                 eval_batch_size: int = TrainingSpec.eval_batch_size, exclude_seen: bool = False,
                 shuffle_seed: int | None = None, max_deaths: int = MAX_DEATHS, keep_last_checkpoint: bool = True,
                 stop: StopToken | None = None):
        self.data = data
        self.objective = objective
        self.validation_freq = validation_freq
        self.search_dir = Path(search_dir)
        self.exclude_seen = exclude_seen
        self.shuffle_seed = shuffle_seed
        self.max_deaths = max_deaths
        self.keep_last_checkpoint = keep_last_checkpoint
        self.validation = pipelines.make_eval_dataset(data.validation, eval_batch_size)
        self.holdout = None if data.holdout is None else pipelines.make_eval_dataset(data.holdout, eval_batch_size)
        self.validation_all = (None if data.validation_all is None
                               else pipelines.make_eval_dataset(data.validation_all, eval_batch_size))
        self._train_sets: dict[int, tf.data.Dataset] = {}
        self.stop = stop or StopToken()
        self.epoch_listeners: list = []
        self.notice_listeners: list = []  # called with a sentence when a trial cannot go as planned
        self.restart_listeners: list = []  # called with a trial id when it trains again from scratch
        #: Asked after each epoch; one that answers True ends the trial there (the time budget is spent).
        self.cut_checks: list[Callable[[], bool]] = []

    def train_dataset(self, batch_size: int) -> tf.data.Dataset:
        """The training stream for a batch size, built once and shared by trials.

        Endless: one epoch (a fresh permutation of all training rows) after
        another; `fit` takes `steps_per_epoch(batch_size)` batches an epoch.
        Keras then keeps one iterator for the whole `fit` instead of making a
        new one every epoch, which cost a few per cent of an epoch.
        """
        if batch_size not in self._train_sets:
            one_epoch = pipelines.make_train_dataset(self.data.train, batch_size, self.shuffle_seed)
            self._train_sets[batch_size] = one_epoch.repeat()
        return self._train_sets[batch_size]

    def steps_per_epoch(self, batch_size: int) -> int:
        """Batches in one epoch of `train_dataset(batch_size)` (the last one may be short)."""
        return math.ceil(len(self.data.train) / batch_size)

    def build(self, config: ModelConfig):
        return build_model(
            self.data.vocab, config, title_frequency=self.data.title_frequency,
            seen=self.data.seen if self.exclude_seen else None,
        )

    # -- stopping ------------------------------------------------------------------
    def cut_due(self) -> bool:
        return any(check() for check in self.cut_checks)

    def on_epoch(self, record: TrialRecord, entry: dict[str, float]) -> None:
        for listener in self.epoch_listeners:
            listener(record, entry)

    def trial_dir(self, trial_id: str) -> Path:
        return layout.trial_dir(self.search_dir, trial_id)

    def load_record(self, trial_id: str) -> TrialRecord | None:
        return TrialRecord.read(self.trial_dir(trial_id))

    # -- one trial -----------------------------------------------------------------
    def run(self, trial_id: str, config: ModelConfig, plan: EpochPlan, training: TrainingConfig) -> TrialRecord:
        """Trains one trial to `plan.epochs`, continuing it if it was interrupted.

        Returns:
            The completed record; its `best` holds the validation metrics at
            the best validated epoch.

        Raises:
            TrialFailed: the loss became NaN or infinite, no epoch could be
                validated, or the process died `max_deaths` times in this trial.
            StopRequested: the user asked to stop; the record says "interrupted"
                and the last finished epoch is checkpointed.
            TrialEndedElsewhere: another process completed the trial meanwhile.
        """
        trial_dir = self.trial_dir(trial_id)
        trial_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        config_dict = json.loads(json.dumps(dataclasses.asdict(config)))
        training_dict = dataclasses.asdict(training)
        saved = self.load_record(trial_id)
        start = resume_decision(saved, config, training, plan.epochs, self.max_deaths)
        if start is Start.DONE:
            # The process died after the trial ended but before keras-tuner saved that:
            # its result stands; training it again would count it twice.
            return saved
        if start is Start.FAILED:
            raise TrialFailed(saved.reason or "failed before")
        if start is Start.FRESH:
            record = TrialRecord(trial_id, config_dict, plan.epochs, training_dict, plan.initial_epoch, plan.parent)
        else:
            record = saved
        if start in (Start.DIED, Start.DIED_TOO_OFTEN):
            record.deaths += 1  # the process died while this trial ran (a clean stop says "interrupted")
        if start is Start.DIED_TOO_OFTEN:
            times = "once" if record.deaths == 1 else f"{record.deaths} times"
            self._fail(record, trial_dir, f"the process died {times} while this trial was running (out of "
                                          "memory?); not retrying it (see --max-trial-deaths)")
        record.status = TrialState.RUNNING
        record.target_epochs = plan.epochs
        record.save(trial_dir)
        remove_stray_checkpoints(trial_dir, record)

        model = self.build(config)
        record.params = count_params(model)
        start_epoch = self._restore(model, record, plan)
        if start_epoch is None:
            tf.keras.backend.clear_session()
            model, start_epoch = self.build(config), 0
        progress = TrialProgress(self, record, trial_dir, started, training.early_stopping_patience)
        if start_epoch < plan.epochs and not record.stopped_early:
            try:
                model.fit(
                    self.train_dataset(training.batch_size),
                    steps_per_epoch=self.steps_per_epoch(training.batch_size),
                    validation_data=self.validation,
                    validation_freq=validation_epochs(start_epoch, plan.epochs, self.validation_freq),
                    initial_epoch=start_epoch,
                    epochs=plan.epochs,
                    callbacks=[progress],
                    verbose=0,
                )
            except (StopRequested, TunerAppError):
                # Stopped from outside the trial (a stop while reporting, a full disk, a lost
                # chief): it continues from its last finished epoch, not counted as a death.
                self._interrupt(record, trial_dir)
                raise
        if progress.ended_elsewhere:
            raise TrialEndedElsewhere(trial_id)
        record.seconds = progress.seconds()
        if progress.bad_loss:
            epoch, value = progress.bad_loss
            self._fail(record, trial_dir, f"loss became {value} at epoch {epoch}")
        if progress.stopped_by_request:
            record.status = TrialState.INTERRUPTED
            record.save(trial_dir)
            raise StopRequested()
        if record.best_epoch is None:
            self._fail(record, trial_dir, f"no validated epoch gave a finite {self.objective}")
        record.status = TrialState.COMPLETED
        if not self.keep_last_checkpoint and record.last_checkpoint not in (None, record.best_checkpoint):
            stale, record.last_checkpoint = record.last_checkpoint, None
            record.save(trial_dir)
            shutil.rmtree(trial_dir / stale, ignore_errors=True)
        record.save(trial_dir)
        return record

    def _restore(self, model: tf.keras.Model, record: TrialRecord, plan: EpochPlan) -> int | None:
        """Loads the state the trial starts from; returns the number of epochs already done.

        A checkpoint that cannot be read (damaged, or deleted) is not the trial's fault:
        the trial trains again from scratch, and says so; None then says that `model`,
        which a failed read may have half-restored, must be built anew.
        """
        trial = record.trial_id
        if record.last_checkpoint:
            folder = self.trial_dir(trial) / record.last_checkpoint
            if self._restored(model, folder, f"trial {trial}: its checkpoint {folder}"):
                return record.epochs_trained
            record.history, record.best, record.best_epoch, record.epochs_trained = [], {}, None, 0
            record.last_checkpoint = record.best_checkpoint = None
            record.stopped_early, record.seconds = False, 0.0
            self.notify_restart(trial)
            record.save(self.trial_dir(trial))
            return None
        if plan.parent is not None:
            parent = self.load_record(plan.parent)
            if parent is not None and parent.last_checkpoint:
                folder = self.trial_dir(plan.parent) / parent.last_checkpoint
                if self._restored(model, folder, f"trial {trial}: its Hyperband parent's checkpoint {folder}"):
                    record.epochs_trained = plan.initial_epoch
                    return plan.initial_epoch
                return None
            else:  # the parent ran on another machine, or its folder is gone
                self.notify(f"trial {trial}: Hyperband parent trial {plan.parent} left no checkpoint here; "
                            f"training it from scratch to epoch {plan.epochs}")
        return 0

    def _restored(self, model: tf.keras.Model, folder: Path, what: str) -> bool:
        try:
            restore_checkpoint(model, folder, with_optimizer=True)
        except Exception as exc:  # noqa: BLE001 (TensorFlow's reader raises IndexError, OpError, ValueError...)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.notify(f"{what} cannot be read ({first[:120]}); training the trial again from scratch")
            return False
        return True

    def notify(self, text: str) -> None:
        for listener in self.notice_listeners:
            listener(text)

    def notify_restart(self, trial_id: str) -> None:
        for listener in self.restart_listeners:
            listener(trial_id)

    def best_model(self, trial_id: str) -> tf.keras.Model:
        """A trial's model with the weights of its best validated epoch."""
        record = self.load_record(trial_id)
        if record is None or not record.best_checkpoint:
            raise TrialFailed(f"trial {trial_id} has no best checkpoint")
        model = self.build(ModelConfig.from_dict(record.config))
        restore_checkpoint(model, self.trial_dir(trial_id) / record.best_checkpoint, with_optimizer=False)
        return model

    def evaluate_best(self, trial_id: str, dataset: tf.data.Dataset) -> dict[str, float]:
        """The short-named metrics of a trial's best checkpoint on `dataset`."""
        logs = self.best_model(trial_id).evaluate(dataset, return_dict=True, verbose=0)
        return short_metrics(logs, validation=False)

    def coverage_of_best(self, trial_id: str) -> dict[str, float]:
        """Catalogue coverage@k of a trial's best checkpoint over the validation rows' queries."""
        top = top_columns(self.best_model(trial_id), self.validation, max(TOP_KS))
        return coverage(top, self.data.vocab.num_titles)

    @staticmethod
    def _interrupt(record: TrialRecord, trial_dir: Path) -> None:
        record.status = TrialState.INTERRUPTED
        try:
            record.save(trial_dir)
        except TunerAppError:  # a full disk: free what the record does not name, and try again
            remove_stray_checkpoints(trial_dir, record)
            try:
                record.save(trial_dir)
            except TunerAppError:  # still full: the record stays "running", and counts as a death
                pass

    @staticmethod
    def _fail(record: TrialRecord, trial_dir: Path, reason: str) -> NoReturn:
        record.status = TrialState.FAILED
        record.reason = reason
        record.save(trial_dir)
        raise TrialFailed(reason)
