"""Baselines on the search's own split: is a trial any good?

The popularity baseline recommends the same list to everyone: titles ordered
by how often they were rated in the training split (ties broken by title id,
so the order is total). On MovieLens 100k it scores about 0.296 top-100
accuracy, more than the tutorial's hand-picked models reach.

With seen-item filtering, each user's list skips the titles that user rated
in training. Computed for all validation rows at once: a row's filtered
position is its title's global position minus the number of the user's seen
titles placed before it, counted with one `searchsorted` over all users'
sorted positions (no Python loop over users).

numpy only; names of the results match the trials' (`val_top_k`,
`val_filtered_recall_k`, ...: `baselines.scoring`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tuner_app.baselines.scoring import coverage, ranked_metrics
from tuner_app.space.names import TOP_KS


def popularity_order(train_titles: np.ndarray, num_titles: int) -> np.ndarray:
    """Candidate columns (id - 1) from most to least rated in training; ties by id."""
    counts = np.bincount(train_titles[train_titles > 0] - 1, minlength=num_titles)
    return np.lexsort((np.arange(num_titles), -counts))


def popularity_position(train_titles: np.ndarray, num_titles: int) -> np.ndarray:
    """Each candidate column's place in `popularity_order` (0: the most rated): a strict order to break ties by."""
    position = np.empty(num_titles, np.int64)
    position[popularity_order(train_titles, num_titles)] = np.arange(num_titles)
    return position


def popularity_baseline(
    train_titles: np.ndarray,
    eval_users: np.ndarray,
    eval_titles: np.ndarray,
    num_titles: int,
    seen_row_splits: np.ndarray | None = None,
    seen_columns: np.ndarray | None = None,
    ks: Sequence[int] = TOP_KS,
) -> dict[str, float]:
    """The metrics of recommending the most-rated titles, unfiltered and (given seen) filtered.

    Args:
        train_titles: candidate ids (1-based; 0 unknown) of the training ratings.
        eval_users, eval_titles: user and candidate ids of the rows to score.
        num_titles: number of candidates.
        seen_row_splits, seen_columns: each user's training titles as candidate
            columns, CSR by user id (see `model.features.SeenTitles`).
        ks: cut-offs.

    Returns:
        Every metric (`baselines.scoring`), unfiltered and (given seen) filtered.
    """
    position = popularity_position(train_titles, num_titles)
    known = eval_titles > 0
    true_position = np.where(known, position[np.maximum(eval_titles - 1, 0)], num_titles)
    filtered = None
    if seen_row_splits is not None:
        filtered = true_position - _seen_before(position, eval_users, true_position, seen_row_splits, seen_columns)
    return ranked_metrics(true_position, filtered, eval_users, known, ks)


def _seen_before(position, users, true_position, row_splits, columns) -> np.ndarray:
    """For each row, how many of its user's seen titles sit strictly before its true title."""
    span = len(position) + 1
    owners = np.repeat(np.arange(len(row_splits) - 1), np.diff(row_splits))
    keys = np.sort(owners * span + position[columns])
    starts = row_splits[users]
    return np.searchsorted(keys, users * span + true_position, side="left") - starts


def popularity_coverage(train_titles: np.ndarray, num_titles: int, ks: Sequence[int] = TOP_KS) -> dict[str, float]:
    """Coverage@k of the one list popularity gives everyone: k of the catalogue's items."""
    order = popularity_order(train_titles, num_titles)
    return coverage(order[np.newaxis, :max(ks)], num_titles, ks)
