"""Distributed search on loopback: a chief and workers as real processes."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from conftest import TINY_DATA, Tool, write_space

from tuner_app.distributed.pool import free_port
from tuner_app.distributed.roles import Role, parse_address, resolve_role
from tuner_app.errors import DistributeError

SPACE = """
    tuner: {algorithm: random, max_trials: 6, seed: 3}
    objective: val_top_10
    training: {epochs: 3, batch_size: 64, eval_batch_size: 512}
    hyperparameters:
      num_layers: {min: 1, max: 2}
      units: {values: [8, 16]}
      learning_rate: {min: 0.02, max: 0.2, sampling: log}
"""


def test_roles_from_flags_and_environment():
    assert resolve_role(None, None, None, environ={}) is None
    assert resolve_role(":8470", None, None, environ={}) == Role("chief", "127.0.0.1", 8470)
    assert resolve_role(None, "10.0.0.5:9000", "w1", environ={}) == Role("worker", "10.0.0.5", 9000, "w1")
    env = {"KERASTUNER_TUNER_ID": "w2", "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "9000"}
    assert resolve_role(None, None, None, environ=env) == Role("worker", "127.0.0.1", 9000, "w2")
    assert resolve_role(None, "127.0.0.1:9000", "w2", environ=env) == Role("worker", "127.0.0.1", 9000, "w2")


@pytest.mark.parametrize("args,env,pattern", [
    ((None, "127.0.0.1:9000", None, ), {}, r"--worker needs --worker-id"),
    ((None, "127.0.0.1:9000", "chief-2"), {}, r"--worker-id: expected .* not containing 'chief'; got 'chief-2'"),
    (("1:2", "3:4", None), {}, r"either the chief or a worker"),
    (("127.0.0.1:http", None, None), {}, r"--chief: expected HOST:PORT .*; got '127.0.0.1:http'"),
    ((None, "127.0.0.1:9000", "w1"), {"KERASTUNER_TUNER_ID": "w2", "KERASTUNER_ORACLE_IP": "127.0.0.1",
                                      "KERASTUNER_ORACLE_PORT": "9000"}, r"the flags say worker .* as w1 but .* as w2"),
    ((None, None, None), {"KERASTUNER_ORACLE_IP": "127.0.0.1"}, r"KERASTUNER_ORACLE_IP is set but"),
])
def test_bad_roles_get_one_sentence(args, env, pattern):
    with pytest.raises(DistributeError, match=pattern):
        resolve_role(*args, environ=env)
    assert parse_address("host:1", "--chief") == ("host", 1)


@pytest.fixture
def space(tmp_path) -> Path:
    return write_space(tmp_path, SPACE)


@pytest.mark.slow
def test_chief_and_two_workers_run_every_trial_once_even_when_a_worker_dies(tmp_path, tool, space):
    address = f"127.0.0.1:{free_port()}"
    chief = tool.start_search(space, "--chief", address, "--worker-timeout", "20")
    # w2 kills itself in its second trial's first epoch. The "epoch" fault point is reached after
    # each batch call but an epoch's first: 800 training rows are 13 batches of 64, run in calls
    # of 8 steps, so twice an epoch; 3 epochs a trial. Only then does w1 start, so w2's first
    # trial is its own and its second is lost.
    # The silence timeout leaves room for a slow first epoch (tracing) on a loaded machine: a
    # shorter one can take a live worker's trial away.
    w2 = tool.start_search(space, "--worker", address, "--worker-id", "w2", fault="epoch:7")
    assert w2.wait(timeout=240) == -signal.SIGKILL, w2.communicate()[1][-2000:]
    state = json.loads((tmp_path / "out" / "space" / "oracle.json").read_text())  # written atomically
    assert [t for t in state["end_order"] if state["tuner_app_trial_workers"].get(t) == "w2"] == ["0"]
    lost = [trial for tuner, trial in state["ongoing_trials"].items() if tuner.startswith("w2#")]
    assert lost == ["1"]
    w1 = tool.start_search(space, "--worker", address, "--worker-id", "w1")
    out, err = chief.communicate(timeout=300)
    assert chief.returncode == 0, out + err
    assert f"worker w2 silent for 20 s: its trial {lost[0]} goes to the next worker" in out
    w1_out, w1_err = w1.communicate(timeout=60)
    assert w1.returncode == 0, w1_err
    assert "the chief at" in w1_out and "has no more trials" in w1_out
    got = tool.rows()
    assert len(got) == 6 and len({r["trial_id"] for r in got}) == 6
    assert all(r["status"] == "COMPLETED" for r in got)
    by_id = {r["trial_id"]: r for r in got}
    assert by_id[lost[0]]["worker"] == "w1"  # the dead worker's trial was finished by the other
    assert {r["worker"] for r in got} == {"w1", "w2"}
    oracle = json.loads((tmp_path / "out" / "space" / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []


@pytest.mark.slow
def test_a_worker_of_another_search_is_refused(tmp_path, tool, space):
    address = f"127.0.0.1:{free_port()}"
    # The chief's timeout is shorter than the pause w1 makes in its trial below (as a long epoch
    # would): w1's heartbeat must keep the trial with w1 (issue 26: the trial was handed on, then lost).
    chief = tool.start_search(space, "--chief", address, "--max-trials", "1", "--worker-timeout", "10")
    other = tmp_path / "other"
    other.mkdir()
    stranger = Tool(other).search(space, "--worker", address, "--worker-id", "w9",
                                  data=TINY_DATA.replace("seed=5", "seed=9"))
    assert stranger.returncode == 2
    assert "the chief runs a different search" in stranger.stderr
    assert stranger.stderr.count("\n") == 1
    helper = tool.search(space, "--worker", address, "--worker-id", "w1", fault="stall=16@epoch:3")
    assert helper.returncode == 0, helper.stderr
    out, err = chief.communicate(timeout=120)
    assert chief.returncode == 0, err
    assert "silent" not in out, out
    assert [(r["worker"], r["status"]) for r in tool.rows()] == [("w1", "COMPLETED")]


def two_trial_oracle(folder: Path):
    """A chief's oracle (no gRPC) with a budget of two trials, saving its state in `folder`."""
    import keras_tuner as kt

    from tuner_app.tuning.oracles import RandomSearchOracle

    hp = kt.HyperParameters()
    hp.Float("learning_rate", 0.01, 0.1)
    oracle = RandomSearchOracle(objective=kt.Objective("val_top_10", "max"), max_trials=2, seed=1,
                                hyperparameters=hp, max_retries_per_trial=0)
    oracle._set_project_dir(str(folder), "search")
    return oracle


def complete(oracle, trial, score: float) -> None:
    """What a worker reports at the end of a trial."""
    from keras_tuner.src.engine import trial as trial_module

    oracle.update_trial(trial.trial_id, {"val_top_10": score})
    trial.status = trial_module.TrialStatus.COMPLETED
    oracle.end_trial(trial)


def test_a_worker_waits_while_others_train_so_a_requeued_trial_finds_it(tmp_path):
    oracle = two_trial_oracle(tmp_path)
    first, second = oracle.create_trial("w1#f"), oracle.create_trial("w2#f")
    assert first.status == second.status == "RUNNING"
    complete(oracle, first, 0.5)
    # Budget spent, but w2 still trains: w1 is told to wait, not to stop.
    assert oracle.create_trial("w1#f").status == "IDLE"
    assert not oracle.finished()
    # w2 dies; its trial goes back to the queue, and the waiting w1 gets it.
    oracle.last_seen["w2#f"] -= 60
    assert oracle.requeue_silent(timeout=30) == [("w2", second.trial_id)]
    again = oracle.create_trial("w1#f")
    assert (again.status, again.trial_id) == ("RUNNING", second.trial_id)
    complete(oracle, again, 0.4)
    # Nothing left anywhere: now w1 is stopped and the chief is done.
    assert oracle.create_trial("w1#f").status == "STOPPED"
    assert oracle.finished()
    assert oracle.trial_workers == {first.trial_id: "w1", second.trial_id: "w1"}


def test_a_worker_that_dies_between_trials_does_not_keep_the_chief_waiting(tmp_path):
    oracle = two_trial_oracle(tmp_path)
    for worker in ("w1#f", "w2#f"):
        trial = oracle.create_trial(worker)
        complete(oracle, trial, 0.5)
    # w2 ended its trial and died before asking for another; w1 asks and is stopped.
    assert oracle.create_trial("w1#f").status == "STOPPED"
    assert not oracle.finished()  # keras-tuner's chief would wait for w2 forever
    assert oracle.requeue_silent(timeout=30) == []  # w2 was heard from when its trial ended
    oracle.last_seen["w2#f"] -= 60
    assert oracle.requeue_silent(timeout=30) == [("w2", None)]
    assert oracle.finished()


def test_a_search_folder_another_process_is_starting_is_not_a_strangers(tmp_path, tool, space):
    """A chief and its worker may start together in one results folder: neither may refuse it."""
    from tuner_app.data import parse_data_arg
    from tuner_app.data.sources import load_ratings
    from tuner_app.errors import SearchMismatch
    from tuner_app.space import load_space
    from tuner_app.store.identity import check_or_start
    from tuner_app.store.layout import IDENTITY_FILE, SearchPaths

    spec, data_spec = load_space(space), parse_data_arg(TINY_DATA)
    ratings = load_ratings(data_spec)
    paths = SearchPaths(tmp_path, "space")
    folder = paths.state_dir
    folder.mkdir()
    (folder / f".{IDENTITY_FILE}.x1y2.tmp").write_text("{")  # the other process's state, half written
    assert check_or_start(paths, spec, ratings, data_spec, overwrite=False) is False
    assert check_or_start(paths, spec, ratings, data_spec, overwrite=False) is True  # the same search

    stranger = SearchPaths(tmp_path, "other")
    stranger.state_dir.mkdir()
    (stranger.state_dir / "notes.txt").write_text("mine")
    with pytest.raises(SearchMismatch, match=r"other: exists but was not written by tuner_app"):
        check_or_start(stranger, spec, ratings, data_spec, overwrite=False)
    assert not stranger.identity.exists()


def test_a_result_from_a_worker_whose_trial_was_handed_on_is_kept_and_the_trial_ends_once(tmp_path):
    oracle = two_trial_oracle(tmp_path)
    first = oracle.create_trial("w1#f")
    oracle.last_seen["w1#f"] -= 60  # w1 froze in a long epoch: its trial goes back to the queue
    assert oracle.requeue_silent(timeout=30) == [("w1", first.trial_id)]
    # w1 wakes up and finishes the trial before anyone took it from the queue: its result is kept,
    # and the trial leaves the queue (keras-tuner would hand the finished trial out again, and the
    # worker that got it would get it back on every ask: the loop of issue 26).
    complete(oracle, first, 0.5)
    assert oracle.get_trial(first.trial_id).status == "COMPLETED" and oracle.get_trial(first.trial_id).score == 0.5
    assert oracle._retry_queue == [] and oracle.end_order == [first.trial_id]
    second = oracle.create_trial("w1#f")
    assert second.trial_id != first.trial_id and second.status == "RUNNING"
    complete(oracle, second, 0.4)
    assert oracle.create_trial("w1#f").status == "STOPPED" and oracle.finished()


def test_when_two_workers_hold_a_handed_on_trial_the_first_end_stands(tmp_path):
    oracle = two_trial_oracle(tmp_path)
    first = oracle.create_trial("w1#f")
    oracle.last_seen["w1#f"] -= 60
    oracle.requeue_silent(timeout=30)
    again = oracle.create_trial("w2#f")  # the queue hands it to w2
    assert again.trial_id == first.trial_id
    complete(oracle, first, 0.5)  # w1 was alive after all, and ends first
    assert "w2#f" not in oracle.ongoing_trials  # w2 holds nothing now
    # w2's late reports change nothing: the figures and the end are w1's.
    late = oracle.update_trial(first.trial_id, {"val_top_10": 0.9}, step=3)
    assert late.status == "COMPLETED"
    complete(oracle, again, 0.9)
    assert oracle.get_trial(first.trial_id).score == 0.5 and oracle.end_order == [first.trial_id]
    assert [o.value for o in oracle.get_trial(first.trial_id).metrics.get_history("val_top_10")] == [[0.5]]
    # The heartbeat: asking about a trial counts as word from whoever holds it.
    second = oracle.create_trial("w2#f")
    oracle.last_seen["w2#f"] -= 60
    oracle.get_trial(second.trial_id)
    assert oracle.requeue_silent(timeout=30) == []


@pytest.mark.parametrize("flag,value,said", [
    ("--worker-timeout", "0", "expected 10 to 604800 seconds; got 0"),
    ("--worker-timeout", "-3", "expected 10 to 604800 seconds; got -3"),
    ("--worker-timeout", "nan", "expected 10 to 604800 seconds; got nan"),
    ("--worker-timeout", "1e9", "expected 10 to 604800 seconds; got 1e9"),
    ("--chief-wait", "0", "expected 5 to 604800 seconds; got 0"),
    ("--chief-wait", "soon", "expected seconds as a number; got 'soon'"),
])
def test_timeouts_and_waits_outside_their_range_are_refused_before_any_work(capsys, flag, value, said):
    from tuner_app.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["search", "--space", "smoke.yaml", flag, value])
    assert exit_.value.code == 2 and said in capsys.readouterr().err
