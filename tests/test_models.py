"""The towers: the tutorial's model, unchanged in what it computes; exact top-k."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import tensorflow as tf

import tuner_app  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from benchmarks import tutorial
from tuner_app.data import SyntheticSpec, make_synthetic
from tuner_app.model import features, pipelines
from tuner_app.model.build import build_model
from tuner_app.model.metrics import ExactTopK, metric_name, true_title_ranks
from tuner_app.model.optimizers import make_optimizer
from tuner_app.model.retrieval import MovielensModel
from tuner_app.space.config import ModelConfig
from tuner_app.store import vocabulary


@pytest.fixture(scope="module")
def ratings():
    return make_synthetic(SyntheticSpec(users=60, movies=80, ratings=1500, seed=3))


@pytest.fixture(scope="module")
def vocab(ratings):
    return features.build_vocabulary(ratings)


@pytest.fixture(scope="module")
def encoded(vocab, ratings):
    return features.encode_ratings(vocab, ratings)


def test_vocabulary_matches_the_tutorials_preprocessing(ratings, vocab):
    ratings_ds, movies_ds = tutorial.tutorial_datasets(ratings)
    ref = tutorial.TutorialData(ratings_ds, movies_ds)
    np.testing.assert_array_equal(vocab.user_ids, ref.unique_user_ids.astype(str))
    np.testing.assert_array_equal(vocab.titles, ref.unique_movie_titles.astype(str))
    np.testing.assert_array_equal(vocab.timestamp_buckets, ref.timestamp_buckets)
    assert vocab.title_tokens.shape[0] == vocab.num_titles + 1
    assert (vocab.title_tokens[1:] > 0).any(axis=1).all(), "every title has at least one token"
    # The word table has a row per vocabulary word; no token id reaches past it.
    tutorial_words = tutorial.MovieModel(ref).title_vectorizer.vocabulary_size()
    assert vocab.word_table_size == tutorial_words < vocabulary.MAX_TOKENS
    assert vocab.title_tokens.max() == vocab.word_table_size - 1


def _copy_tutorial_weights(ref: tutorial.MovielensModel, ours: MovielensModel) -> None:
    """Gives our model the reference model's weights, layer by layer."""
    rq, rc = ref.query_model, ref.candidate_model
    oq, oc = ours.query_model, ours.candidate_model
    pairs = [
        (rq.embedding_model.user_embedding.layers[1], oq.embedding_model.user_embedding),
        (rq.embedding_model.timestamp_embedding.layers[1], oq.embedding_model.timestamp_embedding.layers[1]),
        (rc.embedding_model.title_embedding.layers[1], oc.embedding_model.title_embedding),
        (rc.embedding_model.title_text_embedding.layers[1], oc.embedding_model.title_text_embedding),
        *zip(rq.dense_layers.layers, oq.dense_layers.layers, strict=True),
        *zip(rc.dense_layers.layers, oc.dense_layers.layers, strict=True),
    ]
    for src, dst in pairs:
        # The tutorial's word table has 10,000 rows; ours stops at the vocabulary.
        dst.set_weights([w[:v.shape[0]] for w, v in zip(src.get_weights(), dst.weights, strict=True)])


@pytest.mark.parametrize("layer_sizes", [[32], [64, 32]])
def test_same_computation_as_the_tutorial(ratings, vocab, encoded, layer_sizes):
    """Same weights in, same embeddings, loss and Adagrad step out."""
    ratings_ds, movies_ds = tutorial.tutorial_datasets(ratings)
    ref = tutorial.MovielensModel(layer_sizes, tutorial.TutorialData(ratings_ds, movies_ds))
    rows = np.arange(256)
    raw = next(iter(ratings_ds.batch(256)))
    ref.compute_loss(raw)  # builds the reference's variables
    ours = MovielensModel(vocab, layer_sizes)
    _copy_tutorial_weights(ref, ours)
    batch = {k: tf.constant(v) for k, v in encoded.take(rows).as_dict().items()}

    ref_query = ref.query_model({"user_id": raw["user_id"], "timestamp": raw["timestamp"]})
    np.testing.assert_allclose(ours.query_model(batch), ref_query, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ours.candidate_model(batch["title"]), ref.candidate_model(raw["movie_title"]), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(ours.compute_loss(batch, training=True), ref.compute_loss(raw, training=True),
                               rtol=1e-5)

    ref.compile(optimizer=tf.keras.optimizers.Adagrad(0.1))  # the tutorial's
    ours.compile(optimizer=make_optimizer("adagrad", 0.1))  # the app's (fused kernels, same update)
    ref_words = ref.candidate_model.embedding_model.title_text_embedding.layers[1].embeddings
    words_before = ref_words.numpy()
    ref.train_step(raw)
    ours.train_step(batch)
    np.testing.assert_allclose(ours.query_model(batch), ref.query_model(
        {"user_id": raw["user_id"], "timestamp": raw["timestamp"]}), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.candidate_model(batch["title"]), ref.candidate_model(raw["movie_title"]),
                               rtol=1e-4, atol=1e-5)
    # The word rows the tutorial has beyond the vocabulary: no gradient, no change.
    size = vocab.word_table_size
    np.testing.assert_array_equal(ref_words.numpy()[size:], words_before[size:])
    np.testing.assert_allclose(ours.candidate_model.embedding_model.title_text_embedding.embeddings,
                               ref_words.numpy()[:size],
                               rtol=1e-4, atol=1e-6)


def test_trains_one_epoch_with_finite_loss_and_metric_keys(vocab, encoded):
    model = build_model(vocab, ModelConfig((32,), "relu", "adagrad", 0.1))
    train = pipelines.make_train_dataset(encoded.take(np.arange(1200)), 256, seed=0)
    test = pipelines.make_eval_dataset(encoded.take(np.arange(1200, 1500)), 128)
    history = model.fit(train, validation_data=test, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and np.isfinite(history["mean_loss"][0])
    for k in (1, 5, 10, 50, 100):
        value = history[f"val_{metric_name(k)}"][0]
        assert 0.0 <= value <= 1.0
    assert history[f"val_{metric_name(100)}"][0] == 1.0  # only 80 titles: all are in the top 100
    assert history[f"val_{metric_name(1)}"][0] < 1.0


class _CountingModel(MovielensModel):
    traces = 0

    def train_step(self, features):
        type(self).traces += 1  # Python runs only while tracing
        return super().train_step(features)


def test_the_train_step_is_traced_once_and_trains_like_keras_own_loop(vocab, encoded):
    # 1200 rows in batches of 256: 5 batches an epoch, run 2 per call (2, 2, then a partial 1).
    # Adagrad: Adam would turn the float noise in the candidate tower's last bias (whose
    # gradient is zero in exact arithmetic: it shifts a whole row of scores) into full steps.
    looped = _CountingModel(vocab, [16])
    looped.compile(optimizer=make_optimizer("adagrad", 0.1), steps_per_execution=2)
    eager = MovielensModel(vocab, [16])
    eager.compile(optimizer=make_optimizer("adagrad", 0.1), run_eagerly=True)
    eager.set_weights(looped.get_weights())
    rows = encoded.take(np.arange(1200))
    for _ in range(2):  # a second fit reuses the traced function
        looped.fit(pipelines.make_train_dataset(rows, 256, seed=0), epochs=2, verbose=0)
    history = eager.fit(pipelines.make_train_dataset(rows, 256, seed=0), epochs=2, verbose=0).history
    eager.fit(pipelines.make_train_dataset(rows, 256, seed=0), epochs=2, verbose=0)
    assert _CountingModel.traces == 1
    assert int(looped._train_counter.numpy()) == 10  # the counter restarts with each fit
    assert int(looped.optimizer.iterations.numpy()) == int(eager.optimizer.iterations.numpy()) == 20
    for ours, keras in zip(looped.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(ours, keras, rtol=1e-4, atol=1e-5)
    assert set(history) == set(MovielensModel.TRAIN_LOGS)


@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
def test_a_cleared_trial_leaves_no_traced_functions_behind(vocab, encoded, optimizer):
    # tf.custom_gradient in graph mode (Keras's one-replica gradient all_reduce used it) registers
    # a gradient globally whose closure keeps the traced train function alive: each trial of a
    # search left two graph functions and thousands of Python objects behind.
    from tensorflow.python.eager import context

    rows = encoded.take(np.arange(600))

    def trial() -> int:
        model = MovielensModel(vocab, [16])
        model.compile(optimizer=make_optimizer(optimizer, 0.1), steps_per_execution=2)
        model.fit(pipelines.make_train_dataset(rows, 128, seed=0), epochs=1, verbose=0)
        model.evaluate(pipelines.make_eval_dataset(rows, 256), verbose=0)
        del model
        tf.keras.backend.clear_session()
        gc.collect()  # as the tuner does between trials
        return len(context.context().list_function_names())

    after_first = trial()
    assert [trial() for _ in range(2)] == [after_first, after_first]


def test_dense_stack_is_linear_on_top_with_the_chosen_activation(vocab):
    model = MovielensModel(vocab, [64, 16, 8], activation="tanh")
    layers = model.query_model.dense_layers.layers
    assert [layer.units for layer in layers] == [64, 16, 8]
    assert [layer.activation.__name__ for layer in layers] == ["tanh", "tanh", "linear"]
    assert model.candidate_embeddings().shape == (vocab.num_titles, 8)


def test_ranks_count_other_titles_scoring_at_least_as_high():
    scores = tf.constant([[0.1, 0.5, 0.3, 0.5], [2.0, 1.0, 0.0, -1.0]])
    ranks = true_title_ranks(scores, tf.constant([2, 0]))
    np.testing.assert_array_equal(ranks, [2, 0])
    # A tie with another title counts against the true one.
    np.testing.assert_array_equal(true_title_ranks(scores, tf.constant([1, 3])), [1, 3])
    # A NaN true score gets the worst rank.
    nan = tf.constant([[np.nan, 0.0, 1.0]])
    np.testing.assert_array_equal(true_title_ranks(nan, tf.constant([0])), [3])


def test_collapsed_towers_score_zero_not_one():
    # Every title scored the same (a dead ReLU stack ends in its bias): no ranking at all.
    metric = ExactTopK(lambda: tf.ones([20, 4]), ks=(1, 10))
    metric.update_state(tf.ones([6, 4]), None, tf.constant([1, 2, 3, 4, 5, 6]))
    assert [float(r) for r in metric.result()] == [0.0, 0.0]
    metric = ExactTopK(lambda: tf.fill([20, 4], np.nan), ks=(1, 10))
    metric.update_state(tf.ones([6, 4]), None, tf.constant([1, 2, 3, 4, 5, 6]))
    assert [float(r) for r in metric.result()] == [0.0, 0.0]


def test_exact_top_k_equals_a_brute_force_reference():
    rng = np.random.default_rng(0)
    candidates = rng.normal(size=(300, 8)).astype(np.float32)
    queries = rng.normal(size=(500, 8)).astype(np.float32)
    true_ids = rng.integers(1, 301, size=500)
    metric = ExactTopK(lambda: tf.constant(candidates), ks=(1, 5, 10, 50, 100))
    metric.update_state(tf.constant(queries[:250]), None, tf.constant(true_ids[:250]))
    metric.update_state(tf.constant(queries[250:]), None, tf.constant(true_ids[250:]))
    scores = queries @ candidates.T
    order = np.argsort(-scores, axis=1, kind="stable")
    for k, result in zip((1, 5, 10, 50, 100), metric.result(), strict=True):
        expected = np.mean([(true_ids[i] - 1) in order[i, :k] for i in range(500)])
        assert float(result) == pytest.approx(expected, abs=1e-7)


def test_unknown_true_id_is_never_a_hit():
    metric = ExactTopK(lambda: tf.eye(3), ks=(3,))
    metric.update_state(tf.ones([2, 3]), None, tf.constant([0, 2]))
    assert float(metric.result()[0]) == 0.5


def test_a_search_saved_with_the_tutorials_10000_row_word_table_resumes_with_it(tmp_path, vocab):
    # Before the word table was cut to the vocabulary, searches saved "max_tokens" (10,000)
    # and checkpoints with that many rows; a resumed search must still restore them.
    import dataclasses

    from tuner_app.store.layout import VOCABULARY_FILE
    from tuner_app.store.vocabulary import keep_saved_word_table, load_vocabulary
    from tuner_app.tuning.checkpoints import restore_checkpoint, write_checkpoint

    saved = tmp_path / VOCABULARY_FILE
    np.savez(saved, user_ids=vocab.user_ids.astype(str), titles=vocab.titles.astype(str),
             timestamp_buckets=vocab.timestamp_buckets, timestamp_mean=vocab.timestamp_mean,
             timestamp_variance=vocab.timestamp_variance, title_tokens=vocab.title_tokens,
             max_tokens=vocabulary.MAX_TOKENS)
    assert load_vocabulary(saved).word_table_size == vocabulary.MAX_TOKENS
    assert keep_saved_word_table(tmp_path / "new-search" / VOCABULARY_FILE, vocab) is vocab

    resumed = keep_saved_word_table(saved, vocab)
    assert resumed.word_table_size == vocabulary.MAX_TOKENS > vocab.word_table_size
    assert resumed.title_tokens is vocab.title_tokens
    old = MovielensModel(dataclasses.replace(vocab, word_table_size=vocabulary.MAX_TOKENS), [8])
    name = write_checkpoint(old, tmp_path, "best", 1, with_optimizer=False)
    model = MovielensModel(resumed, [8])
    restore_checkpoint(model, tmp_path / name, with_optimizer=False)
    np.testing.assert_array_equal(model.candidate_embeddings(), old.candidate_embeddings())
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):  # what the fresh vocabulary would meet
        restore_checkpoint(MovielensModel(vocab, [8]), tmp_path / name, with_optimizer=False)
