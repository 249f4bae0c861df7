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

    Each user's scores are sorted once; a row's rank is then a binary search for the items scoring
    higher, plus, only where other items score exactly the same, those of them more popular. Filtered,
    the user's training items above the row's are counted among those items alone. So a user costs
    one sort of the catalogue, not a pass over it for each of their rows.

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
        scores = np.asarray(score_users(distinct[start:stop]))
        ordered = np.sort(scores, axis=1)  # NaN, never above an item, sorts last
        for user in range(start, stop):
            rows = order[bounds[user]:bounds[user + 1]]
            row_scores, row_columns = scores[user - start], columns[rows]
            true = row_scores[row_columns]
            rank = _ranks(row_scores, ordered[user - start], true, row_columns, position)
            ranks[rows] = rank
            if seen is not None:
                training = seen.indices[seen.indptr[distinct[user]]:seen.indptr[distinct[user] + 1]]
                filtered[rows] = np.where(np.isfinite(true), rank - _above(
                    row_scores[training], position[training], true, position[row_columns]), num_items)
    return ranked_metrics(ranks, filtered, users, known, ks)


def _ranks(scores: np.ndarray, ordered: np.ndarray, true: np.ndarray, columns: np.ndarray,
           position: np.ndarray) -> np.ndarray:
    """How many of one user's items come before each of `columns` (whose scores are `true`): higher scores,
    then more popular at equal ones; `len(scores)` for a column whose own score is not finite. `ordered` is
    `np.sort(scores)`."""
    if ordered[0] == ordered[-1] and np.isfinite(ordered[0]):
        # Every item scores the same (a user without history): the popularity list.
        return position[columns].astype(np.int64)
    finite_end = np.searchsorted(ordered, np.nan)  # the NaN scores, sorted last, never count
    low, high = np.searchsorted(ordered, true, "left"), np.searchsorted(ordered, true, "right")
    rank = finite_end - high
    tied = np.flatnonzero(high - low > 1)  # other items score exactly the same: the more popular come first
    rank[tied] = _above(scores, position, true[tied], position[columns[tied]])
    return np.where(np.isfinite(true), rank, len(scores))


def _above(scores: np.ndarray, position: np.ndarray, true: np.ndarray, true_position: np.ndarray) -> np.ndarray:
    """For each (score, popularity place) in `true`, `true_position`: how many of the items (`scores`,
    `position`) come before it, a block of rows at a time."""
    counts = np.empty(len(true), np.int64)
    step = max(1, BLOCK_VALUES // max(1, len(scores)))
    for chunk in range(0, len(true), step):
        value, place = true[chunk:chunk + step, np.newaxis], true_position[chunk:chunk + step, np.newaxis]
        counts[chunk:chunk + step] = ((scores > value) | ((scores == value) & (position < place))).sum(axis=1)
    return counts


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
