"""Exact, id-based top-k accuracy over all unique titles.

TFRS's `FactorizedTopK` streams candidates through a top-k and compares
scores; it is slow (benchmarks/README.md) and slightly under-counts: the true title's score recomputed in the index can exceed the
positive's score by an ulp, and duplicate titles count twice.

`ExactTopK` answers the question the metric asks, "is the true title among
the k best-scored unique titles", by counting, for each query, how many
other titles score at least as high as the true one. One matmul and one
comparison give every k at once, with no top_k at all. Ties count against
the true title: a model whose towers have collapsed (every title scored the
same, as a dead ReLU stack does) must score 0, not a perfect 1. A true title
whose score is not finite (NaN) is never a hit.

Seen-item filtering (what a deployed recommender does: never recommend what
the user already rated) removes, per user, the titles they rated in the
training split from the ranking. It needs no mask over all titles: the
filtered rank is the unfiltered rank minus the number of the user's seen
titles that score above the true one, gathered sparsely per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf
import tensorflow_recommenders as tfrs

from tuner_app.model.features import SeenTitles
from tuner_app.space.names import TOP_KS, metric_key

METRIC_PREFIX = "factorized_top_k"
FILTERED_PREFIX = "filtered_top_k"


def metric_name(k: int, filtered: bool = False) -> str:
    """The Keras metric name: TFRS's for top-k accuracy, or its seen-filtered twin."""
    return f"{FILTERED_PREFIX if filtered else METRIC_PREFIX}/top_{k}_categorical_accuracy"


#: Keras's validation log names -> the short names every file shows (`space.names`).
_KERAS_TO_SHORT = {
    f"val_{metric_name(k, filtered)}": metric_key(k, filtered) for k in TOP_KS for filtered in (False, True)
}


def short_metrics(logs: dict, validation: bool = True) -> dict[str, float]:
    """The top-k figures of Keras logs under their short names (`val_top_100`, ...).

    Args:
        logs: from `fit` (validation entries start with `val_`) or, with
            `validation=False`, from `evaluate`.
    """
    prefix = "" if validation else "val_"
    return {_KERAS_TO_SHORT[prefix + k]: float(v) for k, v in logs.items() if prefix + k in _KERAS_TO_SHORT}


def true_title_ranks(scores: tf.Tensor, true_columns: tf.Tensor) -> tf.Tensor:
    """For each row of `scores`, how many other columns score at least as high as the true column.

    Ties count against the true column; a row whose true score is not finite
    gets the worst rank (the number of columns).
    """
    true_scores = tf.gather(scores, true_columns, axis=1, batch_dims=1)
    at_least = tf.reduce_sum(tf.cast(scores >= true_scores[:, tf.newaxis], tf.int32), axis=1) - 1
    return tf.where(tf.math.is_finite(true_scores), at_least, tf.shape(scores)[1])


def seen_above_true(scores: tf.Tensor, true_columns: tf.Tensor, seen_columns: tf.RaggedTensor) -> tf.Tensor:
    """For each row, how many of its seen columns, other than the true one, score at least as high.

    Args:
        scores: `[batch, num_candidates]`.
        true_columns: `[batch]` column of each row's true candidate.
        seen_columns: ragged `[batch, None]` columns each row's user has seen.
    """
    rows = seen_columns.value_rowids()
    columns = seen_columns.flat_values
    seen_scores = tf.gather_nd(scores, tf.stack([rows, columns], axis=1))
    true_scores = tf.gather(scores, true_columns, axis=1, batch_dims=1)
    above = tf.logical_and(seen_scores >= tf.gather(true_scores, rows), columns != tf.gather(true_columns, rows))
    return tf.math.unsorted_segment_sum(tf.cast(above, tf.int32), rows, tf.shape(scores)[0])


class ExactTopK(tfrs.metrics.Factorized):
    """Top-k categorical accuracy by exact rank among all candidates.

    Args:
        candidate_embeddings: a callable returning `[num_candidates, dim]`
            embeddings; row i belongs to candidate id `i + 1` (id 0 is the
            unknown candidate and is never a hit).
        ks: the cut-offs to report.
        seen: when given, also report the seen-filtered accuracies; then
            `update_state` needs the queries' user ids.
    """

    def __init__(
        self,
        candidate_embeddings: Callable[[], tf.Tensor],
        ks: Sequence[int] = TOP_KS,
        seen: SeenTitles | None = None,
        name: str = METRIC_PREFIX,
    ):
        super().__init__(name=name)
        # Wrapped so Keras does not track the towers a second time through the metric.
        self._candidate_embeddings = lambda: candidate_embeddings()
        self._ks = tuple(ks)
        self._seen = None
        if seen is not None:
            self._seen = tf.RaggedTensor.from_row_splits(
                tf.constant(seen.columns, tf.int64), tf.constant(seen.row_splits, tf.int64)
            )
        # Assigned once, complete: Keras tracks the metrics of a list when it is set.
        self._top_k_metrics = [
            tf.keras.metrics.Mean(name=metric_name(k, filtered))
            for filtered in ((False, True) if seen is not None else (False,))
            for k in self._ks
        ]

    def result(self) -> list[tf.Tensor]:
        """Unfiltered accuracies for each k, then (with seen titles) the filtered ones."""
        return [metric.result() for metric in self._top_k_metrics]

    @property
    def top_k_metrics(self) -> list[tf.keras.metrics.Metric]:
        return list(self._top_k_metrics)

    @property
    def ks(self) -> tuple[int, ...]:
        return self._ks

    def update_state(
        self,
        query_embeddings: tf.Tensor,
        true_candidate_embeddings: tf.Tensor | None = None,
        true_candidate_ids: tf.Tensor | None = None,
        sample_weight: tf.Tensor | None = None,
        users: tf.Tensor | None = None,
    ) -> tf.Operation:
        """Counts hits for a batch of queries.

        Args:
            query_embeddings: `[batch, dim]`.
            true_candidate_embeddings: unused; the true candidate's score is
                read from the same score matrix as the others, so it is
                compared exactly.
            true_candidate_ids: `[batch]` int ids of the true candidates (required).
            sample_weight: optional `[batch]` weights.
            users: `[batch]` user ids (required for the filtered metrics).
        """
        if true_candidate_ids is None:
            raise ValueError("ExactTopK is id-based: pass true_candidate_ids.")
        ids = tf.reshape(tf.cast(true_candidate_ids, tf.int64), [-1])
        scores = tf.linalg.matmul(query_embeddings, self._candidate_embeddings(), transpose_b=True)
        # Id 0 (unknown) has no column; clamp it to column 0 and never count it as a hit.
        known = ids > 0
        true_columns = tf.maximum(ids - 1, 0)
        ranks = [true_title_ranks(scores, true_columns)]
        if self._seen is not None:
            if users is None:
                raise ValueError("the filtered metrics need the queries' user ids")
            seen = tf.gather(self._seen, tf.cast(users, tf.int64))
            ranks.append(ranks[0] - seen_above_true(scores, true_columns, seen))
        update_ops = []
        metrics = iter(self._top_k_metrics)
        for rank in ranks:
            for k in self._ks:
                hits = tf.cast(tf.logical_and(known, rank < k), tf.float32)
                update_ops.append(next(metrics).update_state(hits, sample_weight))
        return tf.group(update_ops)
