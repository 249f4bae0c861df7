"""Each searchable knob changes what the model computes, by the expected amount."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tuner_app  # noqa: F401
from tuner_app.data import SyntheticSpec, make_synthetic, split_indices
from tuner_app.model import features
from tuner_app.model.build import build_model
from tuner_app.space.config import ModelConfig


@pytest.fixture(scope="module")
def data():
    ratings = make_synthetic(SyntheticSpec(users=50, movies=60, ratings=1200, seed=4))
    train, test = split_indices(len(ratings), 0.8, 0.2, 42)
    return features.prepare(ratings, train, test)


@pytest.fixture(scope="module")
def batch(data):
    rows = np.arange(64)
    return {k: tf.constant(v) for k, v in data.train.take(rows).as_dict().items()}


def model_for(data, **knobs):
    tf.keras.utils.set_random_seed(7)  # same initial weights for every variant
    return build_model(data.vocab, ModelConfig(**knobs), title_frequency=data.title_frequency)


def embeddings(model, batch):
    q = model.query_model(batch, training=False).numpy().astype(np.float64)
    c = model.candidate_model(batch["title"], training=False).numpy().astype(np.float64)
    return q, c


def softmax_ce_sum(logits: np.ndarray) -> float:
    """TFRS Retrieval's loss: categorical cross-entropy, labels on the diagonal, summed."""
    logits = logits - logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.trace(log_softmax))


def test_plain_loss_is_the_in_batch_softmax(data, batch):
    model = model_for(data)
    q, c = embeddings(model, batch)
    loss = float(model.compute_loss(batch, training=True))
    assert loss == pytest.approx(softmax_ce_sum(q @ c.T), rel=1e-4)


def test_temperature_divides_the_logits(data, batch):
    model = model_for(data, temperature=0.2)
    q, c = embeddings(model, batch)
    loss = float(model.compute_loss(batch, training=True))
    assert loss == pytest.approx(softmax_ce_sum(q @ c.T / 0.2), rel=1e-5)
    assert abs(loss - softmax_ce_sum(q @ c.T)) > 0.1  # far beyond the tolerance above


def test_normalize_embeddings_scores_by_cosine(data, batch):
    plain_q, plain_c = embeddings(model_for(data, temperature=0.1), batch)
    model = model_for(data, temperature=0.1, normalize_embeddings=True)
    q, c = embeddings(model, batch)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, rtol=1e-5)
    # Same weights (same seed): the normalized towers are the plain ones scaled to unit length.
    np.testing.assert_allclose(q, plain_q / np.linalg.norm(plain_q, axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(c, plain_c / np.linalg.norm(plain_c, axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    loss = float(model.compute_loss(batch, training=True))
    assert loss == pytest.approx(softmax_ce_sum(q @ c.T / 0.1), rel=1e-5)
    assert abs(loss - softmax_ce_sum(plain_q @ plain_c.T / 0.1)) > 0.1
    # Validation ranks with the same unit-length candidates.
    np.testing.assert_allclose(np.linalg.norm(model.candidate_embeddings().numpy(), axis=1), 1.0, rtol=1e-5)


def test_item_bias_adds_each_titles_own_weight_to_every_score(data, batch):
    plain_q, plain_c = embeddings(model_for(data, temperature=0.1, normalize_embeddings=True, logq_correction=True),
                                  batch)
    model = model_for(data, temperature=0.1, normalize_embeddings=True, logq_correction=True, item_bias=True)
    bias = model.candidate_model.last_column
    assert not bias.embeddings.numpy().any()  # starts as the model without it
    weights = np.random.default_rng(3).normal(0.0, 2.0, bias.embeddings.shape).astype(np.float32)
    bias.embeddings.assign(weights)
    q, c = embeddings(model, batch)
    titles = batch["title"].numpy()
    # Same seed: the towers' own outputs are the model's without a bias, with a last column appended.
    np.testing.assert_allclose(q[:, :-1], plain_q, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c[:, :-1], plain_c, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(q[:, -1], 1.0)
    np.testing.assert_array_equal(c[:, -1], weights[titles, 0])
    scores = plain_q @ plain_c.T + weights[titles, 0][np.newaxis, :]
    log_q = np.log(data.title_frequency[titles].astype(np.float64))
    loss = float(model.compute_loss(batch, training=True))
    assert loss == pytest.approx(softmax_ce_sum(scores / 0.1 - log_q[np.newaxis, :]), rel=1e-5)
    # Validation ranks every title with its bias: a title given a bias above any cosine comes first for all.
    weights[5] = weights.max() + 2.5  # cosines differ by 2 at most
    bias.embeddings.assign(weights)
    best = tf.math.argmax(tf.linalg.matmul(model.query_model(batch), model.candidate_embeddings(), transpose_b=True),
                          axis=1).numpy()
    np.testing.assert_array_equal(best + 1, 5)  # row i of the candidates is title i + 1
    # ... and the bias is trained.
    gradients = tf.GradientTape()
    with gradients:
        loss = model.compute_loss(batch, training=True)
    gradient = tf.convert_to_tensor(gradients.gradient(loss, bias.embeddings)).numpy()
    assert np.abs(gradient[np.unique(titles), 0]).min() > 0


def test_logq_correction_subtracts_log_title_frequency(data, batch):
    model = model_for(data, logq_correction=True)
    q, c = embeddings(model, batch)
    log_q = np.log(data.title_frequency[batch["title"].numpy()].astype(np.float64))
    loss = float(model.compute_loss(batch, training=True))
    assert loss == pytest.approx(softmax_ce_sum(q @ c.T - log_q[np.newaxis, :]), rel=1e-5)
    assert abs(loss - softmax_ce_sum(q @ c.T)) > 0.1


def test_remove_accidental_hits_masks_negatives_with_the_positives_title(data, batch):
    titles = batch["title"].numpy()
    assert len(set(titles)) < len(titles), "the batch needs repeated titles to test this"
    model = model_for(data, remove_accidental_hits=True)
    q, c = embeddings(model, batch)
    logits = q @ c.T
    same = (titles[:, None] == titles[None, :]) & ~np.eye(len(titles), dtype=bool)
    logits[same] = np.finfo(np.float32).min / 100  # what TFRS's RemoveAccidentalHits adds
    assert float(model.compute_loss(batch, training=True)) == pytest.approx(softmax_ce_sum(logits), rel=1e-4)


def test_hard_negative_mining_keeps_the_largest_negative_logits(data, batch):
    model = model_for(data, num_hard_negatives=5)
    q, c = embeddings(model, batch)
    logits = q @ c.T
    expected = 0.0
    for i, row in enumerate(logits):
        negatives = np.sort(np.delete(row, i))[-5:]
        kept = np.concatenate([[row[i]], negatives])
        expected += softmax_ce_sum(kept[np.newaxis, :])
    assert float(model.compute_loss(batch, training=True)) == pytest.approx(expected, rel=1e-4)


def test_l2_adds_the_kernel_penalty_to_the_training_loss(data, batch):
    model = model_for(data, layer_sizes=(16, 8), l2=0.01)
    kernels = [layer.kernel.numpy() for tower in (model.query_model, model.candidate_model)
               for layer in tower.dense_layers.layers]
    assert float(tf.add_n(model.losses)) == pytest.approx(0.01 * sum((k.astype(np.float64) ** 2).sum() for k in kernels),
                                                          rel=1e-4)
    assert not model_for(data, layer_sizes=(16, 8)).losses


def test_dropout_acts_in_training_only(data, batch):
    model = model_for(data, layer_sizes=(16, 8), dropout=0.5)
    inference = model.query_model(batch, training=False).numpy()
    np.testing.assert_array_equal(inference, model.query_model(batch, training=False).numpy())
    assert not np.allclose(inference, model.query_model(batch, training=True).numpy())
    assert sum(type(layer).__name__ == "Dropout" for layer in model.query_model.dense_layers.layers) == 2


def test_the_candidate_tower_sees_each_title_once_except_under_dropout_in_training(data, batch):
    """Copies of a title share one embedding, unless dropout gives each its own mask."""
    distinct = len(set(batch["title"].numpy()))
    assert distinct < len(batch["title"]), "the batch needs repeated titles to test this"

    def rows_seen(model, training):
        seen, call = [], model.candidate_model.call
        model.candidate_model.call = lambda titles, training=False: seen.append(len(titles)) or call(titles, training)
        model.compute_loss(batch, training=training)
        return seen

    assert rows_seen(model_for(data), training=True) == [distinct]
    with_dropout = model_for(data, layer_sizes=(16, 8), dropout=0.5)
    assert rows_seen(with_dropout, training=True) == [len(batch["title"])]
    assert rows_seen(with_dropout, training=False) == [distinct]


def test_embedding_widths_set_each_features_embedding(data, batch):
    model = model_for(data, user_embedding_dim=8, timestamp_embedding_dim=4, title_embedding_dim=12,
                      title_text_embedding_dim=6)
    user_side = model.query_model.embedding_model(batch)
    title_side = model.candidate_model.embedding_model(batch["title"])
    assert user_side.shape[1] == 8 + 4 + 1
    assert title_side.shape[1] == 12 + 6


def test_lazy_adam_moves_only_the_looked_up_rows_and_matches_adam_on_them():
    from tuner_app.model.optimizers import make_optimizer

    start = np.arange(12, dtype=np.float32).reshape(6, 2) / 10
    grads = [tf.IndexedSlices(tf.constant([[1.0, -2.0], [0.5, 0.5]]), tf.constant([0, 3]), tf.constant([6, 2])),
             tf.IndexedSlices(tf.constant([[0.3, 0.1]]), tf.constant([1]), tf.constant([6, 2]))]
    tables = {}
    for name in ("adam", "lazy_adam"):
        table = tf.Variable(start)
        optimizer = make_optimizer(name, 0.1)
        for grad in grads:
            optimizer.apply_gradients([(grad, table)])
        tables[name] = table.numpy()
    lazy, adam = tables["lazy_adam"], tables["adam"]
    # Rows never looked up stay where they were with both; the second step looked up row 1 only.
    np.testing.assert_array_equal(lazy[[2, 4, 5]], start[[2, 4, 5]])
    np.testing.assert_array_equal(adam[[2, 4, 5]], start[[2, 4, 5]])
    # Adam moves rows 0 and 3 again on the second step (their decayed moments); lazy Adam does not.
    assert np.all(np.abs(adam[[0, 3]] - lazy[[0, 3]]) > 1e-3)
    # After the first step alone (lazy and plain Adam agree on a first step), rows 0 and 3 are where
    # lazy Adam left them: one Adam step of lr 0.1 against the gradient's sign.
    np.testing.assert_allclose(lazy[[0, 3]], start[[0, 3]] - 0.1 * np.sign([[1.0, -2.0], [0.5, 0.5]]), atol=1e-5)
    np.testing.assert_allclose(lazy[1], adam[1], atol=1e-6)  # row 1's only step is its first: the same


def test_every_optimizer_the_space_accepts_is_one_the_model_builds():
    from tuner_app.model.optimizers import OPTIMIZER_CLASSES
    from tuner_app.space.names import OPTIMIZERS

    assert set(OPTIMIZERS) == set(OPTIMIZER_CLASSES)
