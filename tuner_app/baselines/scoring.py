"""Every validation metric from exact ranks: top-k accuracy over pairs; Recall, NDCG, HitRate over users.

A rank is the number of other items scoring at least as high as a validation
row's item (ties count against it), in its user's ranking of the whole
catalogue; a row whose item is unknown, or whose score is not finite, is never a
hit. From the ranks (`space.names` names each figure):

* top-k accuracy (TFRS's): the share of validation rows ranked under k: a mean
  over (user, item) pairs, so a user with many validation items weighs more;
* Recall@K: for each user, their validation rows ranked under K over the number
  of their validation rows (RecBole's and Microsoft Recommenders' denominator;
  LensKit and Merlin divide by min(K, n) instead); averaged over users;
* NDCG@K: binary gains, a log2 discount at each row's rank (1 / log2(rank + 2)),
  over the ideal DCG of min(K, n) hits at the top; averaged over users;
* HitRate@K: the share of users with at least one validation row ranked under K.

Catalogue coverage@K (`coverage`), the share of the items that appear in some
user's top K, is reported beside them, not optimised.

The filtered figures are the same over ranks with each user's training items left
out of the ranking (the row's own item is always ranked). numpy only: the
baselines call it, and `model.metrics` computes the same in TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tuner_app.space.names import TOP_KS, coverage_key, metric_key


def ideal_dcg(hits: np.ndarray) -> np.ndarray:
    """The DCG of `hits` relevant items at the top of a list: sum of 1 / log2(i + 2), i < hits."""
    most = int(np.max(hits, initial=0))
    table = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(most) + 2.0))])
    return table[hits]


def from_ranks(ranks: np.ndarray, users: np.ndarray, known: np.ndarray, filtered: bool = False,
               ks: Sequence[int] = TOP_KS) -> dict[str, float]:
    """Every family's figure at each k from one set of ranks (see the module docstring).

    Args:
        ranks: `[rows]` each validation row's rank (0 is the top).
        users: `[rows]` each row's user (any ids).
        known: `[rows]` whether the row's item can be ranked at all.
        filtered: the ranks leave each user's training items out (names the figures).
    """
    ranks = np.asarray(ranks, np.int64)
    _, owner, counts = np.unique(users, return_inverse=True, return_counts=True)
    discount = 1.0 / np.log2(ranks.astype(np.float64) + 2.0)
    results = {}
    for k in ks:
        hit = known & (ranks < k)
        hits = np.bincount(owner, weights=hit, minlength=len(counts))
        dcg = np.bincount(owner, weights=np.where(hit, discount, 0.0), minlength=len(counts))
        results[metric_key(k, filtered)] = float(np.mean(hit))
        results[metric_key(k, filtered, "recall")] = float(np.mean(hits / counts))
        results[metric_key(k, filtered, "ndcg")] = float(np.mean(dcg / ideal_dcg(np.minimum(counts, k))))
        results[metric_key(k, filtered, "hitrate")] = float(np.mean(hits > 0))
    return results


def ranked_metrics(ranks: np.ndarray, filtered_ranks: np.ndarray | None, users: np.ndarray,
                   known: np.ndarray, ks: Sequence[int] = TOP_KS) -> dict[str, float]:
    """`from_ranks` of the unfiltered ranks, and of the filtered ones when given."""
    results = from_ranks(ranks, users, known, ks=ks)
    if filtered_ranks is not None:
        results.update(from_ranks(filtered_ranks, users, known, filtered=True, ks=ks))
    return results


def coverage(top_items: np.ndarray, num_items: int, ks: Sequence[int] = TOP_KS) -> dict[str, float]:
    """Catalogue coverage@k: the share of the `num_items` items in some list's top k.

    Args:
        top_items: `[lists, >= max(ks)]` item columns of each list (a user's, or a validation row's), best first.
    """
    return {coverage_key(k): float(len(np.unique(top_items[:, :k])) / num_items) for k in ks}
