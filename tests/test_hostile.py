"""Issue 26, as a hostile user tried it: search names that collide, a results CSV re-saved by a
spreadsheet, damaged or odd files and paths, out-of-range numbers, SIGTERM while a search starts.

Each gets one sentence and exit 2 (130 for a signal), with nothing written, or the right result.
Everything that fails before TensorFlow loads runs `cli.main` in this process, on files laid out by
hand; the spreadsheet case needs one real search (and its resumption), and SIGTERM is sent to a real
process.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
from conftest import TINY_DATA, read_rows, write_space

from tuner_app.cli import build_parser, main
from tuner_app.report.results_csv import write_history, write_results
from tuner_app.report.rows import TrialRow
from tuner_app.space.names import SEARCH_NAME_MAX
from tuner_app.store import outputs
from tuner_app.store.layout import SearchPaths

SPACE = """
    tuner: {algorithm: random, max_trials: 10, seed: 11}
    objective: val_top_10
    training: {epochs: 1, batch_size: 128, eval_batch_size: 512}
    hyperparameters:
      units: {values: [8, 16]}
      learning_rate: {min: 0.02, max: 0.2, sampling: log}
"""


def one_line(capsys, code: int, got: int) -> str:
    err = capsys.readouterr().err
    assert got == code, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fake_results(folder: Path, name: str = "s", objective: float | None = 0.3) -> Path:
    """A results CSV, its history and summary as a search writes them (no training)."""
    metrics = {} if objective is None else {"val_top_10": objective}
    rows = [TrialRow(f"0{i}", "COMPLETED", "val_top_10", metrics, {"units_1": 8 * (i + 1)}, best_epoch=1,
                     epochs_trained=1) for i in range(2)]
    folder.mkdir(parents=True, exist_ok=True)
    write_results(folder / f"{name}.csv", rows, ["units_1"])
    write_history(folder / f"{name}.history.csv", {r.trial_id: [{"epoch": 1, **metrics}] for r in rows})
    (folder / f"{name}.json").write_text(json.dumps({"baselines": {}}))
    return folder / f"{name}.csv"


# --------------------------------------------------------------------------- 4. colliding names

@pytest.mark.parametrize("existing,name,said", [
    ("a", "a.history", "this search's results would be r/a.history.csv, which is the history of the search 'a'"),
    ("a.history", "a", "this search's history would be r/a.history.csv, which is the results of the search "
                       "'a.history'"),
    ("a", "a.repeats", "which is the repeats of the search 'a'"),
    ("a", "a.csv", "this search's state folder would be r/a.csv, which is the results of the search 'a'"),
    ("a", "a.json", "which is the summary of the search 'a'"),
    ("a", "a.lock", "which is the lock file of the search 'a'"),
    ("a", "a.curves.png", "which is the curves figure of the search 'a'"),
])
def test_a_search_whose_files_would_be_another_searchs_is_refused_before_anything_is_written(
        tmp_path, monkeypatch, capsys, existing, name, said):
    monkeypatch.chdir(tmp_path)
    space = write_space(tmp_path, SPACE)
    (tmp_path / "r" / existing).mkdir(parents=True)
    (tmp_path / "r" / existing / "search.json").write_text("{}")
    (tmp_path / "r" / f"{existing}.csv").write_text("rank\n")
    before = snapshot(tmp_path)
    got = main(["search", "--space", str(space), "--data", TINY_DATA, "--results-dir", "r", "--name", name])
    error = one_line(capsys, 2, got)
    assert error.startswith(f"error: --name {name}: this search's ") and f"{said} in r; give another --name." in error
    assert snapshot(tmp_path) == before


def test_a_search_beside_its_own_files_is_no_collision(tmp_path):
    for file in ("a.csv", "a.history.csv", "a.json", "a.repeats.csv", "a.curves.png", "a.lock", "a@p1.lock"):
        (tmp_path / file).write_text("x")
    (tmp_path / "a").mkdir()
    outputs.check_search_name(SearchPaths(tmp_path, "a"))  # a resumed search
    assert SearchPaths(tmp_path, "a").lock("p1").name == "a@p1.lock"  # no search's file can be named so


def test_a_search_clears_only_its_own_temporary_files(tmp_path):
    from tuner_app.store.atomic import remove_stray_temp_files

    mine, theirs = tmp_path / ".a.csv.0123abcd.tmp", tmp_path / ".a.csv.x.csv.0123abcd.tmp"  # search 'a.csv.x'
    mine.write_text("x")
    theirs.write_text("x")
    remove_stray_temp_files(tmp_path, "a.csv", recursive=False)
    assert not mine.exists() and theirs.exists()


@pytest.mark.parametrize("name", ["", ".a", "a/b", "x" * (SEARCH_NAME_MAX + 1)])
def test_names_that_are_no_file_name_of_their_own_are_refused(tmp_path, capsys, name):
    space = write_space(tmp_path, SPACE)
    got = main(["search", "--space", str(space), "--data", TINY_DATA, "--results-dir", str(tmp_path / "r"),
                "--name", name])
    assert "a search name must be 1-100 letters, digits" in one_line(capsys, 2, got)
    assert not (tmp_path / "r").exists()


def test_the_longest_name_with_its_longest_suffix_is_still_a_file_name():
    longest = max(len(p.name) for p in SearchPaths(Path("r"), "x" * SEARCH_NAME_MAX).files().values())
    worker_lock = SearchPaths(Path("r"), "x" * SEARCH_NAME_MAX).lock("w" * 40)  # worker ids: at most 40
    assert max(longest, len(worker_lock.name)) + len(".12345678.tmp") + 1 <= outputs.NAME_MAX


# ------------------------------------------------------------ 5. a CSV re-saved by a spreadsheet

def resave_as_a_spreadsheet(path: Path) -> None:
    """What a spreadsheet does to the CSV: ids lose their zeros, columns move, a BOM and CRLF."""
    rows = read_rows(path)
    columns = list(rows[0])[::-1]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({**r, "trial_id": str(int(r["trial_id"]))} for r in rows)
    path.write_text(out.getvalue(), encoding="utf-8-sig", newline="")


@pytest.mark.slow
def test_a_csv_resaved_by_a_spreadsheet_still_names_its_trials_and_a_repair_keeps_them(tmp_path, tool):
    from tuner_app.report.results_csv import choose_trial, read_results

    # A search of up to 10 trials (ids 00, 01, ...), killed as it wrote the second trial's row.
    killed = tool.search(write_space(tmp_path, SPACE), fault="write:space.csv:2")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    csv_path = tmp_path / "out" / "space.csv"
    before = {r["trial_id"]: r for r in read_rows(csv_path)}
    assert sorted(before) == ["00"]
    resave_as_a_spreadsheet(csv_path)

    assert list(read_results(csv_path)["trial_id"]) == ["00"]
    assert choose_trial(csv_path, "00")["trial_id"] == choose_trial(csv_path, "0")["trial_id"] == "00"
    # What export and repeat read next (they said trial_1/record.json was not found):
    assert SearchPaths.of_csv(csv_path).record(choose_trial(csv_path, "best")["trial_id"]).is_file()

    shutil.rmtree(tmp_path / "out" / "space" / "trial_00")
    proc = tool.search(Path("space.yaml"), "--max-trials", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trial 00: its trial.json was gone; rebuilt from space.csv (COMPLETED" in proc.stdout
    after = {r["trial_id"]: r for r in read_rows(csv_path)}
    assert sorted(after) == ["00", "01"] and {r["status"] for r in after.values()} == {"COMPLETED"}
    shown = ("objective", "units_1", "learning_rate")
    assert {k: after["00"][k] for k in shown} == {k: before["00"][k] for k in shown}  # not failed, not defaults


# ------------------------------------------------------------------- 7. tracebacks, no more

def test_an_export_with_truncated_weights_is_a_sentence(tmp_path, capsys):
    from tuner_app.model.runtime import load_tensorflow

    tf = load_tensorflow()
    module = tf.Module()
    module.weights = tf.Variable(tf.zeros([4096]))
    tf.saved_model.save(module, str(tmp_path / "model"))
    (tmp_path / "model" / "trial.json").write_text(json.dumps({"k": 10, "default_timestamp": 0}))
    data = next((tmp_path / "model" / "variables").glob("variables.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # TensorFlow's reader: IndexError
    error = one_line(capsys, 2, main(["recommend", str(tmp_path / "model"), "--user", "1"]))
    assert "model: the SavedModel cannot be loaded (Read less bytes than requested)" in error
    assert "export the trial again" in error


@pytest.mark.parametrize("content,said", [
    ("[]", "trial.json: the exported model's description must be a JSON object; found a list; export the trial"),
    ('{"k": "10", "default_timestamp": 1}', "must give k as an integer; found '10'"),
])
def test_an_export_description_that_is_not_one_is_a_sentence(tmp_path, capsys, content, said):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "trial.json").write_text(content)
    assert said in one_line(capsys, 2, main(["recommend", str(tmp_path / "model"), "--user", "1"]))


def test_a_summary_that_is_not_an_object_is_a_sentence(tmp_path, capsys):
    csv_path = fake_results(tmp_path)
    (tmp_path / "s.json").write_text("[1, 2]")
    error = one_line(capsys, 2, main(["report", str(csv_path)]))
    assert "s.json: the search summary must be a JSON object; found a list" in error


def test_plots_of_a_search_whose_objective_is_all_nan_are_a_sentence(tmp_path, capsys):
    csv_path = fake_results(tmp_path, objective=None)
    before = snapshot(tmp_path)
    error = one_line(capsys, 2, main(["report", str(csv_path), "--plot"]))
    assert "s.csv: has no completed trial with a numeric objective to plot" in error
    assert snapshot(tmp_path) == before


def test_a_synthetic_size_beyond_memory_is_refused_before_anything(tmp_path, capsys):
    space = write_space(tmp_path, SPACE)
    data = "synthetic:users=1000000000,movies=1000000000,ratings=1000000000000"
    got = main(["search", "--space", str(space), "--data", data, "--results-dir", str(tmp_path / "r")])
    assert re.search(r"--data: synthetic users=1000000000, .* needs about [\d,.]+ GB of memory to generate; this "
                     r"machine has [\d,.]+ GB available; lower", one_line(capsys, 2, got))
    assert not (tmp_path / "r").exists()


# ------------------------------------------------ low: every path argument, every number

LONG = "x" * 256


def path_arguments(bad: str) -> list[list[str]]:
    """Every path argument of every command, given `bad`, the other arguments fine."""
    search = ["search", "--space", "space.yaml", "--data", TINY_DATA, "--results-dir", "r"]
    return [
        ["search", "--space", bad, "--data", TINY_DATA], ["search", "--space", "space.yaml", "--data", bad],
        [*search[:-1], bad], [*search, "--tensorboard", bad], ["validate", bad], ["report", bad],
        ["report", "s.csv", "--html", bad], ["export", bad, "--out", "m"], ["export", "s.csv", "--out", bad],
        ["repeat", bad], ["repeat", "s.csv", "--data", bad], ["recommend", bad, "--user", "1"],
    ]


@pytest.mark.parametrize("bad,said", [
    ("", "expected a path; got an empty one"),
    (LONG, "is 256 bytes long; file systems take at most 255"),
    (f"a/{LONG}/b.csv", "is 256 bytes long; file systems take at most 255"),
    ("loop", "symbolic-link loop"),
])
def test_every_path_argument_is_checked_before_its_command_runs(tmp_path, monkeypatch, capsys, bad, said):
    monkeypatch.chdir(tmp_path)
    write_space(tmp_path, SPACE)
    fake_results(tmp_path)
    os.symlink("loop", "loop")
    before = snapshot(tmp_path)
    for args in path_arguments(bad):
        assert said in one_line(capsys, 2, main(args)), args
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("args,said", [
    (["report", "folder"], "results CSV folder: is a folder, not a file; give a results CSV written by `search`"),
    (["report", "fifo"], "results CSV fifo: is a named pipe (FIFO), not a file"),
    (["export", "fifo", "--out", "m"], "results CSV fifo: is a named pipe (FIFO), not a file"),
    (["repeat", "folder"], "results CSV folder: is a folder, not a file"),
    (["recommend", "s.csv", "--user", "1"], "model folder s.csv: is a file, not a folder; give a folder written by"),
    (["search", "--space", "space.yaml", "--data", "fifo"], "--data fifo: is a named pipe (FIFO), not a file or folder of data"),
    (["search", "--space", "space.yaml", "--data", TINY_DATA, "--results-dir", "fifo"],
     "--results-dir fifo: fifo is a named pipe (FIFO), not a folder"),
    (["search", "--space", "space.yaml", "--data", "ml"], "ml/u.data: expected next to u.item (the ml-100k format "
                                                          "needs both), but it is a folder"),
])
def test_a_path_of_the_wrong_kind_is_named_as_what_it_is(tmp_path, monkeypatch, capsys, args, said):
    monkeypatch.chdir(tmp_path)
    write_space(tmp_path, SPACE)
    fake_results(tmp_path)
    os.mkfifo("fifo")
    (tmp_path / "folder").mkdir()
    (tmp_path / "ml" / "u.data").mkdir(parents=True)
    (tmp_path / "ml" / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||url|0|0|0\n")
    before = snapshot(tmp_path)
    assert said in one_line(capsys, 2, main(args))
    assert snapshot(tmp_path) == before


def numeric_actions():
    """Every option of every command whose value is parsed as a number."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(name, action) for name, sub in commands.choices.items() for action in sub._actions
            if action.type is not None and action.type.__qualname__.split(".")[0] in NUMERIC_TYPES]


#: The argparse types of `tuner_app.flags` that read numbers.
NUMERIC_TYPES = ("integer", "seconds", "timestamp")


def test_every_numeric_option_documents_its_range():
    found = numeric_actions()
    assert len(found) >= 12
    for command, action in found:
        assert re.search(r"\d to [\d,]+|64-bit|usable cores", action.help), (command, action.option_strings)


@pytest.mark.parametrize("args", [
    ["search", "--space", "s.yaml", "--max-trials", "0"], ["search", "--space", "s.yaml", "--max-trials", "100001"],
    ["search", "--space", "s.yaml", "--epochs", "10001"], ["search", "--space", "s.yaml", "--max-trial-deaths", "0"],
    ["search", "--space", "s.yaml", "--threads", "100000"], ["search", "--space", "s.yaml", "--parallel", "-1"],
    ["report", "s.csv", "--top", "0"], ["report", "s.csv", "--plot-top", "1000"], ["repeat", "s.csv", "--seeds", "0"],
    ["repeat", "s.csv", "--seeds", "100000000000"], ["recommend", "m", "--user", "1", "--k", "101"],
    ["recommend", "m", "--user", "1", "--timestamp", str(2**63)],
])
def test_a_number_out_of_its_range_is_refused_as_the_arguments_are_read(capsys, args):
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2
    assert re.search(r"expected an integer from -?\d+ to \d+; got|fit in 64 bits", capsys.readouterr().err)


@pytest.mark.slow
def test_sigterm_while_a_search_starts_stops_it_as_ctrl_c_does(tmp_path, tool):
    proc = tool.start_search(write_space(tmp_path, SPACE))
    assert proc.stdout.readline().startswith("Starting search 'space'")  # TensorFlow loads next, for seconds
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("error: search interrupted (SIGTERM); what it had finished is kept: run "
                                           "the same command again to resume it.")


# ------------------------------------------------------------ low: messages that pointed the wrong way

@pytest.mark.parametrize("text,said,unsaid", [
    ("tuner: {algorithm: random}\nhyperparameters:\n  units: \"16\"\n", "got '16' (a string: it is quoted; write 16 "
     "without quotes)", "exponent"),
    ("- a\n- b\n", "expected a search space, a YAML mapping with at least 'tuner' and 'hyperparameters'; got a list",
     ":  "),
    ("rank,trial_id,status\n" + "1,00,COMPLETED\n" * 50, "got text beginning 'rank,trial_id,status",
     "1,00,COMPLETED " * 5),
])
def test_a_space_file_that_is_not_one_is_described_briefly_and_rightly(tmp_path, capsys, text, said, unsaid):
    (tmp_path / "s.yaml").write_text(text)
    error = one_line(capsys, 2, main(["validate", str(tmp_path / "s.yaml")]))
    assert said in error and unsaid not in error and len(error) < 300


def test_a_semicolon_separated_csv_is_not_called_cut_off(tmp_path, capsys):
    rows = read_rows(fake_results(tmp_path))
    (tmp_path / "semi.csv").write_text(";".join(rows[0]) + "\n" + "".join(
        ";".join(v.replace(".", ",") for v in r.values()) + "\n" for r in rows))
    error = one_line(capsys, 2, main(["report", str(tmp_path / "semi.csv")]))
    assert "semi.csv: is not a results CSV written by tuner_app: its columns are separated by ';', not commas" in error
    assert "cut off" not in error
