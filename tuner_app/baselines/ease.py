"""EASE, a closed-form item-item model: the classical baseline a deep retrieval model has to beat.

Steck, *Embarrassingly Shallow Autoencoders for Sparse Data* (WWW 2019). With X
the users x titles matrix of training ratings (1 where a user rated a title),
EASE's weights minimise ||X - XB||^2 + l2 ||B||^2 with a zero diagonal, which
has a closed form: P = (X^T X + l2 I)^-1, B = I - P / diag(P) column by column.
A user's scores are their row of X times B.

It ranks the whole catalogue for each user as a deployed model would
(`baselines.ranking`): ties broken by popularity, so a user without training
history gets the popularity list. The L2 weight is chosen on the validation rows
from `L2_GRID` by the search's objective, as a tuner would; the held-back rows
are scored with that choice only.

P is inverted in float32 through its Cholesky factor (half the work and memory of
numpy's float64 LU inverse; the test suite checks the rankings equal float64's),
in place, so the memory it needs is two titles x titles float32 matrices (the
Gram matrix, kept for every L2 weight, and the one being inverted). EASE is
skipped only where those do not fit in the memory available (`plan`), and the
time it will take is printed before it starts. numpy and scipy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

from tuner_app.baselines.popularity import popularity_position
from tuner_app.baselines.ranking import BLOCK_VALUES, rank_rows, top_items
from tuner_app.baselines.scoring import coverage
from tuner_app.space.names import TOP_KS

#: The L2 weights tried, on the validation rows.
L2_GRID = (100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0)
METHOD = "EASE (Steck 2019): closed-form item-item weights on the training ratings, L2 chosen on validation"
#: Float32 flops a second this kind of machine (2 cores) did in EASE: 9,645 titles, 6 L2 weights in 70.9 s
#: with the machine to itself (benchmarks/baselines.py), 157 s while a search shared it.
_FLOPS = 7.5e10


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
    """EASE's `B` (float32) from the Gram matrix `X^T X` (float32: its counts are exact) and the L2 weight.

    (G + l2 I) is positive definite: its Cholesky factor and inverse are computed in
    place (LAPACK's spotrf, spotri), on one copy of G.
    """
    weights = gram.copy()
    weights.flat[::len(gram) + 1] += l2  # the diagonal, without a titles x titles identity
    factor, info = lapack.spotrf(weights, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorisation failed (LAPACK info {info})")
    weights, info = lapack.spotri(factor, lower=1, overwrite_c=1)
    del factor
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (LAPACK info {info})")
    _mirror_lower(weights)
    weights /= -np.diag(weights).copy()[np.newaxis, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def _mirror_lower(matrix: np.ndarray, block: int = 1024) -> None:
    """Copies the lower triangle over the upper one, in place, a block of rows at a time (LAPACK wrote
    only the lower one; a whole transpose would need a third titles x titles matrix)."""
    size = len(matrix)
    for start in range(0, size, block):
        stop = min(size, start + block)
        matrix[start:stop, stop:] = matrix[stop:, start:stop].T
        rows = matrix[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        rows[upper] = rows.T[upper]


def plan(num_titles: int, available: int | None = None, flops: float | None = None,
         grid: Sequence[float] = L2_GRID) -> tuple[float, str | None]:
    """EASE's estimated seconds for this catalogue, and why it is skipped (None: it runs).

    Memory: two titles x titles float32 matrices, and the score blocks (`ranking`). Time:
    a Cholesky factorisation and inverse (about titles^3 multiply-adds) for each L2 weight.
    """
    needed = memory_needed(num_titles)
    available = memory_available() if available is None else available
    seconds = len(grid) * num_titles ** 3 / (flops or _FLOPS)
    if needed > available:
        return seconds, (f"EASE skipped: its {num_titles:,} x {num_titles:,} Gram matrix and inverse need about "
                         f"{needed / 1e9:.1f} GB and {available / 1e9:.1f} GB is available; ALS scales to this "
                         "catalogue")
    return seconds, None


def memory_needed(num_titles: int) -> int:
    """Bytes EASE holds at its peak: the Gram matrix and its inverse (float32), and three score blocks."""
    return 2 * 4 * num_titles ** 2 + 4 * BLOCK_VALUES * 3


def memory_available() -> int:
    """Bytes of memory available to new work (Linux's MemAvailable; elsewhere, what the process may use)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def ease_baseline(data, objective: str, exclude_seen: bool, grid: Sequence[float] = L2_GRID,
                  say=None) -> dict:
    """EASE on the search's split: the L2 weight chosen on the validation rows by `objective`.

    Args:
        data: the search's `model.features.SplitData` (read as plain arrays).
        objective: the metric the L2 weight is chosen by (the search's objective).
        exclude_seen: also score with each user's training titles left out.
        say: called with a line before the work starts (its estimated time).

    Returns:
        `{"method", "l2", "l2_grid": {l2: objective}, "coverage", "validation", "holdout", "seconds"}`,
        or `{"method", "skipped": reason}` where it cannot fit in memory.
    """
    num_users, num_titles = data.vocab.num_users, data.vocab.num_titles
    estimate, reason = plan(num_titles, grid=grid)
    if reason is not None:
        return {"method": METHOD, "skipped": reason}
    if say is not None and estimate >= 10:
        say(f"EASE on {num_titles:,} titles: about {estimate:.0f} s for {len(grid)} L2 weights")
    started = time.perf_counter()
    matrix = interactions(data.train.user, data.train.title, num_users, num_titles)
    gram = (matrix.T @ matrix).toarray().astype(np.float32)
    seen = matrix if exclude_seen else None
    position = popularity_position(data.train.title, num_titles)

    def score(weights: np.ndarray, part) -> dict[str, float]:
        return rank_rows(lambda users: np.asarray(matrix[users] @ weights), part.user, part.title,
                                 num_titles, position, seen)

    tried, best, weights = {}, None, None
    for l2 in grid:  # the best weights so far are kept, not computed again
        candidate = ease_weights(gram, l2)
        tried[l2] = score(candidate, data.validation)
        if best is None or (tried[l2].get(objective, -1.0), -l2) > (tried[best].get(objective, -1.0), -best):
            best, weights = l2, candidate
        del candidate
    del gram
    top = top_items(lambda users: np.asarray(matrix[users] @ weights), np.unique(data.validation.user),
                            num_titles, position, max(TOP_KS))
    return {
        "method": METHOD,
        "l2": best,
        "coverage": coverage(top, num_titles),
        "l2_grid": {f"{l2:g}": tried[l2].get(objective) for l2 in grid},
        "validation": tried[best],
        "holdout": score(weights, data.holdout) if data.holdout is not None else {},
        "seconds": round(time.perf_counter() - started, 2),
    }
