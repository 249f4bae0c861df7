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
embedding matrices: neither the gradient of the scores nor P itself is ever
materialised, and the work goes a cache-sized block of query rows at a time
(`_softmax_by_row_blocks`).
The gradient is computed with the loss (a training step always needs it)
and attached by `_with_gradients`. It is the same loss and gradients as
TFRS's task to float32 rounding (tests/test_losses.py), in a fraction of its
time; `benchmarks/` times it bare as the floor (figures in benchmarks/README.md).

TFRS's options map onto it: the temperature divides the query embeddings,
the logQ correction is a bias per candidate column, and accidental-hit
removal masks a row's other candidates that share its positive's id (TFRS
adds a huge negative to their logits, which is the same). Hard-negative
mining changes the labels and stays with TFRS's task.

`unique_candidate_softmax_loss` computes the same loss from each distinct
candidate once, with its copies in the batch as a weight: a batch of 2,048
ml-100k ratings holds about 780 titles, so its score matrix is
`[2048, ~780]`, and a training epoch takes about half the time of scoring
every row's copy (benchmarks/HISTORY.md).
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
    # The loss and gradients are computed on values only; `_with_gradients`
    # attaches the gradients (nothing inside is differentiated by the tape).
    queries = tf.stop_gradient(query_embeddings)
    candidates = tf.stop_gradient(candidate_embeddings)
    positive = tf.reduce_sum(queries * candidates, axis=1)
    if column_bias is not None:
        column_bias = tf.stop_gradient(column_bias)
        positive = positive + column_bias
    log_sum_exp, d_queries, d_candidates = _softmax_by_row_blocks(queries, candidates, column_bias, candidate_ids)
    loss = log_sum_exp - tf.reduce_sum(positive)
    return _with_gradients(loss, (query_embeddings, d_queries - candidates),
                           (candidate_embeddings, d_candidates - queries))


def unique_candidate_softmax_loss(
    query_embeddings: tf.Tensor,
    unique_candidate_embeddings: tf.Tensor,
    positive_index: tf.Tensor,
    counts: tf.Tensor,
    column_bias: tf.Tensor | None = None,
    remove_accidental_hits: bool = False,
) -> tf.Tensor:
    """`in_batch_softmax_loss` with each distinct candidate scored once.

    A batch of ratings holds the same title many times (2,048 ratings of
    ml-100k hold about 780 titles), and its copies are the same candidate
    with the same embedding. Candidate j's term in query i's softmax depends
    only on its title u, so the batch's n_u copies add up to one term
    weighted by n_u: logsumexp_j s_ij = logsumexp_u (s_iu + log n_u). The
    loss and its gradients are those of `in_batch_softmax_loss` on the
    expanded batch (up to float32 rounding), from a `[batch, unique]` score
    matrix instead of `[batch, batch]`.

    Args:
        query_embeddings: `[batch, dim]`.
        unique_candidate_embeddings: `[unique, dim]`, one row per distinct
            candidate of the batch.
        positive_index: `[batch]` int32, the row of query i's positive.
        counts: `[unique]`, how many times each distinct candidate occurs in
            the batch (`tf.unique_with_counts` gives both).
        column_bias: optional `[unique]`, added to every score of a
            candidate (the logQ correction passes -log Q). No gradient.
        remove_accidental_hits: leave out a query's other copies of its
            positive, as `in_batch_softmax_loss` with `candidate_ids` does:
            its positive's column then counts once instead of n times.

    Returns:
        The scalar loss, summed over queries.
    """
    queries = tf.stop_gradient(query_embeddings)
    candidates = tf.stop_gradient(unique_candidate_embeddings)
    num_unique = tf.shape(candidates)[0]
    log_counts = tf.math.log(tf.cast(counts, queries.dtype))
    bias = log_counts if column_bias is None else log_counts + tf.stop_gradient(column_bias)
    positives = tf.gather(candidates, positive_index)
    positive = tf.reduce_sum(queries * positives, axis=1)
    if column_bias is not None:
        positive = positive + tf.gather(tf.stop_gradient(column_bias), positive_index)
    own_column = None
    if remove_accidental_hits:
        own_column = (positive_index, -tf.gather(log_counts, positive_index))
    log_sum_exp, d_queries, d_candidates = _softmax_by_row_blocks(queries, candidates, bias, None, own_column)
    loss = log_sum_exp - tf.reduce_sum(positive)
    d_positives = tf.math.unsorted_segment_sum(queries, positive_index, num_unique)
    return _with_gradients(loss, (query_embeddings, d_queries - positives),
                           (unique_candidate_embeddings, d_candidates - d_positives))


#: Score-matrix values computed at a time (8 MB of float32).
BLOCK_VALUES = 1 << 21


def _softmax_by_row_blocks(queries, candidates, column_bias, candidate_ids, own_column=None):
    """`(sum_i logsumexp_j s_ij, P c, P^T q)`, a block of query rows at a time.

    `own_column`, when given, is `(column, bias)`, both `[queries]`: row i's
    score in that column gets that bias added (on top of `column_bias`).

    The `[batch, batch]` matrices are the cost: written, read for the row
    maximum, shifted, exponentiated, summed and read by both products. In
    blocks of rows that fit in the CPU's cache those passes hit the cache
    instead of memory, which pays most at large batches (benchmarks/HISTORY.md).
    Blocks are `BLOCK_VALUES / batch` rows; a batch of 1024 or fewer is one block.

    Inside a block, P = exp_scores / row_sum is never formed: the row sums
    divide the `[rows, dim]` factors instead, which saves a pass. And P^T q
    is summed as q^T P, transposed once at the end: TensorFlow's CPU matmul
    with `transpose_a` on the big operand is several times slower than this
    way round.
    """
    num_queries = tf.shape(queries)[0]
    num_candidates = tf.shape(candidates)[0]
    rows = tf.maximum(1, BLOCK_VALUES // num_candidates)
    num_blocks = (num_queries + rows - 1) // rows
    columns = tf.range(num_candidates)

    def block(i, log_sum_exp, d_queries, queries_t_p):
        start = i * rows
        block_queries = queries[start:start + rows]
        scores = tf.linalg.matmul(block_queries, candidates, transpose_b=True)
        if column_bias is not None:
            scores = scores + column_bias[tf.newaxis, :]
        if candidate_ids is not None:
            # Other candidates with the row's positive id (its own column stays).
            own = tf.range(start, start + tf.shape(block_queries)[0])
            same_id = tf.equal(candidate_ids[start:start + rows, tf.newaxis], candidate_ids[tf.newaxis, :])
            other = tf.not_equal(own[:, tf.newaxis], columns[tf.newaxis, :])
            scores = tf.where(tf.logical_and(same_id, other), MIN_FLOAT, scores)
        if own_column is not None:
            # One value a row: a scatter, not a mask over the whole block.
            column, bias = own_column[0][start:start + rows], own_column[1][start:start + rows]
            cells = tf.stack([tf.range(tf.shape(column)[0], dtype=column.dtype), column], axis=1)
            scores = tf.tensor_scatter_nd_add(scores, cells, bias)
        row_max = tf.reduce_max(scores, axis=1, keepdims=True)
        exp_scores = tf.exp(scores - row_max)
        row_sum = tf.reduce_sum(exp_scores, axis=1, keepdims=True)
        log_sum_exp += tf.reduce_sum(tf.math.log(row_sum[:, 0]) + row_max[:, 0])
        inverse_sum = 1.0 / row_sum
        d_queries = d_queries.write(i, tf.linalg.matmul(exp_scores, candidates) * inverse_sum)
        queries_t_p += tf.linalg.matmul(block_queries * inverse_sum, exp_scores, transpose_a=True)
        return i + 1, log_sum_exp, d_queries, queries_t_p

    _, log_sum_exp, d_queries, queries_t_p = tf.while_loop(
        lambda i, *_: i < num_blocks,
        block,
        (tf.constant(0), tf.zeros([], queries.dtype),
         tf.TensorArray(queries.dtype, size=num_blocks, infer_shape=False),
         tf.zeros([tf.shape(queries)[1], num_candidates], queries.dtype)),
    )
    return log_sum_exp, d_queries.concat(), tf.transpose(queries_t_p)


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
