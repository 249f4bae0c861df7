"""What a running search prints: one line per trial start, validated epoch and trial end."""

from __future__ import annotations

import time
from typing import TextIO

from tuner_app.space import SearchSpec


class ConsoleProgress:
    """Prints one line per trial start, validated epoch and trial end."""

    def __init__(self, spec: SearchSpec, out: TextIO, quiet: bool):
        self.spec = spec
        self.out = out
        self.quiet = quiet
        self.started = time.monotonic()
        self.best: tuple[float, str] | None = None
        self.done = 0

    def say(self, text: str) -> None:
        """Progress: silent with --quiet."""
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def result(self, text: str) -> None:
        """The final summary: printed even with --quiet."""
        print(text, file=self.out, flush=True)

    def trial_begin(self, trial, plan) -> None:
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in values.items())
        origin = f", continuing trial {plan.parent}" if plan.parent else ""
        self.say(f"trial {trial.trial_id}: epochs {plan.initial_epoch + 1}-{plan.epochs}{origin}: {shown}")

    def epoch(self, record, entry) -> None:
        objective = self.spec.objective
        if objective in entry:
            self.say(
                f"  epoch {entry['epoch']}/{record.target_epochs}: loss {entry['loss']:.1f}, "
                f"{objective} {entry[objective]:.4f}"
            )

    def trial_done(self, row) -> None:
        self.done += 1
        value = row.objective
        if row.status == "COMPLETED" and value is not None:
            if self.best is None or value > self.best[0]:
                self.best = (value, row.trial_id)
            result = f"{self.spec.objective} {value:.4f} at epoch {row.best_epoch}"
        else:
            result = f"{row.status.lower()}: {row.reason}"
        best = f"; best so far {self.best[0]:.4f} (trial {self.best[1]})" if self.best else ""
        elapsed = time.monotonic() - self.started
        self.say(f"trial {row.trial_id} {result} in {row.seconds or 0:.1f} s{best}; {self.done} done, {elapsed:.0f} s elapsed")


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
