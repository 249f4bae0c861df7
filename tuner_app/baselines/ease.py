"""EASE, a closed-form item-item model: the classical baseline a deep retrieval model has to beat.

Steck, *Embarrassingly Shallow Autoencoders for Sparse Data* (WWW 2019). With X
the users x titles matrix of training ratings (1 where a user rated a title),
EASE's weights minimise ||X - XB||^2 + l2 ||B||^2 with a zero diagonal, which
has a closed form: P = (X^T X + l2 I)^-1, B = I - P / diag(P) column by column.
A user's scores are their row of X times B.

It is scored exactly like a trial (`model.metrics.ExactTopK`): a validation
rating is a hit at k when fewer than k other titles score at least as high as
its title (ties count against it), and, filtered, when fewer than k of the
titles the user did not rate in training do. The L2 weight is chosen on the
validation rows from `L2_GRID` by the search's objective, as a tuner would;
the held-back rows are scored with that choice only.

The inverse is titles x titles: past `MAX_TITLES` (minutes of CPU per L2 weight)
EASE is skipped with the reason. numpy and scipy.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from tuner_app.baselines.scoring import coverage, ranked_metrics
from tuner_app.space.names import TOP_KS

#: The L2 weights tried, on the validation rows.
L2_GRID = (100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0)
#: Catalogues larger than this skip EASE: its dense titles x titles inverse, once per L2 weight
#: tried, takes a minute or more on a 2-core machine (ml-1m's 3,706 titles: about 5 s in all).
MAX_TITLES = 6_000
METHOD = "EASE (Steck 2019): closed-form item-item weights on the training ratings, L2 chosen on validation"
#: Score-matrix values computed at a time when ranking (64 MB of float32).
_BLOCK_VALUES = 1 << 24


def interactions(users: np.ndarray, titles: np.ndarray, num_users: int, num_titles: int) -> sparse.csr_matrix:
    """`[num_users + 1, num_titles]` 0/1: which titles (columns, id - 1) each user id rated.

    Unknown titles (id 0) are left out; row 0 is the unknown user.
    """
    known = titles > 0
    matrix = sparse.csr_matrix((np.ones(int(known.sum()), np.float32), (users[known], titles[known] - 1)),
                               shape=(num_users + 1, num_titles))
    matrix.data[:] = 1.0  # a title rated twice by one user (a repeated title) counts once
    return matrix


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """EASE's `B` from the Gram matrix `X^T X` (float64) and the L2 weight."""
    regularised = gram.copy()
    regularised.flat[::len(gram) + 1] += l2  # the diagonal, without a titles x titles identity
    weights = np.linalg.inv(regularised)
    del regularised
    weights /= -np.diag(weights).copy()[np.newaxis, :]
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def rank_metrics(user_scores: np.ndarray, rows_users: np.ndarray, rows_titles: np.ndarray,
                 seen: sparse.csr_matrix | None, ks: Sequence[int] = TOP_KS) -> dict[str, float]:
    """Every metric of each row's title under its user's scores, as `ExactTopK` counts it
    (`baselines.scoring`).

    Args:
        user_scores: `[num_users + 1, num_titles]` scores of every user id.
        rows_users, rows_titles: user and title id of each rating scored.
        seen: when given, also the filtered metrics: each user's seen columns other
            than the row's own title are left out of the ranking.
    """
    n = len(rows_titles)
    known = rows_titles > 0
    columns = np.maximum(rows_titles - 1, 0)
    ranks = np.empty(n, np.int64)
    filtered = np.empty(n, np.int64) if seen is not None else None
    block = max(1, _BLOCK_VALUES // max(1, user_scores.shape[1]))
    for start in range(0, n, block):
        stop = min(n, start + block)
        scores = user_scores[rows_users[start:stop]]
        true = scores[np.arange(stop - start), columns[start:stop]]
        at_least = scores >= true[:, np.newaxis]
        ranks[start:stop] = np.where(np.isfinite(true), at_least.sum(axis=1) - 1, scores.shape[1])
        if seen is not None:
            mask = seen[rows_users[start:stop]].toarray().astype(bool)
            mask[np.arange(stop - start), columns[start:stop]] = False
            filtered[start:stop] = ranks[start:stop] - (at_least & mask).sum(axis=1)
    return ranked_metrics(ranks, filtered, rows_users, known, ks)


def top_columns(user_scores: np.ndarray, users: np.ndarray, k: int) -> np.ndarray:
    """`[len(users), k]` each user's k best-scored columns, best first."""
    k = min(k, user_scores.shape[1])
    block = max(1, _BLOCK_VALUES // max(1, user_scores.shape[1]))
    tops = []
    for start in range(0, len(users), block):
        scores = user_scores[users[start:start + block]]
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        tops.append(np.take_along_axis(part, order, axis=1))
    return np.concatenate(tops) if tops else np.zeros((0, k), np.int64)


def skip_reason(num_titles: int) -> str | None:
    """Why EASE is not computed for a catalogue of this size, or None."""
    if num_titles <= MAX_TITLES:
        return None
    gigabytes = num_titles ** 2 * 8 * 2 / 1e9
    return (f"EASE skipped: its {num_titles:,} x {num_titles:,} inverse needs about {gigabytes:.1f} GB and minutes "
            f"of CPU for each of the {len(L2_GRID)} L2 weights tried; it runs for catalogues of up to "
            f"{MAX_TITLES:,} titles")


def ease_baseline(data, objective: str, exclude_seen: bool, grid: Sequence[float] = L2_GRID) -> dict:
    """EASE on the search's split: the L2 weight chosen on the validation rows by `objective`.

    Args:
        data: the search's `model.features.SplitData` (read as plain arrays).
        objective: the metric the L2 weight is chosen by (the search's objective).
        exclude_seen: also score with each user's training titles left out.

    Returns:
        `{"method", "l2", "l2_grid": {l2: objective}, "validation", "holdout", "seconds"}`,
        or `{"method", "skipped": reason}` for a catalogue too big.
    """
    num_users, num_titles = data.vocab.num_users, data.vocab.num_titles
    reason = skip_reason(num_titles)
    if reason is not None:
        return {"method": METHOD, "skipped": reason}
    started = time.perf_counter()
    matrix = interactions(data.train.user, data.train.title, num_users, num_titles)
    gram = (matrix.T @ matrix).toarray().astype(np.float64)
    seen = matrix if exclude_seen else None

    def score(weights: np.ndarray, part) -> dict[str, float]:
        return rank_metrics(np.asarray(matrix @ weights), part.user, part.title, seen)

    tried, best, weights = {}, None, None
    for l2 in grid:  # the best weights so far are kept, not computed again
        candidate = ease_weights(gram, l2)
        tried[l2] = score(candidate, data.validation)
        if best is None or (tried[l2].get(objective, -1.0), -l2) > (tried[best].get(objective, -1.0), -best):
            best, weights = l2, candidate
        del candidate
    validation_users = np.unique(data.validation.user)
    top = top_columns(np.asarray(matrix[validation_users] @ weights), np.arange(len(validation_users)), max(TOP_KS))
    return {
        "method": METHOD,
        "l2": best,
        "coverage": coverage(top, num_titles),
        "l2_grid": {f"{l2:g}": tried[l2].get(objective) for l2 in grid},
        "validation": tried[best],
        "holdout": score(weights, data.holdout) if data.holdout is not None else {},
        "seconds": round(time.perf_counter() - started, 2),
    }
