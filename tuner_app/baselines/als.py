"""Implicit-feedback ALS, the classical baseline that scales to any catalogue: the `implicit` library's.

Hu, Koren and Volinsky, *Collaborative Filtering for Implicit Feedback Datasets*
(ICDM 2008): users and items get factors that fit every (user, item) cell, each
observed cell weighted by a confidence 1 + alpha (a rating in training counts once).
Its settings are chosen on the validation rows by the search's objective, a
few fits in all (`STAGES`): the confidence weight first, then the regularisation
at the best weight, then more factors at the best of those. On data of more than
`GRID_CELLS` training cells the settings are chosen on a random sample of the
users holding about that many (and their validation rows), and the chosen one is
fitted once on every user: six fits of ml-25m's 20M cells would take most of an
hour here, a sample's minutes. Scored as EASE is
(`baselines.ranking`): every item ranked for each user, ties by popularity, so a
user without training history gets the popularity list.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

from tuner_app.baselines.ease import interactions
from tuner_app.baselines.popularity import popularity_position
from tuner_app.baselines.ranking import rank_rows, top_items
from tuner_app.baselines.scoring import coverage
from tuner_app.space.names import TOP_KS

METHOD = ("ALS (Hu, Koren, Volinsky 2008; the implicit library): implicit-feedback matrix factorisation, "
          "factors, regularisation and confidence weight chosen on validation")
#: The first setting tried, and each stage's alternatives to it (the best so far carried forward).
START = {"factors": 64, "regularization": 0.1, "alpha": 10.0}
STAGES = ({"alpha": (1.0, 40.0)}, {"regularization": (0.01, 1.0)}, {"factors": (128,)})
ITERATIONS = 15
#: Training cells from which implicit's fit runs on every core (0 threads: all of them).
THREADED_NNZ = 200_000
#: Training cells above which the settings are chosen on a sample of the users holding about this many.
GRID_CELLS = 2_000_000


def fit(matrix, factors: int, regularization: float, alpha: float, seed: int = 0):
    """implicit's ALS on the users x items 0/1 matrix; returns (user factors, item factors) as numpy."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    # implicit's own threads do the work (BLAS's would fight them), but not on small data, where starting
    # them costs more than the fit (0.7 s against 0.03 s a fit of a 31 x 40 test matrix, 2 cores).
    threads = 0 if matrix.nnz >= THREADED_NNZ else 1
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                        iterations=ITERATIONS, random_state=seed, num_threads=threads)
        model.fit(matrix, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def als_baseline(data, objective: str, exclude_seen: bool, stages: Sequence[dict] = STAGES) -> dict:
    """ALS on the search's split, its settings chosen on the validation rows by `objective`.

    Args:
        data: the search's `model.features.SplitData` (read as plain arrays).
        objective: the metric the settings are chosen by (the search's objective).
        exclude_seen: also score with each user's training items left out.

    Returns:
        `{"method", "settings", "tried": [{setting..., objective}], "coverage", "validation", "holdout",
        "seconds"}`.
    """
    started = time.perf_counter()
    num_users, num_titles = data.vocab.num_users, data.vocab.num_titles
    matrix = interactions(data.train.user, data.train.title, num_users, num_titles)
    position = popularity_position(data.train.title, num_titles)
    everyone = _Scoring(matrix, position, exclude_seen)
    sample = grid_users(matrix, GRID_CELLS)
    if sample is None:
        grid, grid_rows = everyone, data.validation
    else:
        grid = _Scoring(matrix[sample], position, exclude_seen)
        row_of = np.full(matrix.shape[0], -1)
        row_of[sample] = np.arange(len(sample))
        mapped = row_of[data.validation.user]
        grid_rows = SimpleNamespace(user=mapped[mapped >= 0], title=np.asarray(data.validation.title)[mapped >= 0])

    tried: list[dict] = []
    best = None  # (objective, setting, factors, figures)
    settings = [dict(START)]
    for stage in (None, *stages):  # None: START itself
        if stage is not None:
            settings = [{**best[1], key: value} for key, values in stage.items() for value in values]
        for setting in settings:
            factors = _fit_setting(grid.matrix, setting)
            figures = grid.score(factors, grid_rows)
            tried.append({**setting, objective: figures.get(objective)})
            if best is None or figures.get(objective, -1.0) > best[0]:
                best = (figures.get(objective, -1.0), setting, factors, figures)
    _, best_setting, best_factors, best_figures = best
    if sample is not None:  # the chosen setting on every user
        best_factors = _fit_setting(matrix, best_setting)
        best_figures = everyone.score(best_factors, data.validation)
    top = top_items(everyone.scorer(*best_factors), np.unique(data.validation.user), num_titles, position,
                    max(TOP_KS))
    return {
        "method": METHOD,
        "settings": best_setting,
        "tried": tried,
        **({} if sample is None else {"tried_on": f"{len(sample):,} of {num_users:,} users' "
                                                  f"{grid.matrix.nnz:,} training cells"}),
        "coverage": coverage(top, num_titles),
        "validation": best_figures,
        "holdout": everyone.score(best_factors, data.holdout) if data.holdout is not None else {},
        "seconds": round(time.perf_counter() - started, 2),
    }


def _fit_setting(matrix, setting: dict):
    """`fit` with one of the grid's settings (`{"factors", "regularization", "alpha"}`)."""
    return fit(matrix, int(setting["factors"]), float(setting["regularization"]), float(setting["alpha"]))


def grid_users(matrix, cells: int, seed: int = 0) -> np.ndarray | None:
    """Users (sorted row ids) drawn at random until their training cells reach `cells`; None when the
    whole matrix has no more than that."""
    if matrix.nnz <= cells:
        return None
    order = np.random.default_rng(seed).permutation(matrix.shape[0])
    reached = int(np.searchsorted(np.cumsum(np.diff(matrix.indptr)[order]), cells))
    return np.sort(order[:reached + 1])


class _Scoring:
    """Rows scored under a fit of `matrix` (users x items), as `rank_rows` ranks them."""

    def __init__(self, matrix, position: np.ndarray, exclude_seen: bool) -> None:
        self.matrix, self.position = matrix, position
        self.has_history = np.diff(matrix.indptr) > 0
        self.seen = matrix if exclude_seen else None

    def scorer(self, user_factors, item_factors):
        def score_users(users: np.ndarray) -> np.ndarray:
            scores = user_factors[users] @ item_factors.T
            scores[~self.has_history[users]] = 0.0  # no history: the popularity list (ties broken by it)
            return scores

        return score_users

    def score(self, factors, part) -> dict[str, float]:
        return rank_rows(self.scorer(*factors), part.user, part.title, self.matrix.shape[1], self.position,
                         self.seen)
