"""Interrupted searches resume without losing or repeating a trial: real subprocesses, real kills."""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import TINY_DATA, Tool, copy_of, read_rows, write_space

pytestmark = pytest.mark.slow

SPACE = """
    tuner: {algorithm: random, max_trials: 3, seed: 11}
    objective: val_top_10
    training: {epochs: 3, batch_size: 64, eval_batch_size: 512}
    hyperparameters:
      num_layers: {min: 1, max: 2}
      units: {values: [8, 16]}
      learning_rate: {min: 0.02, max: 0.2, sampling: log}
"""
TRIALS = 3
EPOCHS = [1, 2, 3]


def epochs_done(cwd: Path, trial: str) -> int:
    path = cwd / "out" / "space" / f"trial_{trial}" / "record.json"
    try:
        return json.loads(path.read_text())["epochs_trained"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def hyperparameters(row: dict[str, str]) -> tuple:
    return (row["num_layers"], row["units_1"], row["units_2"], row["learning_rate"])


def assert_complete_and_unique(cwd: Path) -> list[dict[str, str]]:
    got = read_rows(cwd / "out" / "space.csv")
    assert len(got) == TRIALS
    assert len({r["trial_id"] for r in got}) == TRIALS
    assert all(r["status"] == "COMPLETED" for r in got), [(r["trial_id"], r["status"], r["reason"]) for r in got]
    for r in got:  # every trial trained exactly its epochs once: no repeated or missing epoch
        record = json.loads((cwd / "out" / "space" / f"trial_{r['trial_id']}" / "record.json").read_text())
        assert [e["epoch"] for e in record["history"]] == EPOCHS
        assert record["status"] == "COMPLETED"
    oracle = json.loads((cwd / "out" / "space" / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []
    return got


def run_reference(cwd: Path) -> None:
    proc = Tool(cwd).search(write_space(cwd, SPACE))
    assert proc.returncode == 0, proc.stderr
    assert_complete_and_unique(cwd)


@pytest.fixture(scope="module")
def finished(shared_search) -> Callable[[], Path]:
    """An uninterrupted search of SPACE, run once for the session: `finished()` is its folder."""
    return lambda: shared_search("resume-reference", run_reference)


@pytest.fixture(scope="module")
def reference(finished) -> Callable[[], set[tuple]]:
    """`reference()`: the trials an uninterrupted search runs.

    Asked for at the end of a test, after its own searches: by then another worker has
    usually run the reference search, and this one does not wait for it.
    """
    return lambda: {hyperparameters(r) for r in read_rows(finished() / "out" / "space.csv")}


@pytest.fixture
def space(tmp_path) -> Path:
    return write_space(tmp_path, SPACE)


@pytest.mark.parametrize("trial,epochs", [("0", 1), ("2", 1)], ids=["first-trial", "last-trial"])
def test_sigkill_inside_a_trial_then_resume(tmp_path, tool, space, reference, trial, epochs):
    proc = tool.start_search(space)
    tool.wait_for(lambda: epochs_done(tmp_path, trial) >= epochs, proc)
    # Somewhere in the next epoch (they are short here): a delay of its own for each case,
    # the same on every run.
    time.sleep(random.Random(f"sigkill in trial {trial}").uniform(0.0, 0.05))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = tool.search(space)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming search 'space'" in resumed.stdout
    got = assert_complete_and_unique(tmp_path)
    assert {hyperparameters(r) for r in got} == reference()
    killed = json.loads((tmp_path / "out" / "space" / f"trial_{trial}" / "record.json").read_text())
    assert killed["deaths"] == 1  # it continued from its checkpoint, not from epoch 0


def test_kill_at_the_worst_moments_then_resume(tmp_path, tool, space, reference):
    """One search, killed again and again: inside checkpoint, state, record and CSV writes."""
    # Ordered so each kill lands before the search could finish; one trial dies several
    # times here, so the death limit is lifted (it has its own test).
    for fault in ["write:oracle.json:2", "write:trial.json:2", "checkpoint:2", "write:record.json:4",
                  "epoch:3", "write:space.csv:1"]:
        killed = tool.search(space, "--max-trial-deaths", "10", fault=fault)
        assert killed.returncode == -signal.SIGKILL, (fault, killed.stdout, killed.stderr)
    resumed = tool.search(space, "--max-trial-deaths", "10")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    got = assert_complete_and_unique(tmp_path)
    assert {hyperparameters(r) for r in got} == reference()
    assert not list((tmp_path / "out").rglob("*.partial")), "no half-written checkpoint left"
    assert not list((tmp_path / "out").rglob(".*.tmp")), "no temporary file left"


def test_sigint_stops_cleanly_and_the_search_resumes(tmp_path, tool, space, reference):
    proc = tool.start_search(space)
    tool.wait_for(lambda: epochs_done(tmp_path, "1") >= 2, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    # Trial 0 finished before the stop; trial 1 was cut off and is not a row yet.
    assert [(r["trial_id"], r["status"]) for r in tool.rows()] == [("0", "COMPLETED")]
    record = json.loads((tmp_path / "out" / "space" / "trial_1" / "record.json").read_text())
    assert record["status"] == "INTERRUPTED" and record["epochs_trained"] >= 2
    resumed = tool.search(space)
    assert resumed.returncode == 0, resumed.stderr
    got = assert_complete_and_unique(tmp_path)
    assert {hyperparameters(r) for r in got} == reference()
    record = json.loads((tmp_path / "out" / "space" / "trial_1" / "record.json").read_text())
    assert record["deaths"] == 0


def test_a_trial_that_kills_the_process_every_time_is_failed_after_n_deaths(tmp_path, tool, space):
    died = tool.search(space, "--max-trial-deaths", "1", fault="epoch:5")
    assert died.returncode == -signal.SIGKILL
    final = tool.search(space, "--max-trial-deaths", "1")
    assert final.returncode == 0, final.stderr
    got = tool.rows()
    assert len(got) == TRIALS and len({r["trial_id"] for r in got}) == TRIALS
    failed = [r for r in got if r["status"] == "FAILED"]
    assert [r["trial_id"] for r in failed] == ["0"]
    assert "the process died once while this trial was running" in failed[0]["reason"]


def test_resume_with_an_edited_space_is_refused(tmp_path, finished):
    tool = copy_of(finished(), tmp_path)  # a finished search (its run's exit status is checked where it ran)
    space = tmp_path / "space.yaml"
    original = space.read_text()
    space.write_text(original.replace("max: 0.2", "max: 0.3"))
    again = tool.search(space)
    assert again.returncode == 2
    assert "started from a different search space" in again.stderr
    assert "--overwrite" in again.stderr and "--name" in again.stderr
    assert again.stderr.count("\n") == 1
    space.write_text(original)
    other = tool.search(space, data=TINY_DATA.replace("seed=5", "seed=6"))
    assert other.returncode == 2 and "started on other data" in other.stderr
    overwritten = tool.search(space, "--overwrite", "--max-trials", "1")
    assert overwritten.returncode == 0, overwritten.stderr  # --overwrite starts over
    assert "Starting search 'space'" in overwritten.stdout


def test_a_second_process_on_the_same_search_is_refused(tmp_path, tool, space):
    proc = tool.start_search(space)
    tool.wait_for(lambda: epochs_done(tmp_path, "0") >= 1, proc)
    second = tool.search(space)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert second.returncode == 2
    assert f"another process (pid {proc.pid}) is running this search" in second.stderr
    # The lock died with its holder.
    resumed = tool.search(space, "--max-trials", "1")
    assert resumed.returncode == 0, resumed.stderr


def test_damaged_state_file_is_named_not_a_traceback(tmp_path, finished):
    tool = copy_of(finished(), tmp_path)
    oracle = tmp_path / "out" / "space" / "oracle.json"
    oracle.write_text(oracle.read_text()[:40])
    again = tool.search(tmp_path / "space.yaml")
    assert again.returncode == 2
    assert "out/space/oracle.json: saved search state is damaged" in again.stderr
    assert "Traceback" not in again.stderr


def test_diverging_trials_fail_and_the_search_still_finishes(tmp_path, tool):
    space = write_space(tmp_path, """
        tuner: {algorithm: grid, max_consecutive_failed_trials: 5}
        training: {epochs: 2, batch_size: 256, eval_batch_size: 512}
        hyperparameters:
          optimizer: adam
          learning_rate: {values: [0.01, 1.0e+30, 0.05, 1.0e+31]}
    """)
    proc = tool.search(space)
    assert proc.returncode == 0, proc.stderr
    got = tool.rows()
    statuses = {float(r["learning_rate"]): r["status"] for r in got}
    assert statuses == {0.01: "COMPLETED", 1e30: "FAILED", 0.05: "COMPLETED", 1e31: "FAILED"}
    assert all("loss became" in r["reason"] for r in got if r["status"] == "FAILED")
    assert [r["rank"] for r in got] == ["1", "2", "", ""]
