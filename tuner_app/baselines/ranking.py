"""Ranking the whole catalogue for a classical baseline, user by user, as a deployed model would.

A baseline (EASE, ALS) gives each user a score for every item (`score_users`).
Its rank of a validation row's item counts the items above it: those scoring
higher and, among those scoring the same, the more popular ones in training
(`popularity_position`, a strict order). So a user without training history,
whose scores are all equal, gets the popularity list, and ties never count
against a baseline's item as they do against a trial's (a collapsed model must
score 0; a baseline should be the bar a deployed system sets). Filtered, each
user's training items other than the row's own are left out of the ranking.

Users are scored a block at a time, only those with rows to rank: the score
matrix is never users x items whole. numpy and scipy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from tuner_app.baselines.scoring import ranked_metrics
from tuner_app.space.names import TOP_KS

#: Score values computed at a time (64 MB of float32).
BLOCK_VALUES = 1 << 24

ScoreUsers = Callable[[np.ndarray], np.ndarray]  # user ids -> [len(ids), num_items] scores


def rank_rows(score_users: ScoreUsers, users: np.ndarray, items: np.ndarray, num_items: int,
              position: np.ndarray, seen: sparse.csr_matrix | None, ks: Sequence[int] = TOP_KS) -> dict[str, float]:
    """Every metric (`baselines.scoring`) of the rows (user id, item id; 0 unknown) under the baseline's scores.

    Args:
        score_users: the baseline's scores of whole user rows.
        position: each item column's place in the training popularity order (0: the most rated).
        seen: when given, also the filtered figures (each user's training items, by user id).
    """
    known = items > 0
    columns = np.maximum(items - 1, 0)
    ranks = np.empty(len(items), np.int64)
    filtered = np.empty(len(items), np.int64) if seen is not None else None
    distinct, owner = np.unique(users, return_inverse=True)
    order = np.argsort(owner, kind="stable")  # rows grouped by user
    bounds = np.searchsorted(owner[order], np.arange(len(distinct) + 1))
    block = max(1, BLOCK_VALUES // max(1, num_items))
    for start in range(0, len(distinct), block):
        stop = min(len(distinct), start + block)
        scores = score_users(distinct[start:stop])
        user_rows = order[bounds[start]:bounds[stop]]
        for chunk in range(0, len(user_rows), block):  # users with many rows: a block of rows at a time
            rows = user_rows[chunk:chunk + block]
            row_scores = scores[owner[rows] - start]
            true = row_scores[np.arange(len(rows)), columns[rows]]
            above = (row_scores > true[:, np.newaxis]) | ((row_scores == true[:, np.newaxis]) & (
                position[np.newaxis, :] < position[columns[rows]][:, np.newaxis]))
            ranks[rows] = np.where(np.isfinite(true), above.sum(axis=1), num_items)
            if seen is not None:
                mask = seen[users[rows]].toarray().astype(bool)
                mask[np.arange(len(rows)), columns[rows]] = False
                filtered[rows] = ranks[rows] - (above & mask).sum(axis=1)
    return ranked_metrics(ranks, filtered, users, known, ks)


def top_items(score_users: ScoreUsers, users: np.ndarray, num_items: int, position: np.ndarray,
              k: int) -> np.ndarray:
    """`[len(users), k]` each user's k first item columns (score, then popularity), best first.

    Only the items scoring at least a user's k-th best are sorted (a partition finds that score), so
    a catalogue of 59k items costs about k sorted a user, not 59k; ties at the k-th score are all
    kept and broken by popularity, as a whole sort would.
    """
    k = min(k, num_items)
    block = max(1, BLOCK_VALUES // max(1, num_items))
    tops = []
    for start in range(0, len(users), block):
        scores = score_users(users[start:start + block])
        kth = np.partition(scores, num_items - k, axis=1)[:, num_items - k]
        rows, columns = np.nonzero(scores >= kth[:, np.newaxis])
        order = np.lexsort((position[columns], -scores[rows, columns], rows))
        rows, columns = rows[order], columns[order]
        first = np.searchsorted(rows, np.arange(len(scores)))
        tops.append(columns[first[:, np.newaxis] + np.arange(k)])
    return np.concatenate(tops) if tops else np.zeros((0, k), np.int64)
