"""Exact, id-based metrics over all unique titles: top-k accuracy, and Recall, NDCG and HitRate per user.

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

The per-user figures (`PerUserMetrics`) come from the same ranks in the same
pass: each validation row adds its hit and its discounted gain to its user's
sums, and the figures average over the users who have validation rows, as
`baselines.scoring` defines them. A row is ranked with its own query (a
model with time features asks at the row's time); for a query tower without
time, a user's rows share one ranking, and the figures are the usual
single-list Recall@K, NDCG@K and HitRate@K.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tuner_app.model.features import SeenTitles
from tuner_app.space.names import PER_USER_FAMILIES, TOP_KS, metric_key

METRIC_PREFIX = "factorized_top_k"
FILTERED_PREFIX = "filtered_top_k"
PER_USER_PREFIX = "per_user"


def metric_name(k: int, filtered: bool = False, family: str = "top") -> str:
    """The Keras metric name: TFRS's for top-k accuracy, its seen-filtered twin, or a per-user figure's."""
    if family == "top":
        return f"{FILTERED_PREFIX if filtered else METRIC_PREFIX}/top_{k}_categorical_accuracy"
    return f"{PER_USER_PREFIX}{'_filtered' if filtered else ''}/{family}_{k}"


#: Keras's validation log names -> the short names every file shows (`space.names`).
_KERAS_TO_SHORT = {
    f"val_{metric_name(k, filtered, family)}": metric_key(k, filtered, family)
    for family in ("top", *PER_USER_FAMILIES) for k in TOP_KS for filtered in (False, True)
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


class PerUserMetrics(tf.keras.metrics.Metric):
    """Recall@K, NDCG@K and HitRate@K averaged over users, from each validation row's exact rank.

    Keeps one row of sums a user id: their number of validation rows, then, for each
    ranking (unfiltered, then filtered), their hits at each k and their discounted gains
    at each k. A batch adds to it with one segment sum and one `assign_add` (a scatter
    of each row into the variable cost several times more).

    Args:
        num_users: user ids run from 0 to `num_users`.
        ks: the cut-offs.
        rankings: 1 (unfiltered) or 2 (also filtered).
    """

    def __init__(self, num_users: int, ks: Sequence[int], rankings: int, name: str = PER_USER_PREFIX):
        super().__init__(name=name)
        self._ks = tuple(ks)
        self._rankings = rankings
        self._users = num_users + 1
        self.sums = self.add_weight(name="sums", shape=[num_users + 1, 1 + 2 * rankings * len(ks)],
                                    initializer="zeros")

    @property
    def names(self) -> list[str]:
        """The Keras names of `results()`' figures, in its order."""
        return [metric_name(k, bool(r), family) for r in range(self._rankings) for family in PER_USER_FAMILIES
                for k in self._ks]

    def update_state(self, ranks: Sequence[tf.Tensor], users: tf.Tensor, known: tf.Tensor) -> tf.Operation:
        """Adds a batch: each ranking's `[batch]` ranks, the rows' user ids, whether each row's item is known."""
        users = tf.reshape(tf.cast(users, tf.int64), [-1])
        ks = tf.constant(self._ks, tf.int32)
        columns = [tf.ones([tf.shape(users)[0], 1], tf.float32)]
        for rank in ranks:
            hit = tf.logical_and(known[:, tf.newaxis], rank[:, tf.newaxis] < ks)
            discount = 1.0 / (tf.math.log(tf.cast(rank, tf.float32) + 2.0) / tf.math.log(2.0))
            columns += [tf.cast(hit, tf.float32), tf.where(hit, discount[:, tf.newaxis], 0.0)]
        rows = tf.concat(columns, axis=1)
        return self.sums.assign_add(tf.math.unsorted_segment_sum(rows, users, self._users))

    def results(self) -> list[tf.Tensor]:
        """Each ranking's Recall@K, NDCG@K and HitRate@K for each k (`names` order), over users with rows."""
        sums = tf.boolean_mask(self.sums, self.sums[:, 0] > 0)
        count = sums[:, :1]
        ks = tf.constant(self._ks, tf.float32)
        ideal_table = tf.concat([[0.0], tf.cumsum(1.0 / (tf.math.log(tf.range(max(self._ks), dtype=tf.float32)
                                                                         + 2.0) / tf.math.log(2.0)))], axis=0)
        ideal = tf.gather(ideal_table, tf.cast(tf.minimum(count, ks), tf.int32))
        figures, width = [], len(self._ks)
        for ranking in range(self._rankings):
            hits = sums[:, 1 + 2 * ranking * width:1 + (2 * ranking + 1) * width]
            gains = sums[:, 1 + (2 * ranking + 1) * width:1 + (2 * ranking + 2) * width]
            per_family = {"recall": hits / count, "ndcg": gains / ideal, "hitrate": tf.cast(hits > 0, tf.float32)}
            for family in PER_USER_FAMILIES:
                figures.extend(tf.unstack(tf.reduce_mean(per_family[family], axis=0)))
        return figures

    def result(self) -> tf.Tensor:
        return self.results()[0]

    def reset_state(self) -> None:
        self.sums.assign(tf.zeros_like(self.sums))


class ExactTopK(tfrs.metrics.Factorized):
    """Top-k categorical accuracy by exact rank among all candidates, and (given the number of users)
    the per-user figures from the same ranks.

    Args:
        candidate_embeddings: a callable returning `[num_candidates, dim]`
            embeddings; row i belongs to candidate id `i + 1` (id 0 is the
            unknown candidate and is never a hit).
        ks: the cut-offs to report.
        seen: when given, also report the seen-filtered figures; then
            `update_state` needs the queries' user ids.
        num_users: when given, also Recall@K, NDCG@K and HitRate@K per user
            (`PerUserMetrics`); then `update_state` needs the queries' user ids.
    """

    def __init__(
        self,
        candidate_embeddings: Callable[[], tf.Tensor],
        ks: Sequence[int] = TOP_KS,
        seen: SeenTitles | None = None,
        name: str = METRIC_PREFIX,
        num_users: int | None = None,
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
        per_user = None if num_users is None else PerUserMetrics(num_users, self._ks, 2 if seen else 1)
        # Wrapped so that checkpoints do not track it: its sums hold a row per user (MBs for big data)
        # and mean nothing once a validation pass is over. `MovielensModel.reset_metrics` resets it.
        self._per_user = lambda: per_user

    @property
    def per_user(self) -> PerUserMetrics | None:
        return self._per_user()

    def result(self) -> list[tf.Tensor]:
        """Unfiltered accuracies for each k, then (with seen titles) the filtered ones."""
        return [metric.result() for metric in self._top_k_metrics]

    def accuracies(self) -> dict[str, tf.Tensor]:
        """The top-k accuracies so far by their Keras names (`accuracy_names`)."""
        return {metric.name: metric.result() for metric in self._top_k_metrics}

    @property
    def accuracy_names(self) -> list[str]:
        return [metric.name for metric in self._top_k_metrics]

    def per_user_results(self) -> dict[str, tf.Tensor]:
        """The per-user figures so far by their Keras names (none without `num_users`)."""
        if self.per_user is None:
            return {}
        return dict(zip(self.per_user.names, self.per_user.results(), strict=True))

    def results(self) -> dict[str, tf.Tensor]:
        """Every figure by its Keras name: the accuracies, then the per-user figures."""
        return {**self.accuracies(), **self.per_user_results()}

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
            sample_weight: optional `[batch]` weights (the accuracies only).
            users: `[batch]` user ids (required for the filtered and per-user figures).
        """
        if true_candidate_ids is None:
            raise ValueError("ExactTopK is id-based: pass true_candidate_ids.")
        ids = tf.reshape(tf.cast(true_candidate_ids, tf.int64), [-1])
        scores = tf.linalg.matmul(query_embeddings, self._candidate_embeddings(), transpose_b=True)
        # Id 0 (unknown) has no column; clamp it to column 0 and never count it as a hit.
        known = ids > 0
        true_columns = tf.maximum(ids - 1, 0)
        ranks = [true_title_ranks(scores, true_columns)]
        if (self._seen is not None or self.per_user is not None) and users is None:
            raise ValueError("the filtered and per-user metrics need the queries' user ids")
        if self._seen is not None:
            seen = tf.gather(self._seen, tf.cast(users, tf.int64))
            ranks.append(ranks[0] - seen_above_true(scores, true_columns, seen))
        update_ops = []
        metrics = iter(self._top_k_metrics)
        for rank in ranks:
            for k in self._ks:
                hits = tf.cast(tf.logical_and(known, rank < k), tf.float32)
                update_ops.append(next(metrics).update_state(hits, sample_weight))
        if self.per_user is not None:
            update_ops.append(self.per_user.update_state(ranks, users, known))
        return tf.group(update_ops)


def top_columns(model, dataset: tf.data.Dataset, k: int) -> np.ndarray:
    """`[rows, k]` the k best-scored item columns of each row's query in `dataset`, best first."""
    candidates = model.candidate_embeddings()
    k = min(k, int(candidates.shape[0]))
    tops = [tf.math.top_k(tf.linalg.matmul(model.query_model(batch), candidates, transpose_b=True), k=k).indices.numpy()
            for batch in dataset]
    return np.concatenate(tops) if tops else np.zeros((0, k), np.int32)
