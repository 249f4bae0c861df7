"""End to end through `python -m tuner_app`, in subprocesses, on tiny synthetic data."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from conftest import Tool, copy_of, read_rows, write_space

DATA = "synthetic:users=40,movies=60,ratings=2000,seed=5"

SPACES = {
    "hyperband": """
        tuner: {algorithm: hyperband, max_epochs: 3, factor: 3, seed: 1}
        objective: val_top_10
        training: {batch_size: 256, eval_batch_size: 512}
        hyperparameters:
          num_layers: {min: 1, max: 2}
          units: {values: [8, 16]}
          learning_rate: {min: 0.02, max: 0.2, sampling: log}
    """,
    "bayesian": """
        tuner: {algorithm: bayesian, max_trials: 3, num_initial_points: 2, seed: 1}
        objective: val_top_5
        training: {epochs: 2, batch_size: 256, eval_batch_size: 512}
        hyperparameters:
          num_layers: {min: 1, max: 2}
          units: {min: 8, max: 24, step: 8}
          optimizer: {values: [adagrad, adam]}
          learning_rate: {min: 0.01, max: 0.2, sampling: log}
    """,
    # Run once for the session (`random_search`): the ranked-CSV, export and TensorBoard tests
    # read it. The learning rate and the switch are there for TensorBoard's HParams domains:
    # between them the space has each kind (an integer range, choices, a float range, booleans).
    "random": """
        tuner: {algorithm: random, max_trials: 3, seed: 1}
        training: {epochs: 2, batch_size: 256, eval_batch_size: 512}
        hyperparameters:
          num_layers: {min: 1, max: 3}
          units: {values: [8, 16]}
          activation: {values: [relu, gelu, tanh]}
          learning_rate: {min: 0.02, max: 0.2, sampling: log}
          normalize_embeddings: {values: [false, true]}
    """,
    "grid": """
        tuner: {algorithm: grid}
        training: {epochs: 2, batch_size: 256, eval_batch_size: 512, validation_freq: 2}
        hyperparameters:
          layer_sizes: {values: ["16", "32,16"]}
    """,
}



def run_random(cwd: Path) -> None:
    """The random search of SPACES, with TensorBoard logs in `tb` (tests/test_html_report.py reads them;
    without the optional tensorboard package that test skips, and the search runs without)."""
    space = write_space(cwd, SPACES["random"], "random")
    tensorboard = ["--tensorboard", "tb"] if importlib.util.find_spec("tensorboard") else []
    proc = Tool(cwd).run("search", "--space", str(space), "--data", DATA, "--results-dir", "out", *tensorboard)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def random_search(shared_search) -> Path:
    """The folder of the session's random search (`run_random`): read it, or copy it to change it."""
    return shared_search("cli-random", run_random)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm,expected_trials", [("hyperband", 6), ("bayesian", 3), ("random", 3), ("grid", 2)])
def test_search_writes_a_ranked_csv(tmp_path, tool, shared_search, algorithm, expected_trials):
    if algorithm == "random":  # the session's random search (its exit status is checked in run_random)
        copy_of(shared_search("cli-random", run_random), tmp_path)
    else:
        space = write_space(tmp_path, SPACES[algorithm], algorithm)
        proc = tool.run("search", "--space", str(space), "--data", DATA, "--results-dir", "out")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = read_rows(tmp_path / "out" / f"{algorithm}.csv")
    assert len(rows) == expected_trials
    assert len({r["trial_id"] for r in rows}) == expected_trials
    assert all(r["status"] == "COMPLETED" for r in rows)
    assert [int(r["rank"]) for r in rows] == list(range(1, expected_trials + 1))
    objectives = [float(r["objective"]) for r in rows]
    assert objectives == sorted(objectives, reverse=True)
    metric = rows[0]["objective_name"]
    assert all(float(r[metric]) == float(r["objective"]) for r in rows)
    for r in rows:
        assert 1 <= int(r["best_epoch"]) <= int(r["epochs_trained"])
        assert int(r["params"]) > 0 and float(r["seconds"]) > 0
    if algorithm == "hyperband":
        children = [r for r in rows if r["parent_trial"]]
        assert children, "Hyperband promoted no trial"
        for child in children:
            parent = next(r for r in rows if r["trial_id"] == child["parent_trial"])
            assert int(child["initial_epoch"]) == int(parent["target_epochs"])
            assert child["learning_rate"] == parent["learning_rate"]
        assert {r["target_epochs"] for r in rows} == {"1", "3"}
    if algorithm == "grid":
        assert sorted(r["layer_sizes"] for r in rows) == ["16", "32,16"]
    if algorithm == "random":
        for r in rows:  # widths of layers that do not exist stay empty
            depth = int(r["num_layers"])
            assert all(r[f"units_{i}"] for i in range(1, depth + 1))
            assert not any(r[f"units_{i}"] for i in range(depth + 1, 4))
    report = tool.run("report", f"out/{algorithm}.csv", "--top", "2")
    assert report.returncode == 0, report.stderr
    lines = report.stdout.strip().splitlines()
    assert lines[0].startswith(f"out/{algorithm}.csv: {expected_trials} trial(s); objective {metric}")
    assert lines[1].startswith(f"popularity baseline on the same validation rows: {metric} ")
    assert lines[2].startswith("EASE baseline (L2 ") and f"on the same validation rows: {metric} " in lines[2]
    assert lines[3].startswith("ALS baseline (") and f"on the same validation rows: {metric} " in lines[3]
    assert lines[4].startswith("catalogue coverage (share of the items in some user's top k) @10/@100: best trial ")
    # title, three baselines, coverage, header, two rows; a blank line; what searching bought and what mattered
    assert len(lines) == 14, report.stdout
    assert lines[5].split()[:5] == ["rank", "trial_id", "objective", "lift", "lift_best"]
    assert lines[9].startswith("best so far: ") and lines[10].lstrip().startswith(("beat popularity", "never beat"))
    assert lines[11].lstrip().startswith(("beat EASE", "never beat EASE"))
    assert lines[12].lstrip().startswith(("beat ALS", "never beat ALS"))
    assert lines[13].startswith("hyperparameter importance: none (importances need at least 8 completed trials")
    summary = json.loads((tmp_path / "out" / f"{algorithm}.json").read_text())
    ease = summary["baselines"]["ease"]
    assert ease["l2"] in (100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0)
    for r in rows:  # both lifts: the objective over each baseline's on the same rows
        assert float(r["lift"]) == pytest.approx(float(r["objective"]) / summary["baselines"]["validation"][metric],
                                                 rel=1e-3)
        assert float(r["lift_ease"]) == pytest.approx(float(r["objective"]) / ease["validation"][metric], rel=1e-3)


@pytest.mark.slow
def test_diverging_trials_are_failed_with_reasons_and_the_search_exits_nonzero(tmp_path, tool):
    space = write_space(tmp_path, """
        tuner: {algorithm: random, max_trials: 2, seed: 1, max_consecutive_failed_trials: 5}
        training: {epochs: 2, batch_size: 256, eval_batch_size: 512}
        hyperparameters:
          optimizer: adam
          learning_rate: {values: [1.0e+30, 1.0e+31]}
    """, "diverge")
    proc = tool.run("search", "--space", str(space), "--data", DATA, "--results-dir", "out")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "finished without a completed trial" in proc.stderr
    assert "loss became" in proc.stderr
    assert "Traceback" not in proc.stderr
    rows = read_rows(tmp_path / "out" / "diverge.csv")
    assert len(rows) == 2
    assert all(r["status"] == "FAILED" and r["rank"] == "" and "loss became" in r["reason"] for r in rows)


def in_process(tmp_path, monkeypatch, capsys, *args: str) -> subprocess.CompletedProcess:
    """`tuner_app.cli.main(args)` run here, in `tmp_path`, as `Tool.run` would report it.

    For commands that fail on their input before TensorFlow is needed: the same exit
    status and stderr as `python -m tuner_app` gives, without a new interpreter.
    """
    from tuner_app.cli import main

    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["tuner_app", *args], code, out, err)


def test_bad_data_path_is_one_sentence_and_nothing_written(tmp_path, monkeypatch, capsys):
    proc = in_process(tmp_path, monkeypatch, capsys,
                      "search", "--space", "smoke.yaml", "--data", "no/such/folder", "--results-dir", "out")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no/such/folder" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content,pattern", [
    ("a,b\n1,2\n", "lacks the column(s) rank, trial_id, status, objective, objective_name, reason"),
    ("", "is not a results CSV written by tuner_app"),
])
def test_report_on_a_file_that_is_not_a_results_csv(tmp_path, monkeypatch, capsys, content, pattern):
    (tmp_path / "x.csv").write_text(content)
    proc = in_process(tmp_path, monkeypatch, capsys, "report", "x.csv")
    assert proc.returncode == 2
    assert pattern in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_report_on_a_missing_file(tmp_path, monkeypatch, capsys):
    proc = in_process(tmp_path, monkeypatch, capsys, "report", "missing.csv")
    assert proc.returncode == 2 and "missing.csv: no such results file" in proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.mark.slow
def test_every_knob_runs_a_tiny_trial_with_filtered_objective_and_holdout(tmp_path, tool):
    space = write_space(tmp_path, """
        tuner: {algorithm: random, max_trials: 1, seed: 3}
        objective: val_filtered_ndcg_10
        evaluation: {exclude_seen: true}
        split: {holdout_fraction: 0.5}
        training: {eval_batch_size: 512}
        hyperparameters:
          num_layers: 2
          units: {values: [16]}
          embedding_dim: 8
          title_text_embedding_dim: 4
          batch_size: {values: [128]}
          epochs: 2
          early_stopping_patience: 3
          l2: 1.0e-4
          dropout: 0.1
          normalize_embeddings: true
          item_bias: true
          temperature: 0.5
          remove_accidental_hits: true
          num_hard_negatives: 32
          logq_correction: true
    """, "knobs")
    proc = tool.run("search", "--space", str(space), "--data", DATA, "--results-dir", "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = read_rows(tmp_path / "out" / "knobs.csv")
    assert row["status"] == "COMPLETED" and row["objective_name"] == "val_filtered_ndcg_10"
    assert float(row["objective"]) == float(row["val_filtered_ndcg_10"])
    # Leaving seen items out only moves validation items up: every filtered figure is at least its twin.
    for family in ("top", "recall", "ndcg", "hitrate"):
        for k in (1, 10, 100):
            assert float(row[f"val_filtered_{family}_{k}"]) >= float(row[f"val_{family}_{k}"])
    assert float(row["val_recall_100"]) >= float(row["val_recall_10"]) >= float(row["val_recall_1"])
    assert row["logq_correction"] == "True" and row["normalize_embeddings"] == "True" and row["item_bias"] == "True"
    assert row["num_hard_negatives"] == "32" and row["batch_size"] == "128"
    assert float(row["lift"]) == pytest.approx(
        float(row["objective"]) / json.loads((tmp_path / "out" / "knobs.json").read_text())
        ["baselines"]["validation"]["val_filtered_ndcg_10"], rel=1e-3)
    meta = json.loads((tmp_path / "out" / "knobs.json").read_text())
    assert meta["rows"]["validation"] == meta["rows"]["holdout"] == 200
    assert set(meta["best_trial_holdout"]["holdout"]) >= {"val_top_10", "val_filtered_ndcg_10", "val_hitrate_5"}
    assert 0 < meta["best_trial_coverage"]["coverage_10"] <= meta["best_trial_coverage"]["coverage_100"] <= 1
    assert "catalogue coverage" in proc.stdout
    assert "held-back rows" in proc.stdout
    history = read_rows(tmp_path / "out" / "knobs.history.csv")
    assert [h["epoch"] for h in history] == ["1", "2"]


@pytest.mark.slow
def test_export_recommend_and_repeat_the_best_trial(tmp_path, random_search):
    from tuner_app.data import parse_data_arg
    from tuner_app.data.synthetic import make_synthetic

    tool = copy_of(random_search, tmp_path)  # `repeat` writes beside the search's CSV
    csv_path = tmp_path / "out" / "random.csv"
    best = read_rows(csv_path)[0]  # ranked: the best trial first

    exported = tool.run("export", str(csv_path), "--out", "model")
    assert exported.returncode == 0, exported.stderr
    assert f"exported trial {best['trial_id']} of random" in exported.stdout
    assert (tmp_path / "model" / "saved_model.pb").exists()

    catalog = set(make_synthetic(parse_data_arg(DATA).synthetic).item_catalog)
    for user, unknown in (("1", False), ("no-such-user", True)):
        rec = tool.run("recommend", "model", "--user", user, "--k", "5")
        assert rec.returncode == 0, rec.stderr
        lines = rec.stdout.splitlines()
        assert [line.split(".", 1)[0].strip() for line in lines] == ["1", "2", "3", "4", "5"]
        titles = [line.split(". ", 1)[1].rsplit("  (", 1)[0] for line in lines]
        scores = [float(line.rsplit("(", 1)[1].rstrip(")")) for line in lines]
        assert set(titles) <= catalog and len(set(titles)) == 5
        assert scores == sorted(scores, reverse=True)
        assert ("not in the training data" in rec.stderr) == unknown

    repeated = tool.run("repeat", str(csv_path), "--trial", "best", "--seeds", "2")
    assert repeated.returncode == 0, repeated.stderr
    assert "over 2 seeds" in repeated.stdout
    runs = read_rows(tmp_path / "out" / "random.repeats.csv")
    assert [(r["trial_id"], r["seed"]) for r in runs] == [(best["trial_id"], "1"), (best["trial_id"], "2")]
    assert all(0 <= float(r["val_top_10"]) <= 1 for r in runs)

    missing = tool.run("recommend", "no-model", "--user", "1")
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1
    assert "is not a model exported by tuner_app" in missing.stderr


@pytest.mark.slow
def test_the_smoke_space_runs_as_the_readme_says(tool):
    proc = tool.run("search", "--space", "smoke.yaml", "--data", "synthetic", "--results-dir", "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 trial(s) completed, 0 failed; results in out/smoke.csv" in proc.stdout
    rows = tool.rows("smoke")
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert all(r["objective_name"] == "val_top_10" and r["epochs_trained"] == "3" for r in rows)
    summary = json.loads((tool.cwd / "out" / "smoke.json").read_text())
    assert summary["baselines"]["validation"]["val_top_10"] > 0


@pytest.mark.slow
def test_epochs_flag_wins_over_the_spaces_fixed_epochs(tmp_path, tool):
    space = write_space(tmp_path, """
        tuner: {algorithm: random, max_trials: 2, seed: 1}
        training: {batch_size: 256, eval_batch_size: 512}
        hyperparameters:
          units: {values: [8, 16]}
          epochs: 11
    """, "fixed")
    proc = tool.run("search", "--space", str(space), "--data", DATA, "--results-dir", "out", "--epochs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r["epochs_trained"] for r in tool.rows("fixed")] == ["2", "2"]
    assert [r["epochs"] for r in tool.rows("fixed")] == ["2", "2"]
    (last,) = [line for line in proc.stdout.splitlines() if "2/2 trials done" in line]
    assert "left" not in last  # nothing is left after the last trial
    # A trial at its best on the 2nd of 2 epochs may still have been improving: the summary names it.
    capped = [r["trial_id"] for r in tool.rows("fixed") if r["best_epoch"] == "2"]
    named = [line for line in proc.stdout.splitlines() if "on the last epoch allowed (epochs: 2)" in line]
    assert len(named) == (1 if capped else 0) and all(trial in named[0] for trial in capped), proc.stdout


def test_the_validation_sample_is_the_same_on_every_run():
    import numpy as np

    from tuner_app.data.split import selection_rows

    rows = np.arange(1000, 3000)
    first, again = selection_rows(rows, 300, 42), selection_rows(rows, 300, 42)
    assert np.array_equal(first, again) and len(set(first)) == 300 and set(first) <= set(rows)
    assert not np.array_equal(first, selection_rows(rows, 300, 43))
    assert selection_rows(rows, None, 42) is rows and selection_rows(rows, 5000, 42) is rows


@pytest.mark.slow
def test_sampled_validation_selects_on_the_sample_and_scores_the_winner_on_every_row(tmp_path, tool):
    import signal

    space = write_space(tmp_path, """
        tuner: {algorithm: random, max_trials: 3, seed: 4}
        objective: val_top_10
        evaluation: {validation_rows: 150}
        training: {epochs: 2, batch_size: 256, eval_batch_size: 512}
        hyperparameters:
          units: {values: [8, 16]}
          learning_rate: {min: 0.02, max: 0.2, sampling: log}
    """, "sampled")
    killed = tool.run("search", "--space", str(space), "--data", DATA, "--results-dir", "out",
                      fault="write:sampled.csv:2")
    assert killed.returncode == -signal.SIGKILL
    first = json.loads((tmp_path / "out" / "sampled.json").read_text())
    proc = tool.run("search", "--space", str(space), "--data", DATA, "--results-dir", "out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "out" / "sampled.json").read_text())
    assert summary["rows"]["validation"] == 150 and summary["rows"]["validation_all"] == 400
    # The resumed search scored its baselines on the same 150 rows as the first run did.
    assert summary["baselines"]["validation"] == first["baselines"]["validation"]
    rows = tool.rows("sampled")
    assert {r["validation_rows"] for r in rows} == {"150"}
    best = summary["best_trial_all_validation"]
    assert best["trial_id"] == rows[0]["trial_id"]
    assert best["sample"]["val_top_10"] == pytest.approx(float(rows[0]["objective"]), abs=1e-6)  # the CSV keeps 6 decimals
    assert 0 <= best["all"]["val_top_10"] <= 1
    assert "best trial on all 400 validation rows (trials were selected on 150 of them)" in proc.stdout
    report = tool.run("report", "out/sampled.csv")
    assert "trials are selected on a fixed random sample of 150 of the 400 validation rows" in report.stdout
