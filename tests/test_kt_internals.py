"""One test per patch of keras-tuner (tuning/kt_internals.py): each checks the keras-tuner behaviour the patch
works around, so that it fails the day keras-tuner changes it (and the patch may go, or must change)."""

from __future__ import annotations

import inspect

import pytest

import tuner_app  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tuner_app.tuning import kt_internals


def plain_oracle(tmp_path, kind: str = "random", **options):
    """keras-tuner's own oracle (none of tuner_app's mixins), saving its state in `tmp_path`."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Choice("units", [8, 16, 32])
    oracles = {"random": kt.oracles.RandomSearchOracle, "grid": kt.oracles.GridSearchOracle}
    oracle = oracles[kind](objective=kt.Objective("score", "max"), max_trials=3, hyperparameters=hp, seed=1,
                           **options)
    oracle._set_project_dir(str(tmp_path), "p")
    return oracle


def end(oracle, trial, status="COMPLETED", score=0.5):
    if status == "COMPLETED":
        oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = status
    oracle.end_trial(trial)


def test_the_installed_keras_tuner_is_one_these_internals_were_read_from(monkeypatch):
    import keras_tuner as kt

    kt_internals.check_version()
    monkeypatch.setattr(kt, "__version__", "1.5.0")
    with pytest.raises(Exception, match=r"keras-tuner 1\.5\.0 is installed; .* install keras-tuner==1\.4\.8"):
        kt_internals.check_version()


def test_keras_tuner_keeps_its_oracle_lock_when_a_synchronized_call_raises(tmp_path):
    """Why `holding` exists: `synchronized` leaves the lock held after an error, and the chief would hang."""
    import keras_tuner as kt
    from keras_tuner.src.engine import oracle as oracle_module

    class Raising(kt.oracles.RandomSearchOracle):
        @kt.synchronized
        def create_trial(self, tuner_id):
            raise ValueError("boom")

    oracle = Raising(objective=kt.Objective("score", "max"), max_trials=1, seed=1)
    with pytest.raises(ValueError):
        oracle.create_trial("t")
    assert oracle_module.LOCKS[oracle].locked()  # keras-tuner's: still held
    oracle_module.LOCKS[oracle].release()
    oracle_module.THREADS[oracle] = None
    with pytest.raises(ValueError), kt_internals.holding(oracle):
        raise ValueError("boom")
    assert not oracle_module.LOCKS[oracle].locked()  # ours: released


def test_keras_tuner_runs_a_requeued_trial_again_after_it_ended(tmp_path):
    """Why the worker gate takes an ended trial out of the queue: keras-tuner's end leaves it there."""
    oracle = plain_oracle(tmp_path)
    trial = oracle.create_trial("w1")
    kt_internals.retry_queue(oracle).append(trial.trial_id)  # handed on, as a silent worker's trial is
    end(oracle, trial)
    assert trial.trial_id in kt_internals.retry_queue(oracle)
    assert oracle.create_trial("w2").trial_id == trial.trial_id  # the ended trial, handed out again


def test_keras_tuner_forgets_a_grid_searchs_order_when_it_reloads(tmp_path):
    """Why `restore_grid_order` exists."""
    oracle = plain_oracle(tmp_path, "grid")
    for _ in range(2):
        end(oracle, oracle.create_trial("t"))
    state = oracle.get_state()
    again = plain_oracle(tmp_path, "grid")
    again.set_state(state)
    assert again._ordered_ids._memory == [] and again._populate_next == []  # the order is gone
    kt_internals.restore_grid_order(again, list(state["start_order"]))
    assert again._ordered_ids._memory == again._populate_next == list(state["start_order"])


def test_keras_tuner_prints_from_a_conditions_proto_and_the_patch_stops_it(capsys):
    """Why `silence_condition_print` exists: 1.4.8's `Parent.to_proto` prints a bare value."""
    from keras_tuner.src.engine import conditions

    if "print(self.values[0])" not in inspect.getsource(conditions.Parent.to_proto):
        pytest.fail("keras-tuner no longer prints in Parent.to_proto: kt_internals.silence_condition_print can go")
    kt_internals.silence_condition_print()
    proto = conditions.Parent("num_layers", [2, 3]).to_proto()
    assert capsys.readouterr().out == "" and list(proto.parent.values)[0].int_value == 2


def test_keras_tuner_prints_tracebacks_unless_told_not_to():
    """Why `quiet` sets DEBUG: keras-tuner's default prints every failed trial's traceback."""
    from keras_tuner.src import config

    assert "DEBUG = True" in inspect.getsource(config)


def test_keras_tuners_too_many_failures_error_is_recognised(tmp_path):
    oracle = plain_oracle(tmp_path, max_consecutive_failed_trials=1)
    with pytest.raises(RuntimeError) as raised:
        end(oracle, oracle.create_trial("t"), status="FAILED")
    assert kt_internals.is_too_many_failures(raised.value)
    assert not kt_internals.is_too_many_failures(RuntimeError("something else"))


def test_every_internal_reached_is_still_there(tmp_path):
    """The names `kt_internals` reaches, as keras-tuner spells them: renamed, this fails here first."""
    import keras_tuner as kt

    oracle = plain_oracle(tmp_path)
    trial = oracle.create_trial("t")
    assert kt_internals.state_path(oracle).endswith("oracle.json")
    assert kt_internals.trial_folder(oracle, trial.trial_id).endswith(f"trial_{trial.trial_id}")
    assert kt_internals.project_folder(oracle) == str(tmp_path / "p")
    assert isinstance(kt_internals.values_hash(oracle, trial.hyperparameters.values), str)
    assert isinstance(kt_internals.display_state(oracle), dict)
    kt_internals.save_trial(oracle, trial)
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    kt_internals.forget_metrics(trial)
    assert not trial.metrics.exists("score")
    for name in ("_is_worker", "_get_tuner_fname", "_populate_initial_space", "_run_and_update_trial"):
        assert callable(getattr(kt.engine.base_tuner.BaseTuner, name)), name
    assert kt_internals.get_space_request() is not None and kt_internals.get_trial_request("0").trial_id == "0"
