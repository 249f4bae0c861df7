"""Progress: planned work per tuner, the estimate of what remains, quiet outside terminals."""

from __future__ import annotations

import io
import textwrap

from tuner_app.report.rows import TrialRow
from tuner_app.space import parse_space
from tuner_app.tuning.progress import ConsoleProgress, planned_work


def spec(text: str):
    return parse_space(textwrap.dedent(text), "p.yaml")


def test_planned_work_matches_keras_tuners_hyperband_brackets():
    # keras-tuner's Hyperband with max_epochs 3, factor 3 runs 6 trials (the CLI test sees them).
    hb = spec("tuner: {algorithm: hyperband, max_epochs: 3, factor: 3}\nhyperparameters: {}\n")
    assert planned_work(hb) == (6, 11)
    assert planned_work(spec("tuner: {algorithm: hyperband, max_epochs: 9, factor: 3, hyperband_iterations: 2}\n"
                             "hyperparameters: {}\n"))[0] == 2 * 23  # 23 a bracket set, as keras-tuner runs
    random = spec("tuner: {algorithm: random, max_trials: 5}\ntraining: {epochs: 7}\nhyperparameters: {}\n")
    assert planned_work(random) == (5, 35)
    searched = spec("tuner: {algorithm: random, max_trials: 5}\nhyperparameters: {epochs: {min: 3, max: 9}}\n")
    assert planned_work(searched) == (5, 45)


def test_not_a_terminal_prints_trial_lines_but_no_live_status():
    out = io.StringIO()
    progress = ConsoleProgress(spec("tuner: {algorithm: random, max_trials: 2}\nhyperparameters: {}\n"), out, False)
    assert not progress.live
    progress.epoch(type("R", (), {"target_epochs": 20})(), {"epoch": 1, "loss": 1.0, "val_top_100": 0.2})
    progress.trial_done(TrialRow("0", "COMPLETED", "val_top_100", {"val_top_100": 0.25}, seconds=3.0, best_epoch=1))
    text = out.getvalue()
    assert text.count("\n") == 1
    assert "trial 0 val_top_100 0.2500 at epoch 1 in 3.0 s; best so far 0.2500 (trial 0); 1/2 trials done" in text
    assert "left" in text  # 1 of 40 planned epochs done: an estimate exists


def test_quiet_prints_only_the_summary():
    out = io.StringIO()
    progress = ConsoleProgress(spec("tuner: {algorithm: random, max_trials: 2}\nhyperparameters: {}\n"), out, True)
    progress.say("progress")
    progress.trial_done(TrialRow("0", "FAILED", "val_top_100", reason="loss became nan at epoch 1"))
    progress.result("summary")
    assert out.getvalue() == "summary\n"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_resumed_search_counts_its_finished_trials_and_their_best():
    out = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(spec("tuner: {algorithm: random, max_trials: 4}\ntraining: {epochs: 10}\n"
                                    "hyperparameters: {}\n"), out, False, clock=clock)
    progress.resumed([TrialRow("0", "COMPLETED", "val_top_100", {"val_top_100": 0.4}, epochs_trained=10),
                      TrialRow("1", "FAILED", "val_top_100", reason="nan", epochs_trained=2)])
    progress.epoch(type("R", (), {"target_epochs": 10})(), {"epoch": 1, "loss": 1.0, "val_top_100": 0.2})
    progress.trial_done(TrialRow("2", "COMPLETED", "val_top_100", {"val_top_100": 0.3}, seconds=3.0, best_epoch=1,
                                 epochs_trained=1))
    text = out.getvalue()
    assert "best so far 0.4000 (trial 0); 3/4 trials done" in text
    # 40 epochs planned, 12 done before the resume and 1 now: 27 left at this process's pace.
    clock.now += 10.0  # this process: 1 epoch in 10 s
    assert progress.remaining() == 27 * 10.0
