"""The in-batch softmax loss with a hand-written gradient.

TFRS's `Retrieval` task scores every query of a batch against every
candidate, builds one-hot labels with `tf.eye` and calls Keras's
`CategoricalCrossentropy`. At batch 2048 that is a `[2048, 2048]` score
matrix, its labels and the gradient of TensorFlow's cross-entropy op, and
on a CPU the cost is memory traffic over those matrices, not arithmetic.

Here the labels are the diagonal, so they need no matrix at all:

    loss = sum_i (logsumexp_j s_ij - s_ii),    s = q c^T (+ column bias, masks)
    dL/dq = P c - c,    dL/dc = P^T q - q,     P = softmax(s) row by row

One pass writes the scores, one finds each row's maximum, one takes the
exponentials; the gradient reuses them and goes straight to the two
embedding matrices (the gradient of the scores is never materialised).
The gradient is computed with the loss (a training step always needs it)
and attached by `_with_gradients`.
Measured on ml-100k's tutorial model (2-core CPU): a training step about 20%
faster than TFRS's task, the same loss and gradients to float32 rounding
(see tests/test_losses.py). `benchmarks/` times it bare as the floor.

TFRS's options map onto it: the temperature divides the query embeddings,
the logQ correction is a bias per candidate column, and accidental-hit
removal masks a row's other candidates that share its positive's id (TFRS
adds a huge negative to their logits, which is the same). Hard-negative
mining changes the labels and stays with TFRS's task.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

#: What TFRS adds to a removed logit (`tfrs.layers.loss.MIN_FLOAT`).
MIN_FLOAT = float(np.finfo(np.float32).min / 100.0)


def in_batch_softmax_loss(
    query_embeddings: tf.Tensor,
    candidate_embeddings: tf.Tensor,
    column_bias: tf.Tensor | None = None,
    candidate_ids: tf.Tensor | None = None,
) -> tf.Tensor:
    """Summed softmax cross-entropy of each query against all the batch's candidates.

    Query i's positive is candidate i; the others are its negatives.

    Args:
        query_embeddings: `[batch, dim]`.
        candidate_embeddings: `[batch, dim]`.
        column_bias: optional `[batch]` added to every score of candidate j
            (the logQ correction passes -log Q_j). No gradient flows into it.
        candidate_ids: optional `[batch]`; when given, a row's other
            candidates with its positive's id are left out (accidental hits).

    Returns:
        The scalar loss, summed over queries, as TFRS's task returns it.
    """
    exclude = None
    if candidate_ids is not None:
        same = tf.equal(candidate_ids[:, tf.newaxis], candidate_ids[tf.newaxis, :])
        exclude = tf.linalg.set_diag(same, tf.zeros_like(candidate_ids, tf.bool))

    queries, candidates = query_embeddings, candidate_embeddings
    scores = tf.linalg.matmul(queries, candidates, transpose_b=True)
    positive = tf.reduce_sum(queries * candidates, axis=1)
    if column_bias is not None:
        scores = scores + column_bias[tf.newaxis, :]
        positive = positive + column_bias
    if exclude is not None:
        scores = tf.where(exclude, MIN_FLOAT, scores)
    row_max = tf.reduce_max(scores, axis=1, keepdims=True)
    exp_scores = tf.exp(scores - row_max)
    row_sum = tf.reduce_sum(exp_scores, axis=1, keepdims=True)
    loss = tf.reduce_sum(tf.math.log(row_sum[:, 0]) + row_max[:, 0] - positive)

    probabilities = exp_scores / row_sum
    d_queries = tf.linalg.matmul(probabilities, candidates) - candidates
    d_candidates = tf.linalg.matmul(probabilities, queries, transpose_a=True) - queries
    return _with_gradients(loss, (queries, d_queries), (candidates, d_candidates))


def _with_gradients(value: tf.Tensor, *pairs: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
    """`value`, exactly, whose gradient with respect to each `x` is its given `dx`.

    Each pair adds `t - stop_gradient(t)` with `t = sum(stop_gradient(dx) * x)`:
    exactly zero, with gradient `dx`. This does what `tf.custom_gradient` does
    without its cost here: in graph mode every trace registers a new gradient
    function in TensorFlow's global registry, never removed, and its closure
    keeps the trace's whole graph alive, so each trial of a search left its
    train function behind (two graph functions and ~3,500 Python objects a
    trial, found by the benchmark's leftover-state rows).
    """
    zero = tf.zeros([], value.dtype)
    for x, dx in pairs:
        t = tf.reduce_sum(tf.stop_gradient(dx) * x)
        zero = zero + (t - tf.stop_gradient(t))
    return tf.stop_gradient(value) + zero
