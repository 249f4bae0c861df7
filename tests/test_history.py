"""The user's history as a query-tower feature: the mean embedding of their training items, a training row's own
item left out (or the model learns to look its answer up); and the rated history, the same items weighted by how
the user rated each against their own mean."""

from __future__ import annotations

import numpy as np
import pytest

import tuner_app  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tuner_app.data import SyntheticSpec, make_synthetic
from tuner_app.space.names import HISTORY_FEATURE, RATED_HISTORY_FEATURE


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
    data = features.prepare(ratings, train, valid, derived=(HISTORY_FEATURE,))
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
    with pytest.raises(DataError, match="has the name of a feature made from the ratings.*rename: {history: user_history}"):
        read_data_yaml(tmp_path / "d.yaml")


def test_the_centred_mean_without_an_item_matches_numpy():
    import tensorflow as tf

    from tuner_app.model.towers import centred_mean_of_lists, code_lists

    rng = np.random.default_rng(1)
    table = rng.normal(size=(9, 3)).astype(np.float32)
    lists = {0: [], 1: [2, 5, 7], 2: [4], 3: [1, 8], 4: [3, 6]}
    weights = {0: [], 1: [1.5, -0.5, 0.25], 2: [2.0], 3: [0.5, -1.0], 4: [0.7, 0.7]}
    owners = np.concatenate([[row] * len(codes) for row, codes in lists.items()]).astype(np.int64)
    ragged = code_lists(np.concatenate(list(lists.values())), owners, 5)
    weighted = tf.RaggedTensor.from_value_rowids(tf.constant(np.concatenate(list(weights.values())), tf.float32),
                                                 owners, nrows=5)
    ids, left_out = np.array([1, 1, 2, 3, 0, 4, 2]), np.array([5, 3, 4, 1, 6, 2, 8])

    def want(owner, item):
        kept = [(c, w) for c, w in zip(lists[owner], weights[owner], strict=True) if c != item]
        if not kept:
            return np.zeros(3)
        mean = np.mean([w for _, w in kept])
        return np.mean([table[c] * (w - mean) for c, w in kept], axis=0)

    got = centred_mean_of_lists(tf.constant(table), ragged, weighted, tf.constant(ids), tf.constant(left_out)).numpy()
    for row, (owner, item) in enumerate(zip(ids, left_out, strict=True)):
        np.testing.assert_allclose(got[row], want(owner, item), rtol=1e-6, atol=1e-6)
    whole = centred_mean_of_lists(tf.constant(table), ragged, weighted, tf.constant(ids)).numpy()
    for row, owner in enumerate(ids):
        np.testing.assert_allclose(whole[row], want(owner, None), rtol=1e-6, atol=1e-6)
    assert not whole[ids.tolist().index(4)].any()  # equal ratings tell nothing


def test_the_rated_history_weighs_each_training_item_by_its_standardised_rating_and_hides_a_rows_own(tmp_path):
    import tensorflow as tf

    from tuner_app.data.split import split_indices
    from tuner_app.model import features
    from tuner_app.model.build import build_model
    from tuner_app.space.config import ModelConfig
    from tuner_app.store.vocabulary import load_vocabulary, save_vocabulary

    ratings = make_synthetic(SyntheticSpec(users=30, movies=40, ratings=800, seed=2))
    train, valid = split_indices(len(ratings), 0.8, 0.2, 1)
    data = features.prepare(ratings, train, valid, derived=(RATED_HISTORY_FEATURE,))
    rated = data.vocab.side[RATED_HISTORY_FEATURE]
    assert rated.side == "user" and rated.size == data.vocab.num_titles + 1
    values = ratings.user_rating[train].astype(np.float64)
    standard = (values - values.mean()) / values.std()
    for user in np.unique(data.train.user)[:5]:
        items = data.seen.of(user) + 1
        assert rated.codes[rated.rows == user].tolist() == items.tolist()
        means = [standard[(data.train.user == user) & (data.train.title == item)].mean() for item in items]
        np.testing.assert_allclose(rated.weights[rated.rows == user], means, rtol=1e-5)
    save_vocabulary(tmp_path / "v.npz", data.vocab)  # as an export reads it back
    again = load_vocabulary(tmp_path / "v.npz").side[RATED_HISTORY_FEATURE]
    assert again.weights.tolist() == rated.weights.tolist() and again.codes.tolist() == rated.codes.tolist()
    model = build_model(load_vocabulary(tmp_path / "v.npz"), ModelConfig((8,), "relu", "adam", 0.05, side_features=((RATED_HISTORY_FEATURE, 4),)))
    towers = model.query_model.embedding_model
    table = towers.side_embeddings.tables[0].embeddings.numpy()
    row = {name: tf.constant(column[:1]) for name, column in data.train.as_dict().items()}
    user, own = int(data.train.user[0]), int(data.train.title[0])
    served, trained = (towers(row, training=t).numpy()[0, -4:] for t in (False, True))
    codes, weights = rated.codes[rated.rows == user], rated.weights[rated.rows == user]
    np.testing.assert_allclose(served, (table[codes] * (weights - weights.mean())[:, None]).mean(axis=0), atol=1e-6)
    others = codes != own
    assert not others.all()  # the row's own item is in its user's list, and is left out with its rating
    kept, kept_weights = codes[others], weights[others]
    np.testing.assert_allclose(trained, (table[kept] * (kept_weights - kept_weights.mean())[:, None]).mean(axis=0),
                               atol=1e-6)


def test_only_data_whose_ratings_vary_offers_the_rated_history_and_a_column_cannot_take_its_name(tmp_path):
    import dataclasses

    from tuner_app.data.own.data_yaml import read_data_yaml
    from tuner_app.errors import DataError, SpaceError
    from tuner_app.space import parse_space

    ratings = make_synthetic(SyntheticSpec(users=20, movies=30, ratings=300, seed=1))
    assert ratings.features[RATED_HISTORY_FEATURE] == "user"
    # Named, a space can switch it on; `feature_*` leaves it out (it costs as much as the history again).
    space = parse_space("tuner: {algorithm: random}\nhyperparameters:\n  feature_*: {values: [false, true]}\n", "x")
    assert not space.for_data(ratings.features, "x")[0].uses_feature(RATED_HISTORY_FEATURE)
    named = parse_space("tuner: {algorithm: random}\nhyperparameters:\n  feature_*: true\n  feature_rated_history: true\n",
                        "x").for_data(ratings.features, "x")[0]
    assert named.derived_features == (HISTORY_FEATURE, RATED_HISTORY_FEATURE)
    ones = dataclasses.replace(ratings, user_rating=np.ones(len(ratings), np.float32))
    assert RATED_HISTORY_FEATURE not in ones.features and HISTORY_FEATURE in ones.features
    with pytest.raises(SpaceError, match=r"feature_rated_history is on, but the ratings of x do not vary \(all "
                                         r"equal, or none given\).*name a rating column that varies"):
        named.for_data(ones.features, "x")
    (tmp_path / "i.csv").write_text("user,item\n1,a\n")
    (tmp_path / "u.csv").write_text("user,rated_history\n1,x\n")
    (tmp_path / "d.yaml").write_text("interactions: i.csv\nusers: {path: u.csv, id: user, categorical: [rated_history]}\n")
    with pytest.raises(DataError, match="feature 'rated_history' has the name of a feature made from the ratings"):
        read_data_yaml(tmp_path / "d.yaml")
