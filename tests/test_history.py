"""The user's history as a query-tower feature: the mean embedding of their training items, a training row's own
item left out (or the model learns to look its answer up)."""

from __future__ import annotations

import numpy as np
import pytest

import tuner_app  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tuner_app.data import SyntheticSpec, make_synthetic
from tuner_app.space.names import HISTORY_FEATURE


def test_the_mean_without_an_item_matches_numpy():
    import tensorflow as tf

    from tuner_app.model.towers import code_lists, mean_of_lists_without

    rng = np.random.default_rng(0)
    table = rng.normal(size=(9, 3)).astype(np.float32)
    lists = {0: [0], 1: [2, 5, 7], 2: [4], 3: [1, 8]}
    owners = np.concatenate([[row] * len(codes) for row, codes in lists.items()])
    codes = np.concatenate(list(lists.values()))
    ragged = code_lists(codes, owners, 4)
    ids, left_out = np.array([1, 1, 2, 3, 0]), np.array([5, 3, 4, 1, 6])
    got = mean_of_lists_without(tf.constant(table), ragged, tf.constant(ids), tf.constant(left_out)).numpy()
    for row, (owner, item) in enumerate(zip(ids, left_out, strict=True)):
        kept = [c for c in lists[owner] if c != item]
        want = table[kept].mean(axis=0) if kept else table[0]  # nothing left: the unknown row
        np.testing.assert_allclose(got[row], want, rtol=1e-6, atol=1e-6)


def test_a_training_row_does_not_see_its_own_item_in_its_users_history():
    import tensorflow as tf

    from tuner_app.data.split import split_indices
    from tuner_app.model import features
    from tuner_app.model.build import build_model
    from tuner_app.space.config import ModelConfig

    ratings = make_synthetic(SyntheticSpec(users=30, movies=40, ratings=800, seed=2))
    train, valid = split_indices(len(ratings), 0.8, 0.2, 1)
    data = features.prepare(ratings, train, valid, history=True)
    history = data.vocab.side[HISTORY_FEATURE]
    assert history.side == "user" and history.size == data.vocab.num_titles + 1
    user = int(data.train.user[0])
    assert sorted(history.codes[history.rows == user] - 1) == sorted(data.seen.of(user))
    model = build_model(data.vocab, ModelConfig((8,), "relu", "adam", 0.05, side_features=((HISTORY_FEATURE, 4),)))
    row = {"user": tf.constant(data.train.user[:1]), "timestamp": tf.constant(data.train.timestamp[:1]),
           "title": tf.constant(data.train.title[:1])}
    towers = model.query_model.embedding_model
    seen_all, seen_without = (towers(row, training=t).numpy()[0, -4:] for t in (False, True))
    table = towers.side_embeddings.tables[0].embeddings.numpy()
    items = sorted(data.seen.of(user) + 1)
    np.testing.assert_allclose(seen_all, table[items].mean(axis=0), rtol=1e-5, atol=1e-6)
    own = int(data.train.title[0])
    others = [i for i in items if i != own]
    np.testing.assert_allclose(seen_without, table[others].mean(axis=0) if others else table[0], rtol=1e-5, atol=1e-6)


def test_every_data_set_offers_the_history_feature_and_a_column_cannot_take_its_name(tmp_path):
    from tuner_app.data.own.data_yaml import read_data_yaml
    from tuner_app.errors import DataError
    from tuner_app.space import parse_space

    ratings = make_synthetic(SyntheticSpec(users=20, movies=30, ratings=300, seed=1))
    assert ratings.features[HISTORY_FEATURE] == "user" and HISTORY_FEATURE not in ratings.side_features
    space = parse_space("tuner: {algorithm: random}\nhyperparameters:\n  feature_*: {values: [false, true]}\n", "x")
    spec, _ = space.for_data(ratings.features, "x")
    assert spec.uses_feature(HISTORY_FEATURE) and spec.uses_feature("genres")
    (tmp_path / "i.csv").write_text("user,item\n1,a\n")
    (tmp_path / "u.csv").write_text("user,history\n1,x\n")
    (tmp_path / "d.yaml").write_text("interactions: i.csv\nusers: {path: u.csv, id: user, categorical: [history]}\n")
    with pytest.raises(DataError, match="has the name of the feature every data set has.*rename: {history: user_history}"):
        read_data_yaml(tmp_path / "d.yaml")
