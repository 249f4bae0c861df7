"""`search --tensorboard DIR`: the logs keras-tuner users expect, for TensorBoard's HParams dashboard.

keras-tuner's convention is a TensorBoard callback per trial: a log folder a
trial and an HParams summary. Here, `DIR` gets the search's HParams experiment
(every hyperparameter with its domain, and the validation metrics), and
`DIR/<trial id>/` each trial's hyperparameters and, every epoch, its `loss` and,
when validated, each `val_top_k` (and `val_filtered_top_k`). Then
`tensorboard --logdir DIR` shows the HParams dashboard: the trials as a table,
parallel coordinates and scatter plots, and each trial's curves.

A distributed search's workers each log the trials they run. tensorboard is an
optional extra (`pip install -e ".[tensorboard]"`), checked before TensorFlow loads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tuner_app.errors import SpaceError
from tuner_app.space.names import BOOKKEEPING_PREFIX, KERAS_TUNER_PREFIX, METRICS


def check_available(folder: str | None) -> None:
    """Refuses `--tensorboard` when the tensorboard package is not installed."""
    if folder is not None and importlib.util.find_spec("tensorboard") is None:
        raise SpaceError(f"--tensorboard {folder}: needs the tensorboard package; install it with "
                         "pip install -e \".[tensorboard]\" (or pip install tensorboard).")


class TensorBoardLogger:
    """Writes the HParams experiment once, then each trial's hyperparameters and epochs.

    Args:
        folder: the log folder (`--tensorboard`).
        space: the search's keras-tuner HyperParameters (for the domains).
        objective: the search's objective, listed first among the metrics.
    """

    def __init__(self, folder: Path, space, objective: str):
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hparams

        self.folder = Path(folder)
        self._tf, self._hparams = tf, hparams
        self._params = {p.name: self._param(p) for p in space.space if _shown(p.name)}
        metrics = [objective, *(m for m in METRICS if m != objective)]
        with tf.summary.create_file_writer(str(self.folder)).as_default():
            hparams.hparams_config(hparams=list(self._params.values()),
                                   metrics=[hparams.Metric(m, display_name=m) for m in ["loss", *metrics]])
        self._writer = None
        self._trial = None

    def _param(self, param):
        hparams = self._hparams
        kind = type(param).__name__
        if kind == "Int":
            domain = hparams.IntInterval(int(param.min_value), int(param.max_value))
        elif kind == "Float":
            domain = hparams.RealInterval(float(param.min_value), float(param.max_value))
        elif kind == "Boolean":
            domain = hparams.Discrete([False, True])
        elif kind == "Fixed":
            domain = hparams.Discrete([param.value])
        else:
            domain = hparams.Discrete(list(param.values))
        return hparams.HParam(param.name, domain)

    def trial_begin(self, trial, plan) -> None:
        """Opens the trial's log folder and writes its hyperparameters."""
        self.close()
        self._trial = trial.trial_id
        self._writer = self._tf.summary.create_file_writer(str(self.folder / trial.trial_id))
        values = {self._params[name]: value for name, value in trial.hyperparameters.values.items()
                  if name in self._params}
        with self._writer.as_default():
            self._hparams.hparams(values, trial_id=trial.trial_id)

    def epoch(self, record, entry: dict[str, float]) -> None:
        """Writes one finished epoch's loss and validation figures."""
        if self._writer is None or record.trial_id != self._trial:
            return
        with self._writer.as_default():
            for name, value in entry.items():
                if name == "loss" or name in METRICS:
                    self._tf.summary.scalar(name, value, step=int(entry["epoch"]))
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _shown(name: str) -> bool:
    return not name.startswith((BOOKKEEPING_PREFIX, KERAS_TUNER_PREFIX))
