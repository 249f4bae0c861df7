"""The in-batch softmax kernel: the same loss and gradients as TFRS's Retrieval task."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_recommenders as tfrs

import tuner_app  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tuner_app.model import losses
from tuner_app.model.losses import in_batch_softmax_loss


def tfrs_loss_and_gradients(queries, candidates, temperature, probability, ids, remove_hits):
    task = tfrs.tasks.Retrieval(temperature=temperature, remove_accidental_hits=remove_hits)
    with tf.GradientTape() as tape:
        tape.watch([queries, candidates])
        loss = task(queries, candidates, candidate_sampling_probability=probability, candidate_ids=ids,
                    compute_metrics=False)
    return loss, tape.gradient(loss, [queries, candidates])


def kernel_loss_and_gradients(queries, candidates, temperature, probability, ids, remove_hits):
    with tf.GradientTape() as tape:
        tape.watch([queries, candidates])
        scaled = queries / temperature if temperature else queries
        bias = None if probability is None else -tf.math.log(tf.clip_by_value(probability, 1e-6, 1.0))
        loss = in_batch_softmax_loss(scaled, candidates, bias, ids if remove_hits else None)
    return loss, tape.gradient(loss, [queries, candidates])


@pytest.mark.parametrize("temperature,logq,remove_hits", [
    (None, False, False), (0.1, False, False), (None, True, False), (None, False, True), (0.25, True, True),
])
# 300 x 300 scores: one block; blocks of 7 rows (the last one short); one row a block.
@pytest.mark.parametrize("block_values", [losses.BLOCK_VALUES, 7 * 300, 1])
def test_kernel_matches_tfrs_retrieval_task(temperature, logq, remove_hits, block_values, monkeypatch):
    monkeypatch.setattr(losses, "BLOCK_VALUES", block_values)
    rng = np.random.default_rng(0)
    batch, dim = 300, 16
    queries = tf.constant(rng.normal(0, 0.5, (batch, dim)), tf.float32)
    candidates = tf.constant(rng.normal(0, 0.5, (batch, dim)), tf.float32)
    ids = tf.constant(rng.integers(0, 40, batch))  # many repeated titles: accidental hits
    probability = tf.constant(rng.uniform(1e-4, 0.05, batch), tf.float32) if logq else None
    args = (queries, candidates, temperature, probability, ids, remove_hits)
    want_loss, want_grads = tfrs_loss_and_gradients(*args)
    got_loss, got_grads = kernel_loss_and_gradients(*args)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
    for got, want in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_removing_accidental_hits_changes_the_loss_only_where_ids_repeat():
    queries = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    candidates = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    distinct = tf.constant([1, 2, 3])
    repeated = tf.constant([1, 2, 1])  # rows 0 and 2 have the same positive title
    plain = in_batch_softmax_loss(queries, candidates)
    np.testing.assert_allclose(in_batch_softmax_loss(queries, candidates, candidate_ids=distinct), plain)
    assert float(in_batch_softmax_loss(queries, candidates, candidate_ids=repeated)) < float(plain)


def test_large_scores_stay_finite():
    queries = tf.fill([4, 3], 100.0)  # scores of 30,000: a naive exp overflows
    candidates = tf.eye(4, 3) * 100.0
    with tf.GradientTape() as tape:
        tape.watch(queries)
        loss = in_batch_softmax_loss(queries, candidates)
    assert np.isfinite(float(loss)) and np.isfinite(tape.gradient(loss, queries).numpy()).all()


@pytest.mark.parametrize("titles", ["repeated", "all distinct", "all the same"])
@pytest.mark.parametrize("logq,remove_hits", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("block_values", [losses.BLOCK_VALUES, 7 * 40])
def test_scoring_each_distinct_candidate_once_gives_the_whole_batchs_loss_and_gradients(
        titles, logq, remove_hits, block_values, monkeypatch):
    monkeypatch.setattr(losses, "BLOCK_VALUES", block_values)
    rng = np.random.default_rng(1)
    batch, num_titles, dim = 300, 40, 16
    ids = {"repeated": rng.integers(0, num_titles, batch), "all distinct": rng.permutation(batch),
           "all the same": np.full(batch, 3)}[titles]
    ids = tf.constant(ids)
    # In float64. The two sides add up different terms in a different order (a [batch, batch]
    # score matrix against a [batch, unique] one), so they agree to the rounding of those sums,
    # not to a number of digits of the result. In float32 that rounding is ~1e-5 here, and it
    # can be the whole result: with every title the same, a query's exact gradient is
    # sum_j P_ij c - c = 0, and each side gives float32 noise of its own sign. In float64 the
    # largest sum (the title's gradient when every title is the same: 600 terms of total size
    # ~240) rounds by less than 600 * 2.2e-16 * 240 = 3e-11 even in the worst case (1e-14 is
    # seen), so 1e-9 holds every correct case with room, while a wrong term still fails: one
    # title's count off by one, or 1e-9 added to the gradients, fails every case it changes.
    # The float32 kernels are compared with TFRS's task above, and (each title scored once)
    # in a training step with the tutorial's model in tests/test_models.py.
    table = tf.constant(rng.normal(0, 0.5, (batch, dim)), tf.float64)  # a title's embedding
    probability = tf.constant(rng.uniform(1e-4, 0.05, batch), tf.float64)
    queries = tf.constant(rng.normal(0, 0.5, (batch, dim)), tf.float64)
    unique, index, counts = tf.unique_with_counts(ids)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([queries, table])
        bias = (lambda t: -tf.math.log(tf.gather(probability, t))) if logq else (lambda t: None)
        every_row = in_batch_softmax_loss(queries, tf.gather(table, ids), bias(ids),
                                          ids if remove_hits else None)
        once = losses.unique_candidate_softmax_loss(queries, tf.gather(table, unique), index, counts,
                                                    bias(unique), remove_hits)
    assert once.dtype == every_row.dtype == tf.float64
    np.testing.assert_allclose(once, every_row, rtol=1e-9, atol=1e-9)
    for want, got in zip(tape.gradient(every_row, [queries, table]), tape.gradient(once, [queries, table]),
                         strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(got), tf.convert_to_tensor(want), rtol=1e-9, atol=1e-9)
