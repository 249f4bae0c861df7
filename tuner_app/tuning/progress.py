"""What a running search shows.

On a terminal: a live status line (tqdm) with the current trial, its epoch
and latest validation figure, trials done out of planned, elapsed time and
an estimate of what remains, plus one line per finished trial above it.
When the output is not a terminal (a log file, CI): only the start, one
line per finished trial and the summary. `--quiet`: only the summary.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TextIO

from tuner_app.space.names import BOOKKEEPING_PREFIX, KERAS_TUNER_PREFIX
from tuner_app.space.params import param_values
from tuner_app.space.spec import SearchSpec


def planned_work(spec: SearchSpec) -> tuple[int | None, int | None]:
    """(trials, epochs) the search plans to run: exact for Hyperband, an upper bound otherwise."""
    tuner = spec.tuner
    if tuner.algorithm == "hyperband":
        o = tuner.options
        max_epochs, factor = o["max_epochs"], o["factor"]
        brackets, epochs = 0, float(max_epochs)
        while epochs >= 1:  # keras-tuner's HyperbandOracle._get_num_brackets
            epochs /= factor
            brackets += 1
        end_size = math.ceil(1 + math.log(max_epochs, factor))
        trials = total_epochs = 0
        for bracket in range(brackets):
            previous = 0
            for round_num in range(bracket + 1):
                size = math.ceil(end_size / (bracket + 1) * factor ** (bracket - round_num))
                target = math.ceil(max_epochs / factor ** (bracket - round_num))
                trials += size
                total_epochs += size * (target - previous)
                previous = target
        iterations = o["hyperband_iterations"]
        trials, total_epochs = trials * iterations, total_epochs * iterations
        if tuner.max_trials:
            trials = min(trials, tuner.max_trials)
        return trials, total_epochs
    if tuner.max_trials is None:
        return None, None
    epochs = spec.hyperparameters.get("epochs")
    per_trial = max(param_values(epochs)) if epochs is not None else spec.training.epochs
    return tuner.max_trials, tuner.max_trials * int(per_trial)


class ConsoleProgress:
    """Prints the search's progress; see the module docstring."""

    def __init__(self, spec: SearchSpec, out: TextIO, quiet: bool, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.spec = spec
        self.out = out
        self.quiet = quiet
        self.live = (not quiet and out.isatty()) if live is None else live
        self.clock = clock
        self.started = clock()
        self.best: tuple[float, str] | None = None
        self.done = 0
        self.planned_trials, self.planned_epochs = planned_work(spec)
        self.epochs_done = 0  # by this process; the time per epoch comes from these
        self.epochs_before = 0  # by the trials a resumed search had already finished
        self.done_before = 0  # trials a resumed search had already finished
        patience = spec.hyperparameters.get("early_stopping_patience")
        self.stops_early = patience is not None and any(param_values(patience))
        self._bar = None
        self._current = ""
        self.budget = None  # the search's `tuning.budget.TimeBudget`, once it is known

    # -- output channels -------------------------------------------------------------
    def say(self, text: str) -> None:
        """Progress: silent with --quiet."""
        if not self.quiet:
            self._print(text)

    def result(self, text: str) -> None:
        """The final summary: printed even with --quiet."""
        self._close_bar()
        print(text, file=self.out, flush=True)

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    # -- events ----------------------------------------------------------------------
    def trial_begin(self, trial, plan) -> None:
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith((KERAS_TUNER_PREFIX, BOOKKEEPING_PREFIX))}
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in values.items())
        origin = f", continuing trial {plan.parent}" if plan.parent else ""
        self._current = f"trial {trial.trial_id}"
        if self.live:
            self._print(f"trial {trial.trial_id}: epochs {plan.initial_epoch + 1}-{plan.epochs}{origin}: {shown}")
            self._status(f"{self._current} starting")

    def epoch(self, record, entry) -> None:
        self.epochs_done += 1
        if not self.live:
            return
        objective = self.spec.objective
        latest = f", {objective} {entry[objective]:.4f}" if objective in entry else ""
        self._status(f"{self._current} epoch {entry['epoch']}/{record.target_epochs}{latest}")

    def resumed(self, rows) -> None:
        """Counts the trials a resumed search had already finished (and their best)."""
        for row in rows:
            self._count(row)
            self.done_before += 1
            self.epochs_before += row.epochs_trained or 0

    def _count(self, row) -> None:
        self.done += 1
        if row.completed and row.objective is not None:
            if self.best is None or row.objective > self.best[0]:
                self.best = (row.objective, row.trial_id)

    def trial_done(self, row) -> None:
        self._count(row)
        value = row.objective
        if row.completed and value is not None:
            result = f"{self.spec.objective} {value:.4f} at epoch {row.best_epoch}"
        else:
            result = f"{row.status.lower()}: {row.reason}"
        best = f"; best so far {self.best[0]:.4f} (trial {self.best[1]})" if self.best else ""
        self.say(f"trial {row.trial_id} {result} in {row.seconds or 0:.1f} s{best}; {self._counts()}")

    # -- the live line ---------------------------------------------------------------
    def _counts(self) -> str:
        planned = f"/{self.planned_trials}" if self.planned_trials else ""
        text = f"{self.done}{planned} trials done, {_duration(self.clock() - self.started)} elapsed"
        eta = self.remaining()
        text += f", about {_duration(eta)} left" if eta is not None else ""
        if self.budget is not None and self.budget.seconds is not None:
            text += f"; {self.budget.describe()}"
        return text

    def remaining(self) -> float | None:
        """Seconds left, at this process's pace so far; None when unknown or nothing is left.

        By epochs: the epochs still planned at the time an epoch has taken. When trials
        may stop early, planned epochs are only an upper bound, so the estimate by trials
        (the trials still planned at the time a trial has taken) is kept when smaller.
        """
        if self.planned_trials and self.done >= self.planned_trials:
            return None
        elapsed = self.clock() - self.started
        estimates = []
        if self.planned_epochs and self.epochs_done:
            left = max(0, self.planned_epochs - self.epochs_before - self.epochs_done)
            estimates.append(elapsed / self.epochs_done * left)
        finished_here = self.done - self.done_before
        if self.stops_early and self.planned_trials and finished_here:
            estimates.append(elapsed / finished_here * (self.planned_trials - self.done))
        return min(estimates) if estimates else None

    def _status(self, text: str) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.planned_trials, file=self.out, dynamic_ncols=True, leave=False,
                             bar_format="{desc}")
        best = f" | best {self.best[0]:.4f}" if self.best else ""
        self._bar.set_description_str(f"{text}{best} | {self._counts()}")

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
