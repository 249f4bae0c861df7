"""The results CSV: ranking, columns, atomic rewrite, reading back."""

from __future__ import annotations

import csv
import math

import pytest

from tuner_app.errors import ResultsError
from tuner_app.report.results_csv import read_results, write_results
from tuner_app.report.rows import TrialRow, rank_rows
from tuner_app.report.table import format_table


def row(trial_id, status="COMPLETED", value=None, **hps):
    metrics = {} if value is None else {"val_top_100": value, "val_top_10": value / 2}
    return TrialRow(trial_id, status, "val_top_100", metrics, hps, best_epoch=2, epochs_trained=3,
                    seconds=1.5, params=100, reason=None if status == "COMPLETED" else "loss became nan at epoch 1")


def test_ranks_completed_trials_best_first_then_the_rest():
    rows = [row("0", value=0.2), row("1", "FAILED"), row("2", value=0.3), row("3", value=math.nan), row("4", value=0.2)]
    ranked = rank_rows(rows)
    assert [(rank, r.trial_id) for rank, r in ranked] == [(1, "2"), (2, "0"), (3, "4"), (None, "1"), (None, "3")]


def test_csv_has_every_column_and_empty_cells_for_inactive_hyperparameters(tmp_path):
    path = tmp_path / "r.csv"
    rows = [
        row("0", value=0.25, num_layers=1, units_1=32, learning_rate=0.1),
        row("1", value=0.31, num_layers=2, units_1=64, units_2=32, learning_rate=0.05,
            **{"tuner/trial_id": "0", "tuner/epochs": 9, "tuner/initial_epoch": 3}),
        row("2", "FAILED", num_layers=1, units_1=16, learning_rate=3.0),
    ]
    write_results(path, rows, ["num_layers", "units_1", "units_2", "learning_rate"])
    with open(path, newline="") as handle:
        got = list(csv.DictReader(handle))
    assert [r["trial_id"] for r in got] == ["1", "0", "2"]
    assert [r["rank"] for r in got] == ["1", "2", ""]
    assert got[0]["parent_trial"] == "0" and got[0]["initial_epoch"] == "3" and got[0]["target_epochs"] == "9"
    assert got[1]["units_2"] == "" and got[0]["units_2"] == "32"
    assert got[2]["reason"] == "loss became nan at epoch 1" and got[2]["objective"] == ""
    assert got[0]["val_top_10"] == "0.155"
    assert not list(tmp_path.glob("*.tmp")), "no temporary file left behind"

    frame = read_results(path)
    table = format_table(frame, top=2)
    assert table.splitlines()[1].split()[:2] == ["1", "1"]
    assert len(table.splitlines()) == 3


@pytest.mark.parametrize("content", ["rank,trial_id\n1,0\n", "\x00\x01garbage", ""])
def test_reading_something_else_is_a_results_error(tmp_path, content):
    path = tmp_path / "x.csv"
    path.write_text(content)
    with pytest.raises(ResultsError, match=r"x\.csv: is not a results CSV written by tuner_app"):
        read_results(path)


def test_a_results_csv_with_only_its_header_is_an_empty_search(tmp_path):
    path = tmp_path / "r.csv"
    write_results(path, [], ["learning_rate"])
    frame = read_results(path)
    assert frame.empty and format_table(frame) == "no trial has finished yet"


def test_a_results_csv_cut_off_mid_row_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "r.csv"
    write_results(path, [TrialRow("0", "COMPLETED", "val_top_100", {"val_top_100": 0.3}),
                         TrialRow("1", "COMPLETED", "val_top_100", {"val_top_100": 0.2})], ["learning_rate"])
    path.write_text(path.read_text()[:-30])
    with pytest.raises(ResultsError, match=r"r\.csv: line 3 has \d+ of the header's \d+ fields: the file was cut off"):
        read_results(path)
