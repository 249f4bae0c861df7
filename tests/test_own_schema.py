"""Data that is not MovieLens, as the model sees it: its own ids, features of its own names, no
timestamps or no item text. Built in memory (the readers of such files are tested in test_own_data.py)."""

from __future__ import annotations

import numpy as np
import pytest

import tuner_app  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tuner_app.data.records import Ratings
from tuner_app.data.side import SideFeatures
from tuner_app.data.split import split_rows
from tuner_app.errors import DataError, SpaceError
from tuner_app.space import Fixed, parse_space

SPACE = """
    tuner: {algorithm: random, max_trials: 2, seed: 1}
    objective: val_top_10
    training: {epochs: 1, batch_size: 64}
    hyperparameters:
      units: 16
      feature_*: {values: [false, true]}
      feature_*_dim: 4
      feature_tags: true
      feature_tags_dim: 6
      feature_colour: {values: [false, true]}
"""


def shop(with_time: bool, with_text: bool, seed: int = 0) -> Ratings:
    """400 interactions of 30 users over 40 items with string ids, a category, tags and a region."""
    rng = np.random.default_rng(seed)
    users = np.array([f"u{i:03d}" for i in range(30)], dtype=object)
    items = np.array([f"sku-{i:04d}" for i in range(40)], dtype=object)
    categories = np.array(["toys", "garden", "books", "food"], dtype=object)
    item_category = categories[rng.integers(0, 4, 40)]
    tags = np.array(["|".join(sorted({str(t) for t in rng.choice(["red", "blue", "eco", "sale"], 2)}))
                     for _ in range(40)], dtype=object)
    rows_user, rows_item = rng.integers(0, 30, 400), rng.integers(0, 40, 400)
    return Ratings(
        user_id=users[rows_user], item_id=items[rows_item],
        timestamp=rng.integers(1_600_000_000, 1_700_000_000, 400) if with_time else None,
        user_rating=np.ones(400, np.float32), item_catalog=items,
        description="a shop", fingerprint="f" * 64,
        users=SideFeatures(users, {"region": np.array(["north", "south", ""] * 10, dtype=object)}),
        items=SideFeatures(items, {"category": item_category, "tags": tags}, separators={"tags": "|"}),
        item_text=np.array([f"{c} thing number {i}" for i, c in enumerate(item_category)], dtype=object)
        if with_text else None,
    )


def test_feature_star_searches_every_feature_the_data_has_and_names_keep_their_own_settings():
    spec, notes = parse_space(SPACE, "shop.yaml").for_data(shop(True, True).side_features, "a shop")
    params = spec.hyperparameters
    assert "feature_*" not in params and "feature_*_dim" not in params
    assert params["feature_region"] == params["feature_category"] == parse_space(SPACE, "x").hyperparameters["feature_*"]
    assert params["feature_region_dim"] == Fixed(4) and params["feature_tags_dim"] == Fixed(6)
    assert params["feature_tags"] == Fixed(True)
    assert params["feature_colour"] == Fixed(False)  # searched, and the data has no colour
    assert notes == ["note: a shop has no colour feature; feature_colour is left out of the search"]


def test_a_feature_width_without_its_switch_and_unknown_keys_are_refused():
    with pytest.raises(SpaceError, match=r"feature_\*_dim sets the width of every feature the space does not name"):
        parse_space(SPACE.replace("      feature_*: {values: [false, true]}\n", ""), "x.yaml")
    with pytest.raises(SpaceError, match=r"hyperparameters.feature-x is not a known key.*feature_<name>"):
        parse_space(SPACE.replace("feature_colour", "feature-x"), "x.yaml")


@pytest.mark.parametrize("with_time,with_text", [(False, False), (True, False), (False, True)])
def test_a_model_trains_on_data_without_time_or_text(with_time, with_text):
    import tensorflow as tf

    from tuner_app.model import features, pipelines
    from tuner_app.model.build import build_model
    from tuner_app.space.config import ModelConfig

    ratings = shop(with_time, with_text)
    vocab = features.build_vocabulary(ratings)
    assert vocab.has_time is with_time and vocab.has_text is with_text
    assert {name: e.side for name, e in vocab.side.items()} == {"region": "user", "category": "item", "tags": "item"}
    assert (vocab.item_texts is not None) is with_text  # ids of their own: the text is kept for display
    model = build_model(vocab, ModelConfig((16,), "relu", "adam", 0.05,
                                           side_features=(("region", 3), ("category", 4), ("tags", 5))))
    encoded = features.encode_ratings(vocab, ratings)
    history = model.fit(pipelines.make_train_dataset(encoded.take(np.arange(320)), 64, seed=0),
                        validation_data=pipelines.make_eval_dataset(encoded.take(np.arange(320, 400)), 64),
                        epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    user_tower = model.query_model.embedding_model
    query = user_tower({"user": tf.constant([1]), "timestamp": tf.constant([0], tf.int64)})
    # The user id's 32 wide embedding, the region's 3, and the timestamp's 32 + 1 only with time.
    assert query.shape[1] == 32 + 3 + (33 if with_time else 0)
    candidate = model.candidate_model.embedding_model(tf.constant([1]))
    assert candidate.shape[1] == 32 + 4 + 5 + (32 if with_text else 0)
    assert hasattr(user_tower, "timestamp_embedding") is with_time
    assert hasattr(model.candidate_model.embedding_model, "title_text_embedding") is with_text


def test_the_temporal_split_needs_timestamps():
    spec = parse_space(SPACE.replace("training:", "split: {kind: temporal}\n    training:"), "x.yaml")
    with pytest.raises(DataError, match="this data has no timestamp column; name one in the data YAML"):
        split_rows(spec.split, 400, "--data (a shop)", None)


def test_a_saved_vocabulary_keeps_each_features_side_and_the_item_texts(tmp_path):
    from tuner_app.model import features
    from tuner_app.store.vocabulary import load_vocabulary, save_vocabulary

    vocab = features.build_vocabulary(shop(False, True))
    save_vocabulary(tmp_path / "v.npz", vocab)
    again = load_vocabulary(tmp_path / "v.npz")
    assert list(again.side) == list(vocab.side) and again.side["tags"].side == "item"
    assert again.item_texts.tolist() == vocab.item_texts.tolist() and not again.has_time
    # A MovieLens search saved before sides were stored: each feature's side is MovieLens's.
    with np.load(tmp_path / "v.npz") as saved:
        old = {k: saved[k] for k in saved.files if not k.startswith("side_")}
        old.update({"side_genres" + k[len("side_tags"):]: saved[k] for k in saved.files
                    if k.startswith("side_tags") and not k.endswith("_side")})
    np.savez(tmp_path / "old.npz", **old)
    assert {n: e.side for n, e in load_vocabulary(tmp_path / "old.npz").side.items()} == {"genres": "item"}
