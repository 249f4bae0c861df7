"""MovielensHyperModel: the space declared from YAML, each depth built as asked."""

from __future__ import annotations

import textwrap

import keras_tuner as kt
import numpy as np
import pytest

import tuner_app  # noqa: F401
from tuner_app.data import SyntheticSpec, make_synthetic
from tuner_app.model import features
from tuner_app.space import SEARCH_SPACES_DIR, parse_space
from tuner_app.tuning.hypermodel import MovielensHyperModel


@pytest.fixture(scope="module")
def vocab():
    return features.build_vocabulary(make_synthetic(SyntheticSpec(users=30, movies=40, ratings=600, seed=1)))


def hypermodel(vocab, hyperparameters: str) -> MovielensHyperModel:
    text = "tuner: {algorithm: random, max_trials: 3}\nhyperparameters:\n" + textwrap.indent(
        textwrap.dedent(hyperparameters), "  "
    )
    return MovielensHyperModel(parse_space(text, "t.yaml"), vocab)


def test_space_declares_a_width_per_layer_active_only_when_the_layer_exists(vocab):
    hm = hypermodel(vocab, """
        num_layers: {min: 1, max: 3}
        units: {min: 16, max: 64, step: 16}
        activation: {values: [relu, gelu]}
        optimizer: {values: [adagrad, adam]}
        learning_rate: {min: 1.0e-3, max: 0.3, sampling: log}
    """)
    space = hm.search_space()
    names = [p.name for p in space.space]
    assert names == ["num_layers", "units_1", "units_2", "units_3", "activation", "optimizer", "learning_rate"]
    by_name = {p.name: p for p in space.space}
    assert not by_name["units_1"].conditions
    assert by_name["units_2"].conditions[0].values == [2, 3]
    assert by_name["units_3"].conditions[0].values == [3]
    lr = by_name["learning_rate"]
    assert (lr.min_value, lr.max_value, lr.sampling) == (1e-3, 0.3, "log")


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_builds_each_depth_with_its_own_widths(vocab, depth):
    hm = hypermodel(vocab, """
        num_layers: {min: 1, max: 3}
        units: {values: [8, 16, 24]}
        activation: tanh
        optimizer: adam
        learning_rate: 0.01
    """)
    hp = hm.search_space()
    hp.values["num_layers"] = depth
    widths = [24, 16, 8]
    for i in range(1, 4):
        hp.values[f"units_{i}"] = widths[i - 1]
    config = hm.model_config(hp)
    assert config.layer_sizes == tuple(widths[:depth])
    model = hm.build(hp)
    assert [layer.units for layer in model.query_model.dense_layers.layers] == widths[:depth]
    assert [layer.units for layer in model.candidate_model.dense_layers.layers] == widths[:depth]
    activations = [layer.activation.__name__ for layer in model.query_model.dense_layers.layers]
    assert activations == ["tanh"] * (depth - 1) + ["linear"]
    assert type(model.optimizer).__name__ == "Adam"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    assert model.candidate_embeddings().shape == (vocab.num_titles, widths[depth - 1])


def test_layer_sizes_choice_builds_the_tutorials_stacks(vocab):
    hm = hypermodel(vocab, """
        layer_sizes: {values: ["32", "64,32", "128,64,32"]}
    """)
    hp = hm.search_space()
    assert [p.name for p in hp.space] == ["layer_sizes", "activation", "optimizer", "learning_rate"]
    hp.values["layer_sizes"] = "128,64,32"
    config = hm.model_config(hp)
    assert config.layer_sizes == (128, 64, 32)
    assert (config.activation, config.optimizer, config.learning_rate) == ("relu", "adagrad", 0.1)


def test_oracle_samples_only_declared_values(vocab):
    hm = hypermodel(vocab, """
        num_layers: {min: 1, max: 2}
        units: {values: [8, 16]}
        learning_rate: {min: 0.01, max: 0.1, sampling: log}
    """)
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("val_top_100", "max"), max_trials=20, seed=3,
        hyperparameters=hm.search_space(), tune_new_entries=False, allow_new_entries=False,
    )
    rng_values = [oracle.populate_space(str(i))["values"] for i in range(20)]
    for values in rng_values:
        config = hm.model_config(_hp(hm, values))
        assert len(config.layer_sizes) == values["num_layers"]
        assert set(config.layer_sizes) <= {8, 16}
        assert 0.01 <= config.learning_rate <= 0.1
        assert ("units_2" in values) == (values["num_layers"] == 2)
    assert len({v["num_layers"] for v in rng_values}) == 2
    assert np.std([v["learning_rate"] for v in rng_values]) > 0


def _hp(hm, values):
    hp = hm.search_space()
    hp.values.update(values)
    return hp


@pytest.mark.parametrize("path", sorted(SEARCH_SPACES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_space_builds_its_hyperparameters_oracle_and_first_trials(vocab, path, tmp_path):
    from tuner_app.space import ModelConfig, TrainingConfig, load_space
    from tuner_app.tuning.oracles import make_oracle

    spec = load_space(path)
    hm = MovielensHyperModel(spec, vocab)
    space = hm.search_space()
    declared = {p.name for p in space.space}
    assert {"activation", "optimizer", "learning_rate"} <= declared
    oracle = make_oracle(spec, space)
    oracle._set_project_dir(str(tmp_path), spec.name)
    for n in range(2):  # the oracle proposes trials whose values build a model config
        trial = oracle.create_trial(f"tuner{n}")
        assert trial.status == "RUNNING", (path.name, trial.status)
        config, training = hm.model_config(trial.hyperparameters), hm.training_config(trial.hyperparameters)
        assert isinstance(config, ModelConfig) and isinstance(training, TrainingConfig)
        assert 1 <= len(config.layer_sizes) <= spec.max_layers
        assert training.epochs >= 1 and training.batch_size >= 2
