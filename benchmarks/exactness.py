"""Checks the app's top-k accuracies against an independent numpy computation.

The app's `ExactTopK` ranks the true title among all unique titles by id. Here
the same question is answered without TensorFlow's metric code: embeddings are
taken out of the trained model, scored in numpy, and each validation row's
rank is the number of other candidates scoring at least as high as its true title.
TFRS's own score-based `FactorizedTopK`, run on the same model, is reported
next to it: it differs slightly by design (it under-counts near-ties and
counts duplicate catalogue titles twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tuner_app.data import Ratings
from tuner_app.model import features, pipelines
from tuner_app.model.metrics import metric_name
from tuner_app.store.vocabulary import Vocabulary

KS = (1, 5, 10, 50, 100)
#: Equal "to float32 rounding of the mean": Keras accumulates the mean in float32.
TOLERANCE = 1e-6
_CHUNK = 4096


@dataclass(frozen=True)
class TopKCheck:
    """Accuracies per k: the app's metric, numpy's exact ranks, TFRS on the same model."""

    app: dict[int, float]
    numpy: dict[int, float]
    tfrs_same_model: dict[int, float]

    @property
    def max_difference(self) -> float:
        return max(abs(self.app[k] - self.numpy[k]) for k in self.numpy)

    @property
    def equal(self) -> bool:
        return self.max_difference < TOLERANCE


def app_accuracies(logs: dict[str, float], ks: Sequence[int] = KS) -> dict[int, float]:
    """Top-k accuracies from the app's (or the tutorial's) `evaluate(return_dict=True)`."""
    return {k: float(logs[metric_name(k)]) for k in ks}


def _query_embeddings(model: tf.keras.Model, rows: features.EncodedRatings) -> np.ndarray:
    inputs = {"user": tf.constant(rows.user), "timestamp": tf.constant(rows.timestamp)}
    return model.query_model(inputs).numpy()


def numpy_accuracies(
    model: tf.keras.Model, rows: features.EncodedRatings, ks: Sequence[int] = KS
) -> dict[int, float]:
    """Share of rows whose true title id is among the k best-scored candidates, by numpy.

    Candidate id i + 1 is row i of `model.candidate_embeddings()`; id 0 (an
    unknown title) is never a hit.
    """
    queries = _query_embeddings(model, rows)
    candidates = model.candidate_embeddings().numpy()
    ranks = np.empty(len(rows), np.int64)
    true_columns = np.maximum(rows.title - 1, 0)
    for start in range(0, len(rows), _CHUNK):  # chunks keep the score matrix small
        part = slice(start, start + _CHUNK)
        scores = queries[part] @ candidates.T
        true_scores = scores[np.arange(scores.shape[0]), true_columns[part]]
        # Other titles scoring at least as high (ties count against the true title); NaN: worst.
        ranks[part] = (scores >= true_scores[:, None]).sum(axis=1) - 1
        ranks[part][~np.isfinite(true_scores)] = scores.shape[1]
    known = rows.title > 0
    return {k: float(np.mean(known & (ranks < k))) for k in ks}


def tfrs_accuracies(
    model: tf.keras.Model,
    ratings: Ratings,
    vocab: Vocabulary,
    rows: features.EncodedRatings,
    ks: Sequence[int] = KS,
) -> dict[int, float]:
    """TFRS's streaming `FactorizedTopK` on the app's model, with the tutorial's candidates.

    The candidates are the catalogue's titles in file order, duplicates kept,
    batched by 128, as the tutorial's `movies.batch(128).map(candidate_model)`.
    """
    catalog_ids = features.make_title_lookup(vocab)(ratings.item_catalog.astype(str))
    candidates = tf.data.Dataset.from_tensor_slices(tf.cast(catalog_ids, tf.int64)).batch(128)
    metric = tfrs.metrics.FactorizedTopK(candidates=candidates.map(model.candidate_model), ks=ks)

    @tf.function  # eager, the streaming top-k over 1,682 candidates is needlessly slow
    def update(queries: tf.Tensor, true_candidates: tf.Tensor) -> None:
        metric.update_state(queries, true_candidates)

    dataset = pipelines.make_eval_dataset(rows, _CHUNK)
    for batch in dataset:
        update(model.query_model(batch), model.candidate_model(batch["title"]))
    return {k: float(value) for k, value in zip(ks, metric.result(), strict=True)}


def check_top_k(
    model: tf.keras.Model, logs: dict[str, float], ratings: Ratings, data: features.SplitData
) -> TopKCheck:
    """The app's validation accuracies, numpy's, and TFRS's on the same trained model."""
    return TopKCheck(
        app=app_accuracies(logs),
        numpy=numpy_accuracies(model, data.validation),
        tfrs_same_model=tfrs_accuracies(model, ratings, data.vocab, data.validation),
    )
