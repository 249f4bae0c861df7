"""No output path of any command removes or overwrites a file the user did not name as that output.

The path checks run before TensorFlow loads, so most cases run `cli.main` in this
process on a search's files laid out by hand; an interrupted export runs for real.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from conftest import TINY_DATA, Tool, write_space

from tuner_app.cli import main
from tuner_app.store import outputs
from tuner_app.store.layout import MODEL_DESCRIPTION_FILE, MODEL_FORMAT

#: A finished search as `search` leaves it (tests/test_compat.py resumes it).
FINISHED_SEARCH = Path(__file__).parent / "fixtures" / "before-own-data"

SPACE = """
    tuner: {algorithm: random, max_trials: 2, seed: 11}
    objective: val_top_10
    training: {epochs: 2, batch_size: 128, eval_batch_size: 512}
    hyperparameters:
      units: {values: [8, 16]}
"""


def one_line(capsys, code: int = 2) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes: what must survive a refused command."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def layout(tmp_path, monkeypatch) -> Path:
    """A results folder with two searches' files and a user's own folder of notes, as export meets them."""
    monkeypatch.chdir(tmp_path)
    for name in ("smoke", "other"):
        (tmp_path / "r" / name / "trial_0").mkdir(parents=True)
        (tmp_path / "r" / name / "search.json").write_text(json.dumps({"name": name}))
        (tmp_path / "r" / name / "trial_0" / "record.json").write_text("{}")
        for suffix in (".csv", ".history.csv", ".json"):
            (tmp_path / "r" / f"{name}{suffix}").write_text(f"{name}{suffix}\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "notes.txt").write_text("mine")
    return tmp_path


@pytest.mark.parametrize("out,said", [
    ("r/smoke", "is the state folder of search 'smoke'"),
    ("r", "holds the results of search 'smoke'"),
    (".", "holds the results of search 'smoke'"),
    ("r/smoke.csv", "is a file"),
    ("r/smoke/trial_0/model", "is inside"),
    ("r/other", "the folder exists and is not a model exported by tuner_app (it holds search.json, trial_0)"),
    ("models", "is not a model exported by tuner_app (it holds notes.txt)"),
    ("", "expected a path; got an empty one"),
    ("x" * 256, "file systems take at most 255"),
])
def test_export_refuses_every_folder_that_is_not_its_own_and_deletes_nothing(layout, capsys, out, said):
    before = snapshot(layout)
    assert main(["export", "r/smoke.csv", "--out", out]) == 2
    assert said in one_line(capsys)
    assert snapshot(layout) == before
    assert not [p for p in layout.rglob(".*") if p.name.startswith(".")]  # no staging folder left either


def test_export_refuses_the_parent_of_its_results_and_odd_kinds_of_path(layout, capsys):
    before = snapshot(layout)
    os.chdir(layout / "r")
    assert main(["export", "smoke.csv", "--out", ".."]) == 2
    assert "--out ..: holds the results of search 'smoke'" in one_line(capsys)
    os.mkfifo(layout / "fifo")
    os.symlink(layout / "loop", layout / "loop")
    os.chdir(layout)
    assert main(["export", "r/smoke.csv", "--out", "fifo"]) == 2
    assert "neither a file nor a folder" in one_line(capsys)
    assert main(["export", "r/smoke.csv", "--out", "loop"]) == 2
    assert "symbolic-link loop" in one_line(capsys)
    (layout / "fifo").unlink()
    (layout / "loop").unlink()
    assert snapshot(layout) == before


def test_a_previous_export_is_replaced_only_when_it_holds_nothing_else(tmp_path):
    out = tmp_path / "model"
    outputs.check_export_target(out)  # new: fine
    out.mkdir()
    outputs.check_export_target(out)  # empty: fine
    (out / "saved_model.pb").write_bytes(b"pb")
    (out / MODEL_DESCRIPTION_FILE).write_text(json.dumps({"format": MODEL_FORMAT, "trial_id": "0"}))
    outputs.check_export_target(out)  # a previous export: fine
    (out / "README.md").write_text("my notes")
    with pytest.raises(Exception, match=r"also README\.md, which export did not write"):
        outputs.check_export_target(out)


@pytest.mark.parametrize("previous", [True, False])
def test_swapping_a_new_folder_in_and_back_leaves_the_previous_one(tmp_path, previous):
    out, new = tmp_path / "model", tmp_path / ".model.export-1"
    if previous:
        out.mkdir()
        (out / "which").write_text("old")
    new.mkdir()
    (new / "which").write_text("new")
    kept = outputs.swap_in(new, out)
    assert (out / "which").read_text() == "new"
    outputs.swap_back(kept, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["model"] if previous else [])
    if previous:
        assert (out / "which").read_text() == "old"
    new.mkdir()
    (new / "which").write_text("new")
    outputs.discard(outputs.swap_in(new, out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"] and (out / "which").read_text() == "new"


@pytest.mark.slow
def test_an_export_interrupted_while_tensorflow_writes_leaves_the_previous_export(tmp_path, tool: Tool):
    shutil.copytree(FINISHED_SEARCH, tmp_path, dirs_exist_ok=True)  # a finished two-trial search, state and all
    assert tool.run("export", "out/space.csv", "--trial", "1", "--out", "model").returncode == 0
    before = snapshot(tmp_path / "model")

    proc = tool.start("export", "out/space.csv", "--trial", "0", "--out", "model")
    # TensorFlow's SavedModel writer has begun: its folder is there (it swallowed Ctrl-C here once).
    tool.wait_for(lambda: any((p / "variables").exists() for p in tmp_path.glob(".model.export-*")), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "export interrupted (SIGINT); model is as it was before." in err and "Traceback" not in err
    assert snapshot(tmp_path / "model") == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

    # Not interrupted, the same command replaces the previous export.
    done = tool.run("export", "out/space.csv", "--trial", "0", "--out", "model")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "model" / MODEL_DESCRIPTION_FILE).read_text())["trial_id"] == "0"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_signal_while_the_new_folder_goes_in_is_held_and_the_swap_undone(tmp_path):
    """What export does when Ctrl-C or SIGTERM arrives during the swap: the signal waits, then the previous
    folder goes back."""
    out, new = tmp_path / "model", tmp_path / ".model.export-1"
    out.mkdir()
    (out / "which").write_text("old")
    new.mkdir()
    with outputs.held_signals() as caught:
        kept = outputs.swap_in(new, out)
        os.kill(os.getpid(), signal.SIGTERM)  # noted, not acted on: this process goes on
        assert caught == [signal.SIGTERM]
        outputs.swap_back(kept, out)
    assert (out / "which").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("args,said", [
    (["report", "r/smoke.csv", "--html", "r/smoke.csv"], "--html r/smoke.csv: is the results of search 'smoke'"),
    (["report", "r/smoke.csv", "r/other.csv", "--html", "r/other.history.csv"],
     "--html r/other.history.csv: is the history of search 'other'"),
    (["report", "r/smoke.csv", "--html", "r"], "--html r: is a folder; give the name of a file to write"),
    (["report", "r/smoke.csv", "--html", "/sys/report.html"], "cannot write in the folder /sys"),
    (["report", "r/smoke.csv", "--html", "r/smoke/page.html"], "is inside"),
])
def test_report_writes_nothing_over_what_it_reads(layout, capsys, args, said):
    before = snapshot(layout)
    assert main(args) == 2
    assert said in one_line(capsys)
    assert snapshot(layout) == before


@pytest.mark.parametrize("logs,said", [
    ("space.yaml", "--tensorboard space.yaml: is a file; give a folder"),
    ("r", "--tensorboard r: holds the results of search 'smoke'"),
    ("r/smoke", "is the state folder of search 'smoke'"),
    ("/sys/logs", "cannot write in the folder /sys"),
])
def test_search_checks_its_tensorboard_folder_before_any_work(layout, capsys, logs, said):
    space = write_space(layout, SPACE)
    before = snapshot(layout)
    args = ["search", "--space", str(space), "--data", TINY_DATA, "--results-dir", "r", "--name", "smoke"]
    assert main([*args, "--tensorboard", logs]) == 2
    assert said in one_line(capsys)
    assert snapshot(layout) == before


def test_a_write_where_the_system_refuses_it_is_a_sentence():
    from tuner_app.errors import ResultsError
    from tuner_app.store import atomic

    with pytest.raises(ResultsError, match=r"^/sys/page\.html: cannot be written \(Permission denied\)"):
        atomic.write_text_atomic("/sys/page.html", "x")
