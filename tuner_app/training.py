"""Running one trial: fit, validate, checkpoint, and keep a record on disk.

Each trial owns a folder `trial_<id>/` in the search directory with:

* `record.json`: the trial's state (status, per-epoch history, best epoch,
  checkpoints, seconds, parameters, failure reason), rewritten atomically
  after every epoch;
* `checkpoints/last-<epoch>/`: model and optimizer after the last finished
  epoch, from which an interrupted trial continues and a Hyperband
  promotion warm-starts;
* `checkpoints/best-<epoch>/`: model weights at the best validated epoch,
  the ones to export.

A checkpoint folder is complete before `record.json` names it, and the
previous one is removed only afterwards, so a kill at any moment leaves a
record that points at a complete checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tensorflow as tf

from tuner_app import faults, features, storage
from tuner_app.evaluation import metric_name
from tuner_app.hypermodel import ModelConfig, TrainingConfig, build_model
from tuner_app.space import TOP_KS

RECORD_FILE = "record.json"


def val_key(k: int, filtered: bool = False) -> str:
    """Short name of the validation top-k accuracy, as in the CSV and history."""
    return f"val_filtered_top_{k}" if filtered else f"val_top_{k}"


_KERAS_TO_SHORT = {
    f"val_{metric_name(k, filtered)}": val_key(k, filtered) for k in TOP_KS for filtered in (False, True)
}


class TrialFailed(Exception):
    """The trial cannot produce a result (NaN loss, no validated epoch, repeated deaths)."""


class StopRequested(Exception):
    """Training stopped because the user asked the search to stop."""


@dataclass
class TrialRecord:
    """What `record.json` holds for one trial."""

    trial_id: str
    config: dict[str, Any]
    target_epochs: int
    training: dict[str, Any] = field(default_factory=dict)
    initial_epoch: int = 0
    parent: str | None = None
    status: str = "running"  # running | interrupted | completed | failed
    epochs_trained: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best: dict[str, float] = field(default_factory=dict)
    last_checkpoint: str | None = None
    best_checkpoint: str | None = None
    seconds: float = 0.0
    params: int = 0
    reason: str | None = None
    deaths: int = 0  # times the process died while this trial was running
    stopped_early: bool = False  # early stopping ended it before target_epochs

    @classmethod
    def load(cls, path: Path) -> TrialRecord:
        data = storage.read_json(path, "the trial record")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, trial_dir: Path) -> None:
        storage.write_json_atomic(trial_dir / RECORD_FILE, dataclasses.asdict(self))


def validation_epochs(initial_epoch: int, epochs: int, freq: int) -> list[int]:
    """1-based epochs to validate: every `freq`-th, and always the last one."""
    chosen = [e for e in range(initial_epoch + 1, epochs + 1) if e % freq == 0]
    if epochs > initial_epoch and epochs not in chosen:
        chosen.append(epochs)
    return chosen


def count_params(model: tf.keras.Model) -> int:
    """Trainable parameters (the model must be built)."""
    return int(sum(v.shape.num_elements() for v in model.trainable_variables))


def _checkpoint(model: tf.keras.Model, with_optimizer: bool) -> tf.train.Checkpoint:
    if with_optimizer:
        return tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    return tf.train.Checkpoint(model=model)


def write_checkpoint(model: tf.keras.Model, folder: Path, with_optimizer: bool) -> None:
    """Writes a checkpoint into a new folder, complete before it gets its final name."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    _checkpoint(model, with_optimizer).write(str(staging / "ckpt"))
    faults.reached("checkpoint")
    staging.rename(folder)


def remove_stray_checkpoints(trial_dir: Path, record: TrialRecord) -> None:
    """Deletes checkpoint folders the record does not name (left by a kill mid-save)."""
    folder = trial_dir / "checkpoints"
    if not folder.is_dir():
        return
    keep = {record.last_checkpoint, record.best_checkpoint}
    for path in folder.iterdir():
        if str(path.relative_to(trial_dir)) not in keep:
            shutil.rmtree(path, ignore_errors=True)


def restore_checkpoint(model: tf.keras.Model, folder: Path, with_optimizer: bool) -> None:
    status = _checkpoint(model, with_optimizer).read(str(folder / "ckpt"))
    status.expect_partial()


class _TrialProgress(tf.keras.callbacks.Callback):
    """Records each epoch, watches for NaN, checkpoints, and honours stop requests."""

    def __init__(self, trainer: Trainer, record: TrialRecord, trial_dir: Path, started: float, patience: int = 0):
        super().__init__()
        self.trainer = trainer
        self.record = record
        self.trial_dir = trial_dir
        self.patience = patience
        # Seconds spent on this trial before this run (an interrupted trial continues).
        self._seconds_before = record.seconds
        self._started = started
        self.bad_loss: tuple[int, float] | None = None
        self.stopped_by_request = False
        self._epoch_started = time.perf_counter()

    def _validations_since_best(self, record: TrialRecord) -> int:
        objective = self.trainer.objective
        return sum(1 for e in record.history if objective in e and e["epoch"] > record.best_epoch)

    def seconds(self) -> float:
        return self._seconds_before + (time.perf_counter() - self._started)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if batch:
            faults.reached("epoch")
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.bad_loss = (self.record.epochs_trained + 1, float(loss))
            self.model.stop_training = True
        elif self.trainer.stop_requested():
            self.stopped_by_request = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.bad_loss or self.stopped_by_request:
            return  # the epoch did not finish: record nothing for it
        logs = logs or {}
        number = epoch + 1
        entry = {"epoch": number, "loss": float(logs.get("mean_loss", logs.get("loss", math.nan)))}
        entry.update({short: float(logs[key]) for key, short in _KERAS_TO_SHORT.items() if key in logs})
        entry["seconds"] = time.perf_counter() - self._epoch_started
        if not math.isfinite(entry["loss"]):
            self.bad_loss = (number, entry["loss"])
            self.model.stop_training = True
            return
        record = self.record
        record.history.append(entry)
        record.epochs_trained = number
        objective = self.trainer.objective
        old_best = record.best
        if objective in entry and math.isfinite(entry[objective]):
            if not old_best or entry[objective] > old_best[objective]:
                record.best_epoch = number
                record.best = {k: v for k, v in entry.items() if k.startswith("val_")}
            elif self.patience and self._validations_since_best(record) >= self.patience:
                record.stopped_early = True
                self.model.stop_training = True
        ckpt_dir = self.trial_dir / "checkpoints"
        stale = []
        if record.best_epoch == number:
            best_dir = ckpt_dir / f"best-{number:04d}"
            write_checkpoint(self.model, best_dir, with_optimizer=False)
            stale.append(record.best_checkpoint)
            record.best_checkpoint = str(best_dir.relative_to(self.trial_dir))
        last_dir = ckpt_dir / f"last-{number:04d}"
        write_checkpoint(self.model, last_dir, with_optimizer=True)
        stale.append(record.last_checkpoint)
        record.last_checkpoint = str(last_dir.relative_to(self.trial_dir))
        record.seconds = self.seconds()
        record.save(self.trial_dir)
        for old in stale:
            if old and old not in (record.best_checkpoint, record.last_checkpoint):
                shutil.rmtree(self.trial_dir / old, ignore_errors=True)
        self.trainer.on_epoch(record, entry)
        if self.trainer.stop_requested():
            self.stopped_by_request = True
            self.model.stop_training = True


@dataclass
class EpochPlan:
    """Which epochs a trial trains: from `initial_epoch` (0-based count done) to `epochs`."""

    epochs: int
    initial_epoch: int = 0
    parent: str | None = None  # Hyperband: the trial whose state this one continues


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
    """

    def __init__(self, data: features.SplitData, objective: str, validation_freq: int, search_dir: Path,
                 eval_batch_size: int = 4096, exclude_seen: bool = False, shuffle_seed: int | None = None,
                 max_deaths: int = 2, keep_last_checkpoint: bool = True):
        self.data = data
        self.objective = objective
        self.validation_freq = validation_freq
        self.search_dir = Path(search_dir)
        self.exclude_seen = exclude_seen
        self.shuffle_seed = shuffle_seed
        self.max_deaths = max_deaths
        self.keep_last_checkpoint = keep_last_checkpoint
        self.validation = features.make_eval_dataset(data.validation, eval_batch_size)
        self.holdout = None if data.holdout is None else features.make_eval_dataset(data.holdout, eval_batch_size)
        self._train_sets: dict[int, tf.data.Dataset] = {}
        self._stop = False
        self.epoch_listeners: list = []

    def train_dataset(self, batch_size: int) -> tf.data.Dataset:
        """The training stream for a batch size, built once and shared by trials.

        Endless: one epoch (a fresh permutation of all training rows) after
        another; `fit` takes `steps_per_epoch(batch_size)` batches an epoch.
        Keras then keeps one iterator for the whole `fit` instead of making a
        new one every epoch, which cost about 6% of an epoch here.
        """
        if batch_size not in self._train_sets:
            one_epoch = features.make_train_dataset(self.data.train, batch_size, self.shuffle_seed)
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
    def request_stop(self) -> None:
        self._stop = True

    def stop_requested(self) -> bool:
        return self._stop

    def on_epoch(self, record: TrialRecord, entry: dict[str, float]) -> None:
        for listener in self.epoch_listeners:
            listener(record, entry)

    def trial_dir(self, trial_id: str) -> Path:
        return self.search_dir / f"trial_{trial_id}"

    def load_record(self, trial_id: str) -> TrialRecord | None:
        path = self.trial_dir(trial_id) / RECORD_FILE
        return TrialRecord.load(path) if path.exists() else None

    # -- one trial -----------------------------------------------------------------
    def run(self, trial_id: str, config: ModelConfig, plan: EpochPlan,
            training: TrainingConfig | None = None) -> TrialRecord:
        """Trains one trial to `plan.epochs`, continuing it if it was interrupted.

        Returns:
            The completed record; its `best` holds the validation metrics at
            the best validated epoch.

        Raises:
            TrialFailed: the loss became NaN or infinite, no epoch could be
                validated, or the process died `max_deaths` times in this trial.
            StopRequested: the user asked to stop; the record says "interrupted"
                and the last finished epoch is checkpointed.
        """
        trial_dir = self.trial_dir(trial_id)
        trial_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        training = training or TrainingConfig(batch_size=2048, epochs=plan.epochs)
        config_dict = json.loads(json.dumps(dataclasses.asdict(config)))
        training_dict = dataclasses.asdict(training)
        record = self.load_record(trial_id)
        same = record is not None and record.config == config_dict and record.training == training_dict
        if same and record.target_epochs == plan.epochs and record.status == "completed":
            # The process died after the trial ended but before keras-tuner saved that:
            # its result stands; training it again would count it twice.
            return record
        if same and record.status == "failed":
            raise TrialFailed(record.reason or "failed before")
        if not same or record.status in ("completed", "failed"):
            record = TrialRecord(trial_id, config_dict, plan.epochs, training_dict, plan.initial_epoch, plan.parent)
        elif record.status == "running":
            # The process died while this trial ran (a clean stop says "interrupted").
            record.deaths += 1
            if record.deaths >= self.max_deaths:
                record.status = "failed"
                times = "once" if record.deaths == 1 else f"{record.deaths} times"
                record.reason = (
                    f"the process died {times} while this trial was running (out of memory?); "
                    "not retrying it (see --max-trial-deaths)"
                )
                record.save(trial_dir)
                raise TrialFailed(record.reason)
        record.status = "running"
        record.target_epochs = plan.epochs
        record.save(trial_dir)
        remove_stray_checkpoints(trial_dir, record)

        model = self.build(config)
        record.params = count_params(model)
        start_epoch = self._restore(model, record, plan)
        progress = _TrialProgress(self, record, trial_dir, started, training.early_stopping_patience)
        if start_epoch < plan.epochs and not record.stopped_early:
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
        record.seconds = progress.seconds()
        if progress.bad_loss:
            epoch, value = progress.bad_loss
            return self._fail(record, trial_dir, f"loss became {value} at epoch {epoch}")
        if progress.stopped_by_request:
            record.status = "interrupted"
            record.save(trial_dir)
            raise StopRequested()
        if record.best_epoch is None:
            return self._fail(record, trial_dir, f"no validated epoch gave a finite {self.objective}")
        record.status = "completed"
        if not self.keep_last_checkpoint and record.last_checkpoint not in (None, record.best_checkpoint):
            stale, record.last_checkpoint = record.last_checkpoint, None
            record.save(trial_dir)
            shutil.rmtree(trial_dir / stale, ignore_errors=True)
        record.save(trial_dir)
        return record

    def _restore(self, model: tf.keras.Model, record: TrialRecord, plan: EpochPlan) -> int:
        """Loads the state the trial starts from; returns the number of epochs already done."""
        if record.last_checkpoint:
            restore_checkpoint(model, self.trial_dir(record.trial_id) / record.last_checkpoint, True)
            return record.epochs_trained
        if plan.parent is not None:
            parent = self.load_record(plan.parent)
            if parent is None or not parent.last_checkpoint:
                raise TrialFailed(f"Hyperband parent trial {plan.parent} left no checkpoint to continue from")
            restore_checkpoint(model, self.trial_dir(plan.parent) / parent.last_checkpoint, True)
            record.epochs_trained = plan.initial_epoch
            return plan.initial_epoch
        return 0

    def evaluate_best(self, trial_id: str, dataset: tf.data.Dataset) -> dict[str, float]:
        """The short-named metrics of a trial's best checkpoint on `dataset`."""
        record = self.load_record(trial_id)
        if record is None or not record.best_checkpoint:
            raise TrialFailed(f"trial {trial_id} has no best checkpoint")
        model = self.build(ModelConfig.from_dict(record.config))
        restore_checkpoint(model, self.trial_dir(trial_id) / record.best_checkpoint, with_optimizer=False)
        logs = model.evaluate(dataset, return_dict=True, verbose=0)
        return {_KERAS_TO_SHORT[f"val_{k}"]: float(v) for k, v in logs.items() if f"val_{k}" in _KERAS_TO_SHORT}

    def _fail(self, record: TrialRecord, trial_dir: Path, reason: str) -> TrialRecord:
        record.status = "failed"
        record.reason = reason
        record.save(trial_dir)
        raise TrialFailed(reason)
