"""Search space files: every shipped file validates; bad ones get one clear sentence."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from tuner_app.errors import SpaceError
from tuner_app.space import OBJECTIVES, SEARCH_SPACES_DIR, Choice, Fixed, Range, load_space, parse_space

GOOD = """
tuner: {algorithm: hyperband, max_epochs: 9, factor: 3}
hyperparameters:
  num_layers: {min: 1, max: 3}
  units: {values: [16, 32]}
  learning_rate: {min: 1.0e-3, max: 0.3, sampling: log}
"""


def space(text: str):
    return parse_space(textwrap.dedent(text), "s.yaml")


@pytest.mark.parametrize("path", sorted(SEARCH_SPACES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_space_validates(path):
    spec = load_space(path)
    assert spec.name == path.stem
    assert spec.objective in OBJECTIVES


def test_shipped_spaces_are_the_promised_ones():
    names = {p.name for p in SEARCH_SPACES_DIR.glob("*.yaml")}
    assert {"deep.yaml", "tutorial.yaml", "smoke.yaml"} <= names
    tutorial = load_space("tutorial.yaml")
    assert tutorial.hyperparameters["layer_sizes"] == Choice(("32", "64,32", "128,64,32"))
    assert tutorial.training.epochs == 300 and tutorial.training.validation_freq == 5
    assert tutorial.hyperparameters["learning_rate"] == Fixed(0.1)
    assert tutorial.hyperparameters["optimizer"] == Fixed("adagrad")


def test_good_space_parses_with_defaults():
    spec = space(GOOD)
    assert spec.name == "s"
    assert spec.tuner.algorithm == "hyperband"
    assert spec.tuner.options == {"max_epochs": 9, "factor": 3, "hyperband_iterations": 1}
    assert spec.objective == "val_top_100"
    assert (spec.split.train_fraction, spec.split.test_fraction, spec.split.seed) == (0.8, 0.2, 42)
    assert spec.training.batch_size == 2048 and spec.training.eval_batch_size == 4096
    assert spec.hyperparameters["learning_rate"] == Range("float", 1e-3, 0.3, None, "log")
    assert spec.hyperparameters["num_layers"] == Range("int", 1, 3)
    assert spec.max_layers == 3


def test_every_knob_validates_together():
    spec = space("""
        tuner: {algorithm: bayesian, max_trials: 5}
        objective: val_filtered_top_100
        evaluation: {exclude_seen: true}
        split: {holdout_fraction: 0.5}
        hyperparameters:
          num_layers: {min: 1, max: 2}
          units: {values: [32, 64]}
          embedding_dim: {values: [32, 64]}
          user_embedding_dim: 48
          batch_size: {values: [1024, 4096]}
          epochs: {min: 5, max: 20}
          early_stopping_patience: 2
          l2: {min: 1.0e-6, max: 1.0e-3, sampling: log}
          dropout: {min: 0.0, max: 0.5}
          temperature: {min: 0.05, max: 1.0, sampling: log}
          remove_accidental_hits: {values: [true, false]}
          num_hard_negatives: {values: [64, 256]}
          logq_correction: true
    """)
    assert spec.evaluation.exclude_seen and spec.split.holdout_fraction == 0.5
    assert spec.hyperparameters["remove_accidental_hits"] == Choice((True, False))
    assert spec.hyperparameters["logq_correction"] == Fixed(True)


def test_lookup_by_name_in_search_spaces(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_space("deep.yaml").name == "deep"
    assert load_space("deep").name == "deep"


BAD = [
    # (yaml text, expected message pattern)
    ("", r"s\.yaml: is empty"),
    ("tuner: [", r"s\.yaml: is not valid YAML at line"),
    ("tuner: {algorithm: hyperband}\n", r"the 'hyperparameters' section is missing"),
    ("tuner: {algorithm: hyperband}\nhyperparameters: {}\nepochs: 3\n",
     r"s\.yaml: epochs is not a known key; expected one of name, description, tuner"),
    ("tuner: {algorithm: annealing}\nhyperparameters: {}\n",
     r"tuner\.algorithm must be one of hyperband, bayesian, random, grid; got 'annealing'"),
    ("tuner: {algorithm: random, max_epochs: 9}\nhyperparameters: {}\n",
     r"tuner\.max_epochs is not a known key for algorithm random; expected one of seed, max_consecutive_failed_trials, max_trials"),
    ("tuner: {algorithm: random, max_trials: '10'}\nhyperparameters: {}\n",
     r"tuner\.max_trials must be an integer from 1 to 100000; got '10' \(a string"),
    ("tuner: {algorithm: hyperband, factor: 1}\nhyperparameters: {}\n",
     r"tuner\.factor must be an integer >= 2; got 1\."),
    ("tuner: {algorithm: random}\nobjective: val_top_20\nhyperparameters: {}\n",
     r"objective must be one of val_top_1, val_top_5, val_top_10, val_top_50, val_top_100, val_filtered_top_1, .* \(maximised\); got 'val_top_20'"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  learning_rate: {min: 1e-3, max: 0.1}\n",
     r"hyperparameters\.learning_rate\.min must be a number > 0; got '1e-3' \(a string: YAML reads 1e-3 as text"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  learning_rate: {min: 0.5, max: 0.1}\n",
     r"hyperparameters\.learning_rate\.min must be <= hyperparameters\.learning_rate\.max; got min 0\.5 > max 0\.1"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  units: {min: 0, max: 64, sampling: log}\n",
     r"hyperparameters\.units\.min must be an integer >= 1; got 0"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  learning_rate: {min: 0.0, max: 0.1, sampling: log}\n",
     r"hyperparameters\.learning_rate\.min must be a number > 0; got 0\.0"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  num_layers: {min: 1, max: 3, sampling: logarithmic}\n",
     r"hyperparameters\.num_layers\.sampling must be one of linear, log, reverse_log; got 'logarithmic'"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  activation: {values: []}\n",
     r"hyperparameters\.activation\.values must be a non-empty list; got a list"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  activation: {values: [relu, mish]}\n",
     r"hyperparameters\.activation\.values must be one of relu, gelu, swish.*; got 'mish'"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  optimizer: sgd\n",
     r"hyperparameters\.optimizer must be one of adagrad, adam, lazy_adam; got 'sgd'"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  momentum: 0.1\n",
     r"hyperparameters\.momentum is not a known key; expected one of num_layers, units"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  dropout: {min: 0.0, max: 1.0}\n",
     r"hyperparameters\.dropout\.max must be a number >= 0 and < 1; got 1\.0"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  logq_correction: 'yes'\n",
     r"hyperparameters\.logq_correction must be true or false; got 'yes'"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  remove_accidental_hits: {min: 0, max: 1}\n",
     r"hyperparameters\.remove_accidental_hits must be a value or \{values: \[...\]\}; got a mapping"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  temperature: 0\n",
     r"hyperparameters\.temperature must be a number > 0; got 0"),
    ("tuner: {algorithm: hyperband}\nhyperparameters:\n  epochs: 5\n",
     r"hyperparameters\.epochs cannot be searched with Hyperband"),
    ("tuner: {algorithm: random}\nobjective: val_filtered_top_100\nhyperparameters: {}\n",
     r"objective val_filtered_top_100 needs evaluation\.exclude_seen: true; got exclude_seen False"),
    ("tuner: {algorithm: random}\nsplit: {holdout_fraction: 1.5}\nhyperparameters: {}\n",
     r"split\.holdout_fraction must be a number >= 0 and < 1; got 1\.5"),
    ("tuner: {algorithm: random}\nevaluation: {exclude_seen: 1}\nhyperparameters: {}\n",
     r"evaluation\.exclude_seen must be true or false; got 1"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  num_layers: {min: 1}\n",
     r"hyperparameters\.num_layers needs both 'min' and 'max'.*'max' is missing"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  num_layers: {min: 1, max: 12}\n",
     r"hyperparameters\.num_layers must be at most 8; got 12"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  num_layers: 2\n  layer_sizes: {values: ['64,32']}\n",
     r"hyperparameters\.layer_sizes cannot be combined with num_layers or units"),
    ("tuner: {algorithm: random}\nhyperparameters:\n  layer_sizes: {values: ['64;32']}\n",
     r"hyperparameters\.layer_sizes\.values must be comma-separated positive widths such as '64,32'; got '64;32'"),
    ("tuner: {algorithm: grid}\nhyperparameters:\n  learning_rate: {min: 0.01, max: 0.1}\n",
     r"hyperparameters\.learning_rate is a float range, which grid search cannot enumerate"),
    ("tuner: {algorithm: random}\nsplit: {train_fraction: 0.9, test_fraction: 0.2}\nhyperparameters: {}\n",
     r"split\.train_fraction \+ split\.test_fraction must be at most 1; got 0\.9 \+ 0\.2"),
    ("tuner: {algorithm: random}\ntraining: {epochs: 0}\nhyperparameters: {}\n",
     r"training\.epochs must be an integer from 1 to 10000; got 0"),
    ("tuner: {algorithm: random}\ntraining: {batch_size: yes}\nhyperparameters: {}\n",
     r"training\.batch_size must be an integer >= 1; got True \(a boolean\)"),
    ("name: 'my search'\ntuner: {algorithm: random}\nhyperparameters: {}\n",
     r"s\.yaml: name: a search name must be 1-100 letters"),
]


@pytest.mark.parametrize("text,pattern", BAD, ids=[p[:40] for _, p in BAD])
def test_bad_space_gets_one_clear_sentence(text, pattern):
    with pytest.raises(SpaceError) as info:
        parse_space(text, "s.yaml")
    message = str(info.value)
    assert re.search(pattern, message), message
    assert message.startswith("s.yaml: ")
    assert "\n" not in message and message.endswith(".")


def test_overrides_apply_and_are_validated():
    spec = space(GOOD)
    assert spec.with_overrides(epochs=5).tuner.options["max_epochs"] == 5
    assert spec.with_overrides(max_trials=7).tuner.max_trials == 7
    assert spec.with_overrides(name="other").name == "other"
    random = space("tuner: {algorithm: random}\nhyperparameters: {}\n")
    assert random.with_overrides(epochs=4).training.epochs == 4
    with pytest.raises(SpaceError, match=r"--name: a search name"):
        spec.with_overrides(name="../escape")


def test_fingerprint_tracks_what_changes_the_search():
    spec = space(GOOD)
    assert spec.fingerprint() == space(GOOD + "\n# a comment\n").fingerprint()
    assert spec.fingerprint() == spec.with_overrides(max_trials=50).fingerprint()
    assert spec.fingerprint() != spec.with_overrides(epochs=3).fingerprint()
    assert spec.fingerprint() != space(GOOD.replace("0.3", "0.2")).fingerprint()


def test_cli_reports_bad_space_without_traceback_or_tensorflow(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tuner: {algorithm: random}\nhyperparameters:\n  learning_rate: {min: 1e-3, max: 0.1}\n")
    results = tmp_path / "results"
    code = (
        "import sys; from tuner_app.cli import main; rc = main(sys.argv[1:]); "
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; raise SystemExit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "search", "--space", str(bad), "--data", "synthetic",
         "--results-dir", str(results)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "hyperparameters.learning_rate.min must be a number > 0; got '1e-3'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not results.exists()


def test_a_key_given_twice_is_refused_naming_both_lines():
    text = "tuner: {algorithm: random}\nhyperparameters:\n  learning_rate: 0.1\n  units: 8\n  learning_rate: 0.2\n"
    with pytest.raises(SpaceError, match=r"^d\.yaml: key 'learning_rate' is given twice, on lines 3 and 5; keep one\.$"):
        parse_space(text, "d.yaml")


def test_a_folder_a_fifo_or_a_huge_file_as_space_is_one_sentence(tmp_path):
    import os

    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(SpaceError, match=r"'.*folder\.yaml' is a folder, not a YAML file"):
        load_space(tmp_path / "folder.yaml")
    os.mkfifo(tmp_path / "pipe.yaml")
    with pytest.raises(SpaceError, match=r"'.*pipe\.yaml' is a named pipe \(FIFO\), not a YAML file"):
        load_space(tmp_path / "pipe.yaml")  # a read would block forever
    huge = tmp_path / "huge.yaml"
    huge.write_text("tuner: {algorithm: random}\nhyperparameters:\n  units: {values: [" +
                    ",".join(str(i) for i in range(1, 300_000)) + "]}\n")
    with pytest.raises(SpaceError, match=r"huge\.yaml: is \d+ KB; a space file is a few hundred bytes"):
        load_space(huge)


@pytest.mark.parametrize("name,fingerprint", [
    # What the versions that saved searches computed: a change here makes those searches refuse to
    # resume ("started from a different search space"). New settings must leave it alone at their defaults.
    ("smoke.yaml", "a5a80e28eef7"), ("best.yaml", "ff229893b5b0"), ("best-filtered.yaml", "c0282d960fa1"),
    ("tutorial.yaml", "8ce47366da11"),
])
def test_fingerprints_of_saved_searches_do_not_move(name, fingerprint):
    assert load_space(name).fingerprint()[:12] == fingerprint


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1.5h", 5400),
                                          ("45", 45), (600, 600), ("2d", 172800)])
def test_time_budgets_read_as_people_write_them(text, seconds):
    from tuner_app.space.durations import parse_duration

    assert parse_duration(text, "--time-budget") == seconds
    spec = parse_space(f"tuner: {{algorithm: random, time_budget: {text}}}\nhyperparameters: {{units: 8}}\n", "s.yaml")
    assert spec.tuner.time_budget == seconds
    # A size of the search, like max_trials: resuming with another one is not another search.
    assert spec.fingerprint() == parse_space("tuner: {algorithm: random}\nhyperparameters: {units: 8}\n",
                                             "s.yaml").fingerprint()


@pytest.mark.parametrize("text", ["0", "-5m", "soon", "5 minutes", "1y", "", "nan", True])
def test_a_time_budget_that_is_not_a_duration_is_one_sentence(text):
    from tuner_app.space.durations import parse_duration

    with pytest.raises(SpaceError, match=r"--time-budget must be a duration such as 90s, 30m, 2h or 1h30m"):
        parse_duration(text, "--time-budget")
