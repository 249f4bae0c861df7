"""What happens at each epoch of a trial: record it, watch for NaN, checkpoint, stop when asked."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import tensorflow as tf

from tuner_app import faults
from tuner_app.model.metrics import short_metrics
from tuner_app.store.records import TrialRecord
from tuner_app.store.states import TrialState
from tuner_app.tuning.checkpoints import write_checkpoint

if TYPE_CHECKING:
    from tuner_app.tuning.trainer import Trainer


class TrialProgress(tf.keras.callbacks.Callback):
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
        self.ended_elsewhere = False
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
        elif self.trainer.stop.requested():
            self.stopped_by_request = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.bad_loss or self.stopped_by_request:
            return  # the epoch did not finish: record nothing for it
        saved = self.trainer.load_record(self.record.trial_id)
        if saved is not None and saved.status == TrialState.COMPLETED:
            # Another process finished this trial meanwhile (a distributed trial handed on from a
            # worker that froze): its result stands; this run writes nothing over it.
            self.ended_elsewhere = True
            self.model.stop_training = True
            return
        logs = logs or {}
        number = epoch + 1
        entry = {"epoch": number, "loss": float(logs.get("mean_loss", logs.get("loss", math.nan)))}
        entry.update(short_metrics(logs))
        entry["seconds"] = time.perf_counter() - self._epoch_started
        if not math.isfinite(entry["loss"]):
            self.bad_loss = (number, entry["loss"])
            self.model.stop_training = True
            return
        record = self.record
        objective = self.trainer.objective
        improved = objective in entry and math.isfinite(entry[objective]) and (
            not record.best or entry[objective] > record.best[objective])
        # The checkpoints first: if one cannot be written (a full disk), the record has not
        # taken this epoch, and the trial continues from the previous one.
        best_checkpoint = write_checkpoint(self.model, self.trial_dir, "best", number, with_optimizer=False) \
            if improved else None
        last_checkpoint = write_checkpoint(self.model, self.trial_dir, "last", number, with_optimizer=True)
        record.history.append(entry)
        record.epochs_trained = number
        stale = [record.last_checkpoint]
        if improved:
            stale.append(record.best_checkpoint)
            record.best_epoch, record.best_checkpoint = number, best_checkpoint
            record.best = {k: v for k, v in entry.items() if k.startswith("val_")}
        elif objective in entry and self.patience and self._validations_since_best(record) >= self.patience:
            record.stopped_early = True
            self.model.stop_training = True
        record.last_checkpoint = last_checkpoint
        record.seconds = self.seconds()
        record.save(self.trial_dir)
        for old in stale:
            if old and old not in (record.best_checkpoint, record.last_checkpoint):
                shutil.rmtree(self.trial_dir / old, ignore_errors=True)
        self.trainer.on_epoch(record, entry)
        if record.best_epoch is not None and self.trainer.cut_due():
            # The time budget is spent: the trial ends here, with its best epoch so far.
            record.cut_by_budget = True
            record.save(self.trial_dir)
            self.model.stop_training = True
        if self.trainer.stop.requested():
            self.stopped_by_request = True
            self.model.stop_training = True
