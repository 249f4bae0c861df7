"""What a search found beyond its ranking: importances, the best so far, and the two flaws a new
user met (`--epochs` ignored, a time left after the last trial)."""

from __future__ import annotations

import io
import textwrap

import numpy as np
import pandas as pd
import pytest

from tuner_app.errors import SpaceError
from tuner_app.report.insights import best_so_far, first_reaching, importances
from tuner_app.report.rows import TrialRow
from tuner_app.space import Fixed, parse_space
from tuner_app.tuning.progress import ConsoleProgress


def results_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A results frame where the objective is decided by the temperature alone (plus noise)."""
    rng = np.random.default_rng(seed)
    temperature = rng.uniform(0.05, 1.0, n)
    return pd.DataFrame({
        "rank": range(1, n + 1), "trial_id": [f"{i:02d}" for i in range(n)], "status": "COMPLETED",
        "objective": 0.5 - 0.3 * temperature + rng.normal(0, 0.002, n), "objective_name": "val_top_100",
        "reason": None, "seconds": 10.0,
        "temperature": temperature,
        "learning_rate": 10 ** rng.uniform(-3, -1, n),
        "units_1": rng.choice([32, 64, 128], n),
        "activation": rng.choice(["relu", "gelu", "tanh"], n),
        "normalize_embeddings": rng.choice([True, False], n),
        "units_2": np.where(rng.random(n) < 0.5, 64.0, np.nan),  # only some trials have a second layer
        "optimizer": "adam",  # fixed: not a searched hyperparameter
    })


def test_importance_names_the_hyperparameter_that_decides_the_objective():
    found = importances(results_table(40))
    assert list(found)[0] == "temperature"
    assert found["temperature"] > 0.8
    assert sum(found.values()) == pytest.approx(1.0)
    assert set(found) == {"temperature", "learning_rate", "units_1", "activation", "normalize_embeddings"}


def test_importance_needs_enough_completed_trials():
    table = results_table(10)
    table.loc[3:, "status"] = "FAILED"
    assert importances(table) == "importances need at least 8 completed trials; this search has 3"


def test_best_so_far_follows_the_order_trials_ended_and_their_wall_time():
    table = results_table(4)
    table["objective"] = [0.30, 0.45, 0.40, 0.50]
    table["seconds"] = [60.0, 60.0, 30.0, 60.0]
    # Trial 02 ended before 01 (two workers): the order is by end time, not by id.
    table["finished"] = ["2026-12-01T10:01:00Z", "2026-12-01T10:03:00Z", "2026-12-01T10:02:30Z",
                         "2026-12-01T10:04:00Z"]
    table.loc[2, "status"] = "FAILED"
    progress = best_so_far(table)
    assert list(progress["trial_id"]) == ["00", "02", "01", "03"]
    assert list(progress["best"]) == [0.30, 0.30, 0.45, 0.50]  # a failed trial adds nothing
    assert list(progress["minutes"]) == [1.0, 2.5, 3.0, 4.0]  # from the first trial's start, 10:00
    assert first_reaching(progress, 0.45) == ("01", 3, 3.0)
    assert first_reaching(progress, 0.6) is None
    del table["finished"]  # a search written before the column: the trials' seconds added up
    assert list(best_so_far(table)["minutes"]) == [1.0, 2.0, 2.5, 3.5]


def test_the_best_so_far_line_reads_objectives_that_a_csv_gave_as_integers():
    """Tiny data can score every trial 1 (a hit rate): the CSV's column then reads as integers."""
    import warnings

    from tuner_app.report.table import insight_lines

    table = results_table(3)
    table["objective"] = [1, 1, 0]
    assert best_so_far(table)["best"].dtype == np.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas: shifting integers with a -inf fill "will raise in a future version"
        lines = insight_lines(table, {})
    assert lines[0] == "best so far: 1.0000 at trial 00, after 1 trial (0.2 min)"


def test_trials_at_their_best_on_the_last_allowed_epoch_are_named_with_what_to_raise():
    from tuner_app.report.rows import at_epoch_cap
    from tuner_app.report.table import insight_lines

    assert at_epoch_cap(30, 30) and at_epoch_cap("30", 30.0)  # as a TrialRow or a CSV holds them
    assert not at_epoch_cap(29, 30) and not at_epoch_cap(None, 30) and not at_epoch_cap(float("nan"), 30)
    assert not at_epoch_cap(30, None)  # the bound is not known
    assert not at_epoch_cap(3, 3, hyperband_epochs=3)  # a Hyperband round ends at its target on purpose
    assert not at_epoch_cap(30, 30, cut_by_budget=True) and not at_epoch_cap(30, 30, cut_by_budget="True")
    assert at_epoch_cap(30, 30, hyperband_epochs=float("nan"), cut_by_budget=float("nan"))

    table = results_table(5)
    table["epochs"] = [30, 30, 30, 30, 40]
    table["best_epoch"] = [30, 12, 30, 30, 40]
    table["cut_by_budget"] = [None, None, None, True, None]
    table.loc[2, "status"] = "FAILED"
    lines = [line for line in insight_lines(table, {}) if "last epoch allowed" in line]
    assert lines == ["2 trials (00, 04) were at their best on the last epoch allowed (epochs: 30, 40) and may still "
                     "have been improving: raise epochs (hyperparameters.epochs in the space, or --epochs); "
                     "early_stopping_patience still ends the trials that stop improving"]
    table["best_epoch"] = [29, 12, 30, 30, 40]
    assert [line for line in insight_lines(table, {}) if "last epoch allowed" in line] == [
        "trial 04 was at its best on the last epoch allowed (epochs: 40) and may still have been improving: "
        "raise epochs (hyperparameters.epochs in the space, or --epochs); early_stopping_patience still ends the "
        "trials that stop improving"]
    table["best_epoch"] = [29, 12, 30, 30, 39]
    assert not [line for line in insight_lines(table, {}) if "last epoch allowed" in line]


SPACE = textwrap.dedent("""
    tuner: {algorithm: random, max_trials: 3}
    hyperparameters:
      epochs: 11
      early_stopping_patience: 2
""")


def test_epochs_flag_wins_over_a_fixed_epochs_hyperparameter():
    spec = parse_space(SPACE, "s.yaml").with_overrides(epochs=3)
    assert spec.hyperparameters["epochs"] == Fixed(3)
    assert spec.training.epochs == 3


def test_epochs_flag_is_refused_when_the_space_searches_epochs():
    spec = parse_space(SPACE.replace("epochs: 11", "epochs: {values: [5, 11]}"), "s.yaml")
    with pytest.raises(SpaceError, match=r"^--epochs 3: s\.yaml searches hyperparameters\.epochs \(over 5, 11\)"):
        spec.with_overrides(epochs=3)


def test_no_time_left_once_the_last_trial_is_done():
    out = io.StringIO()
    progress = ConsoleProgress(parse_space(SPACE.replace("max_trials: 3", "max_trials: 1"), "s.yaml"), out, False)
    progress.epoch(type("R", (), {"target_epochs": 11})(), {"epoch": 1, "loss": 1.0, "val_top_100": 0.2})
    # Stopped early after 1 of 11 epochs: 10 planned epochs were never run, yet nothing is left.
    progress.trial_done(TrialRow("0", "COMPLETED", "val_top_100", {"val_top_100": 0.3}, seconds=3.0, best_epoch=1))
    assert "1/1 trials done" in out.getvalue()
    assert "left" not in out.getvalue()
    assert progress.remaining() is None
