"""The tool used as a hostile user would: killed pools, absent chiefs, deleted and damaged state,
a full disk, bad input. Each gets a sentence and a non-zero exit, or a recovery; nothing finished
is lost. Real processes throughout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import TINY_DATA, Tool, copy_of, tool_env, write_space

from tuner_app.distributed.pool import free_port
from tuner_app.store.layout import SearchPaths

pytestmark = pytest.mark.slow

SPACE = """
    tuner: {algorithm: random, max_trials: 3, seed: 11}
    objective: val_top_10
    training: {epochs: 2, batch_size: 128, eval_batch_size: 512}
    hyperparameters:
      num_layers: {min: 1, max: 2}
      units: {values: [8, 16]}
      learning_rate: {min: 0.02, max: 0.2, sampling: log}
"""


def one_line_error(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def statuses(tool: Tool) -> dict[str, str]:
    return {r["trial_id"]: r["status"] for r in tool.rows()}


def run_finished(cwd: Path) -> None:
    proc = Tool(cwd).search(write_space(cwd, SPACE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def finished(shared_search) -> Path:
    """A finished three-trial search (run once for the session), copied by each test that damages it."""
    return shared_search("faults-finished", run_finished)


@pytest.fixture
def copy(finished, tmp_path) -> Tool:
    return copy_of(finished, tmp_path)


def state(tool: Tool) -> Path:
    return tool.cwd / "out" / "space"


def files(folder: Path) -> set[str]:
    """The files of a search's folder, locks aside."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock"}


@pytest.fixture(scope="module")
def resumed_without_oracle_state(shared_search, finished) -> Callable[[], Path]:
    """`resumed_without_oracle_state()`: `finished` without its oracle.json, then searched again as it
    was started (run once for the session)."""
    def build(cwd: Path) -> None:
        tool = copy_of(finished, cwd)
        (state(tool) / "oracle.json").unlink()
        proc = tool.search(Path("space.yaml"))
        assert proc.returncode == 0, proc.stdout + proc.stderr

    return lambda: shared_search("faults-without-oracle-state", build)


# ---------------------------------------------------------------------- deleted or damaged state

@pytest.mark.parametrize("damage,note", [
    (lambda s: (s / "oracle.json").unlink(), "oracle state was missing; rebuilt from the 3 trials' files"),
    (lambda s: shutil.rmtree(s / "trial_0"), "trial 0: its trial.json was gone; rebuilt from space.csv"),
    (lambda s: (s / "trial_1" / "trial.json").unlink(), "trial 1: its trial.json was gone; rebuilt from space.csv"),
    (lambda s: (s / "vocabulary.npz").write_bytes((s / "vocabulary.npz").read_bytes()[:200]),
     "vocabulary.npz was damaged"),
], ids=["oracle.json deleted", "trial folder deleted", "trial.json deleted", "vocabulary.npz truncated"])
def test_deleted_state_is_rebuilt_and_the_search_goes_on(copy, damage, note):
    before = {r["trial_id"]: r["objective"] for r in copy.rows()}
    damage(state(copy))
    proc = copy.search(Path("space.yaml"), "--max-trials", "4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "repaired: " in proc.stdout and note in proc.stdout
    after = {r["trial_id"]: r["objective"] for r in copy.rows()}
    assert {k: after[k] for k in before} == before  # nothing finished was lost
    assert len(after) == 4 and set(statuses(copy).values()) == {"COMPLETED"}


@pytest.mark.parametrize("content,pattern", [
    ("{}", r"oracle\.json: keras-tuner's oracle state lacks ongoing_trials, .*; delete the file to have it rebuilt"),
    ("[1, 2]", r"oracle\.json: keras-tuner's oracle state must be a JSON object; found list"),
    ('{"ongoing', r"oracle\.json: saved search state is damaged .*; delete it to have it rebuilt from the trials"),
])
def test_an_oracle_state_that_is_not_keras_tuners_is_named_with_the_way_out(copy, finished, content, pattern,
                                                                          resumed_without_oracle_state):
    import re

    (state(copy) / "oracle.json").write_text(content)
    error = one_line_error(copy.search(Path("space.yaml")))
    assert re.search(pattern, error), error
    (state(copy) / "oracle.json").unlink()  # the way out the sentence gives
    # The refused search wrote no file but space.json (its baselines' timing) and the lock, so
    # every case is now the finished search without its oracle.json: the same command on that
    # is run once for them all (`resumed_without_oracle_state`, which checks its exit status).
    assert files(copy.cwd) == files(finished) - {"out/space/oracle.json"}
    way_out = Tool(resumed_without_oracle_state())
    assert statuses(way_out) == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED"}
    assert (state(way_out) / "oracle.json").exists()  # rebuilt


def test_a_damaged_record_of_a_finished_trial_is_noticed_at_start_up(copy):
    record = state(copy) / "trial_2" / "record.json"
    record.write_text(record.read_text()[:50])
    error = one_line_error(copy.search(Path("space.yaml")))
    assert "trial_2/record.json: the trial record is damaged" in error and "delete it" in error
    record.unlink()
    assert copy.search(Path("space.yaml")).returncode == 0
    assert statuses(copy) == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED"}


def test_a_damaged_checkpoint_of_the_running_trial_retrains_it_from_scratch(tmp_path, tool):
    space = write_space(tmp_path, SPACE.replace("epochs: 2", "epochs: 3"))
    # 800 training rows in batches of 128 are 7 steps, run as one call: the "epoch" point is
    # reached once an epoch, before the epoch is recorded. The 2nd time is in trial 0's second
    # epoch: its first is checkpointed.
    killed = tool.search(space, fault="epoch:2")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    record = json.loads((tmp_path / "out" / "space" / "trial_0" / "record.json").read_text())
    assert record["last_checkpoint"], record
    for part in (tmp_path / "out" / "space" / "trial_0" / record["last_checkpoint"]).glob("ckpt.data*"):
        part.write_bytes(part.read_bytes()[:10])
    proc = tool.search(space)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trial 0: its checkpoint" in proc.stdout and "training the trial again from scratch" in proc.stdout
    assert set(statuses(tool).values()) == {"COMPLETED"}
    redone = json.loads((tmp_path / "out" / "space" / "trial_0" / "record.json").read_text())
    assert [e["epoch"] for e in redone["history"]] == [1, 2, 3]


# ---------------------------------------------------------------------------------- a full disk

def test_a_full_disk_stops_the_search_without_failing_trials_and_it_resumes(tmp_path, tool):
    space = write_space(tmp_path, SPACE)
    full = tool.search(space, fault="enospc@checkpoint:4")  # from the 4th checkpoint on, no space
    error = one_line_error(full, code=1)
    assert "no space left on the device" in error and "run the same command again" in error
    stopped = statuses(tool) if (tmp_path / "out" / "space.csv").exists() else {}
    assert len(stopped) < 3 and "FAILED" not in stopped.values()  # the cut-off trial is not failed
    resumed = tool.search(space)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert statuses(tool) == {"0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED"}
    for trial in "012":  # continued, not counted as deaths, every epoch once
        record = json.loads((tmp_path / "out" / "space" / f"trial_{trial}" / "record.json").read_text())
        assert record["deaths"] == 0 and [e["epoch"] for e in record["history"]] == [1, 2]


def test_a_full_disk_while_writing_the_vocabularies_leaves_no_temporary_file(tmp_path, tool):
    error = one_line_error(tool.search(write_space(tmp_path, SPACE), fault="enospc@write:vocabulary.npz:1"), 1)
    assert "vocabulary.npz: no space left on the device" in error
    assert not list((tmp_path / "out").rglob("*.tmp"))


# ----------------------------------------------------------------- pools and chiefs that vanish

def pid_in(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="--parallel 2 needs two cores")
def test_killing_a_parallel_search_takes_its_workers_with_it_and_the_search_resumes(tmp_path, tool):
    space = write_space(tmp_path, SPACE.replace("max_trials: 3", "max_trials: 4").replace("epochs: 2", "epochs: 6")
                        .replace("batch_size: 128", "batch_size: 32"))
    chief = tool.start_search(space, "--parallel", "2")
    locks = [SearchPaths(tmp_path / "out", "space").lock(f"p{i}") for i in (1, 2)]
    tool.wait_for(lambda: all(pid_in(lock) for lock in locks)
                  and any((tmp_path / "out" / "space").glob("trial_*/record.json")), chief, timeout=240)
    workers = [pid_in(lock) for lock in locks]
    chief.send_signal(signal.SIGKILL)
    chief.wait()
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(alive(pid) for pid in workers), "the workers outlived their chief"
    resumed = tool.search(space, "--parallel", "2", timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert statuses(tool) == {str(i): "COMPLETED" for i in range(4)}  # the cut-off trials continued


def test_a_worker_without_a_chief_says_so_and_gives_up_after_chief_wait(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    space = write_space(tmp_path, SPACE)
    # A worker that waited on (keras-tuner's client waits an hour a call) would hit the timeout
    # and fail the test; the exit status and the sentence say it gave up because of
    # --chief-wait, and the one "waiting" line that it waited once, not over and over.
    proc = Tool(tmp_path).search(space, "--worker", address, "--worker-id", "w1", "--chief-wait", "8", timeout=120)
    error = one_line_error(proc)
    assert f"--worker {address}: the chief did not answer for 8 s (--chief-wait)" in error
    assert proc.stdout.count(f"waiting for the chief at {address}") == 1, proc.stdout
    assert not (tmp_path / "out" / "space" / "trial_0").exists()  # nothing was trained


def test_a_chief_started_while_its_worker_waits_is_picked_up(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    space = write_space(tmp_path, SPACE)
    log = tmp_path / "worker.log"
    args = [sys.executable, "-m", "tuner_app", *Tool.search_args(space, "--worker", address, "--worker-id", "w1")]
    with open(log, "w") as out:
        worker = subprocess.Popen(args, cwd=tmp_path, env=tool_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        Tool.wait_for(lambda: "waiting for the chief" in log.read_text(), worker, timeout=120)
        chief = Tool(tmp_path).search(space, "--chief", address, timeout=300)
        assert chief.returncode == 0, chief.stdout + chief.stderr
        assert worker.wait(timeout=120) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    assert "has no more trials; this worker ran 3 trial(s)" in log.read_text()
    assert "3/3 trials done" not in log.read_text()  # a worker runs some trials: no total of its own


# ------------------------------------------------------------------------- tracebacks, no more

def test_exporting_a_trial_whose_weights_are_gone_is_a_sentence(copy):
    shutil.rmtree(state(copy) / "trial_0" / "checkpoints")
    shutil.rmtree(state(copy) / "trial_1" / "checkpoints")
    shutil.rmtree(state(copy) / "trial_2" / "checkpoints")
    error = one_line_error(copy.run("export", "out/space.csv", "--out", "model"))
    assert "saved weights are missing or damaged" in error and "repeat" in error
    assert not (copy.cwd / "model").exists()


def test_export_to_a_file_and_a_broken_model_folder_are_sentences(copy):
    (copy.cwd / "afile").write_text("x")
    assert "--out afile: is a file" in one_line_error(copy.run("export", "out/space.csv", "--out", "afile"))
    assert copy.run("export", "out/space.csv", "--out", "model").returncode == 0
    too_big = copy.run("recommend", "model", "--user", "1", "--timestamp", "99999999999999999999999")
    assert too_big.returncode == 2 and "fit in 64 bits" in too_big.stderr and "Traceback" not in too_big.stderr
    (copy.cwd / "model" / "saved_model.pb").unlink()
    error = one_line_error(copy.run("recommend", "model", "--user", "1"))
    assert "model: the SavedModel cannot be loaded" in error and "export the trial again" in error
    (copy.cwd / "model" / "trial.json").write_text("{")
    assert "--overwrite" not in one_line_error(copy.run("recommend", "model", "--user", "1"))


def test_bad_places_and_variables_are_sentences(tmp_path, tool):
    space = write_space(tmp_path, SPACE)
    (tmp_path / "afile").write_text("x")
    assert "--results-dir afile: afile is a file" in one_line_error(
        tool.run("search", "--space", str(space), "--data", TINY_DATA, "--results-dir", "afile"))
    (tmp_path / "out" / "space.lock").mkdir(parents=True)
    assert "out/space.lock: is a folder" in one_line_error(tool.search(space))
    env = {**tool_env(), "KERASTUNER_TUNER_ID": "w1", "KERASTUNER_ORACLE_IP": "127.0.0.1",
           "KERASTUNER_ORACLE_PORT": "abc"}
    proc = subprocess.run([sys.executable, "-m", "tuner_app", *Tool.search_args(space)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "KERASTUNER_ORACLE_PORT must be a port from 1 to 65535; got 'abc'" in one_line_error(proc)
    cores = len(os.sched_getaffinity(0))
    assert f"--parallel 100: this machine has {cores} usable CPU core(s)" in one_line_error(
        tool.search(space, "--parallel", "100"))


def test_too_little_data_is_refused_before_anything_is_written(tmp_path, tool):
    error = one_line_error(tool.search(write_space(tmp_path, SPACE), data="synthetic:ratings=1"))
    assert "1 rating(s) leave 1 for training and 0 for validation" in error
    assert not (tmp_path / "out").exists()


def test_resuming_with_another_epochs_flag_says_so(tmp_path, tool):
    space = write_space(tmp_path, SPACE)
    assert tool.search(space, "--max-trials", "1", "--epochs", "1").returncode == 0
    error = one_line_error(tool.search(space, "--epochs", "2"))
    assert "started with --epochs 1, and is resumed with --epochs 2; the space file is unchanged" in error
    error = one_line_error(tool.search(space, "--epochs", "1", data=TINY_DATA.replace("seed=5", "seed=6")))
    assert error.count("split holdout_fraction 0, seed 42, test_fraction 0.2, train_fraction 0.8") == 2


def test_rebuilt_state_never_reuses_an_old_trial_id(copy):
    # The oracle state and one finished trial's folder are gone: the trial is rebuilt from the
    # CSV, and the new trial takes the next id, not the lost one's.
    (state(copy) / "oracle.json").unlink()
    shutil.rmtree(state(copy) / "trial_1")
    proc = copy.search(Path("space.yaml"), "--max-trials", "4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert statuses(copy) == {str(i): "COMPLETED" for i in range(4)}
    assert len({r["learning_rate"] for r in copy.rows()}) == 4  # four different trials


def test_a_grid_search_resumes_where_it_stopped(tmp_path, tool):
    space = write_space(tmp_path, """
        tuner: {algorithm: grid}
        objective: val_top_10
        training: {epochs: 1, batch_size: 256, eval_batch_size: 512}
        hyperparameters:
          units: {values: [8, 16]}
          learning_rate: {values: [0.05, 0.1]}
    """)
    killed = tool.search(space, fault="write:space.csv:2")  # after the second trial
    assert killed.returncode == -signal.SIGKILL
    resumed = tool.search(space)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = tool.rows()
    assert sorted((r["units_1"], r["learning_rate"]) for r in rows) == [
        ("16", "0.05"), ("16", "0.1"), ("8", "0.05"), ("8", "0.1")]  # every combination, once
