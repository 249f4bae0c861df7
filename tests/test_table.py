"""`report`'s terminal table: what a reader scans for within 120 characters, or the columns asked for."""

from __future__ import annotations

import pytest

from tuner_app.errors import ResultsError
from tuner_app.report.results_csv import read_results, write_results
from tuner_app.report.rows import TrialRow
from tuner_app.report.table import format_table
from tuner_app.space.names import METRICS

HYPERPARAMETERS = ["num_layers", "units_1", "activation", "optimizer", "learning_rate", "normalize_embeddings",
                   "remove_accidental_hits", "temperature", "batch_size", "title_text_embedding_dim",
                   "feature_occupation", "feature_occupation_dim", "early_stopping_patience"]


@pytest.fixture
def frame(tmp_path):
    rows = []
    for i in range(6):
        metrics = {name: 0.1 + i / 100 + j / 1000 for j, name in enumerate(METRICS)}
        hps = {"num_layers": 1 + i % 3, "units_1": 64 * (1 + i % 2), "activation": ["relu", "gelu"][i % 2],
               "optimizer": "adam", "learning_rate": 0.001 * (i + 1), "normalize_embeddings": bool(i % 2),
               "remove_accidental_hits": i % 3 == 0, "temperature": 0.05 + i / 100, "batch_size": 1024,
               "title_text_embedding_dim": 16 * (1 + i % 2), "feature_occupation": i % 2 == 1,
               "feature_occupation_dim": 8 + i, "early_stopping_patience": 3}
        rows.append(TrialRow(f"{i:02d}", "COMPLETED", "val_ndcg_10", metrics, hps, best_epoch=3, epochs_trained=4,
                             seconds=12.5 + i, params=5000))
    rows.append(TrialRow("06", "FAILED", "val_ndcg_10", {}, {"num_layers": 2}, reason="loss became nan at epoch 1"))
    path = tmp_path / "r.csv"
    write_results(path, rows, HYPERPARAMETERS, baselines={"popularity": 0.05, "ease": 0.08, "als": 0.07})
    return read_results(path)


def test_the_default_table_fits_120_characters_with_what_a_reader_scans_for(frame):
    assert len(frame.columns) > 60  # every metric and hyperparameter stays in the CSV
    done = frame.dropna(subset=["objective"])
    assert (done["lift_best"] == (done["objective"] / 0.08).round(5)).all()  # over the better of EASE and ALS
    lines = format_table(frame).splitlines()
    assert max(len(line) for line in lines) <= 120
    header = lines[0].split()
    # The lifts over popularity and over the better classical baseline; the CSV has each baseline's.
    assert header[:7] == ["rank", "trial_id", "status", "objective", "lift", "lift_best", "seconds"]
    shown = header[7:]
    # Only hyperparameters that vary, in the CSV's order, as many as fit; the others are named.
    assert "optimizer" not in shown and "batch_size" not in shown and "early_stopping_patience" not in shown
    assert shown == [h for h in HYPERPARAMETERS if h in shown] and shown[:2] == ["num_layers", "units_1"]
    note = " ".join(lines[lines.index(next(line for line in lines if line.startswith("not shown"))):])
    left = note.removeprefix("not shown (--columns picks): ").split(", ")
    assert set(shown) | set(left) == {"num_layers", "units_1", "activation", "learning_rate", "normalize_embeddings",
                                      "remove_accidental_hits", "temperature", "title_text_embedding_dim",
                                      "feature_occupation", "feature_occupation_dim"}
    assert "trial 06 failed: loss became nan at epoch 1" in lines
    assert not any(metric in lines[0] for metric in METRICS)


def test_columns_picks_the_table_and_an_unknown_one_is_named(frame):
    lines = format_table(frame, top=2, columns=["trial_id", "val_recall_50", "learning_rate"]).splitlines()
    assert lines[0].split() == ["trial_id", "val_recall_50", "learning_rate"] and len(lines) == 3
    assert lines[1].split() == ["05", f"{0.15 + METRICS.index('val_recall_50') / 1000:.4g}", "0.006"]
    with pytest.raises(ResultsError, match=r"--columns: val_recall_7, lr not in the results; they have rank, "):
        format_table(frame, columns=["val_recall_7", "trial_id", "lr"])
