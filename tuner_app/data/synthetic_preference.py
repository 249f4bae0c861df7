"""The rankings the synthetic generator's own weights imply: the ceilings `benchmarks.ceiling` scores.

`generator_preference` ranks by each user's true weights (the best any recommender can do);
`posterior_preference` by what a model that knows the items exactly can learn of each user
(`unrounded_ratings`: the rating values before rounding, to bound models that take them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tuner_app.data.records import SyntheticSpec, check_synthetic
from tuner_app.data.synthetic import (
    _GENEROSITY_SD,
    _RATING_BASE,
    _RATING_NOISE_SD,
    _RATING_QUALITY,
    _RATING_TASTE,
    _TASTE_CONCENTRATION,
    _TASTE_WEIGHT,
    _affinity_scale,
    _draw,
    _features_rng,
    _trait_log_likelihood,
    _user_traits,
    _world,
)

#: Tastes drawn from the prior to stand for each user's posterior (`posterior_preference`).
PRIOR_TASTES = 16_384


def generator_preference(spec: SyntheticSpec) -> Callable[[np.ndarray], np.ndarray]:
    """The generator's own preference of users for titles: the best ranking any model could make.

    A user's movies are drawn without replacement with weights ``exp(_TASTE_WEIGHT * affinity +
    log popularity)`` (`synthetic._pick_movies`), so an unseen title is the more likely among a user's
    ratings the larger that weight (a repeated title's two movies: the sum of theirs). Ranking by
    it scores the ceiling of every metric on this data's held-out rows (`benchmarks.ceiling`).

    Returns:
        A function of user indices (user id ``"i"`` is index ``i - 1``) giving their log weights
        `[len(users), titles]`, the titles in sorted order, as a search's vocabulary holds them.
    """
    check_synthetic(spec, "synthetic data")
    world = _world(np.random.default_rng(spec.seed), spec)
    _, by_title = _titles(world)

    def preference(users: np.ndarray) -> np.ndarray:
        return by_title(world.log_popularity + _TASTE_WEIGHT * (world.taste[users] @ world.genres.T))

    return preference


def unrounded_ratings(spec: SyntheticSpec) -> np.ndarray:
    """Every rating of `make_synthetic(spec)`, in its rows' order, before it was rounded and clipped to 1..5."""
    check_synthetic(spec, "synthetic data")
    draws = _draw(spec)
    return draws.raw[draws.order]


def _titles(world) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The distinct titles, sorted, and a function turning log weights of the movies `[rows, movies]` into
    those of the titles `[rows, titles]`: a repeated title's two movies, the sum of their weights."""
    names, column = np.unique(world.titles, return_inverse=True)
    order = np.argsort(column, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(column[order]) > 0])
    return names, lambda movie_logits: np.logaddexp.reduceat(movie_logits[:, order], starts, axis=1)


def posterior_preference(spec: SyntheticSpec, users: np.ndarray, titles: np.ndarray, samples: int = PRIOR_TASTES,
                         ratings: np.ndarray | None = None, rounded: bool = False,
                         candidates: int = 256) -> Callable[[np.ndarray], np.ndarray]:
    """The generator's preference with each user's taste learnt from their training ratings, not known.

    Every movie's genres and popularity are taken as known, and each user's taste has the generator's
    prior (a Dirichlet of `synthetic._TASTE_CONCENTRATION` over the genres). Its posterior, given the
    titles the user rated in training and the user's age, gender and occupation, weights `samples`
    tastes drawn from that prior by the likelihood of those: each title as a draw from the user's
    weights (the usual stand-in for drawing without replacement), the features by the favourite genre
    (`synthetic._trait_log_likelihood`). A title's weight is its expected probability under that
    posterior: the Bayes ranking of a model that knows the items exactly and learns each user from what
    a search's models see of them, which no such model can beat in expectation (up to that stand-in and
    the sampling). A user without training ratings gets the features' posterior alone. The rating values,
    which no model here takes, count only when `ratings` is given (`_rating_log_likelihood`).

    Args:
        users, titles: one pair a training rating: the user's index (user id ``"i"`` is ``i - 1``) and
            the title's column in the titles' sorted order, as `generator_preference` returns them.
        samples: tastes drawn from the prior (more: closer to the exact posterior, slower).
        ratings: each pair's rating value, to learn the users from those as well, as a model that took
            them could. Given `unrounded_ratings` instead, the ranking bounds every such model from above
            (rounding and clipping can only lose what the values tell, and their normal is then exact).
        rounded: `ratings` are the data's values, rounded and clipped to 1..5: their likelihood is then
            exact too (`_rounded_rating_log_likelihood`). This ranking is the Bayes ranking of a model that
            takes the ratings as the data holds them, up to one approximation: the exact likelihood is
            computed for each user's `candidates` likeliest tastes under the normal one (all of them: two
            hours at ml-1m's shape here), and the others get none. Ranking by a posterior cut so can only
            lose, so this scores at most what the whole posterior would, in expectation.

    Returns:
        As `generator_preference`: a function of user indices giving their log weights `[len(users), titles]`.
    """
    from scipy import sparse
    from scipy.special import logsumexp, softmax

    check_synthetic(spec, "synthetic data")
    draws = None if ratings is None else _draw(spec)
    world = _world(np.random.default_rng(spec.seed), spec) if draws is None else draws.world
    names, by_title = _titles(world)
    tastes = np.random.default_rng([spec.seed, 2]).dirichlet(np.full(world.genres.shape[1], _TASTE_CONCENTRATION),
                                                           size=samples)
    title_logits = by_title(world.log_popularity + _TASTE_WEIGHT * (tastes @ world.genres.T))  # [samples, titles]
    log_p = title_logits - logsumexp(title_logits, axis=1, keepdims=True)
    rated = sparse.csr_matrix((np.ones(len(users)), (users, titles)), shape=(len(world.taste), len(names)))
    log_likelihood = np.asarray(rated @ log_p.T)  # [users, samples]
    # The users' features (those the data holds) follow their favourite genre, so they tell of the taste too.
    male, age_index, occupation, _ = _user_traits(_features_rng(spec), world.taste)
    log_likelihood += _trait_log_likelihood(male, age_index, occupation, world.genres.shape[1])[:, tastes.argmax(axis=1)]
    if draws is not None:
        _, first_movie = np.unique(world.titles, return_index=True)
        pair_genres, pair_quality = world.genres[first_movie[titles]], world.quality[first_movie[titles]]
        scale = _affinity_scale(draws.affinity)
        normal = log_likelihood + _rating_log_likelihood(users, pair_genres, pair_quality, ratings, tastes, *scale,
                                                         len(world.taste))
        if not rounded:
            log_likelihood = normal
        else:
            likely = np.argsort(-normal, axis=1)[:, :candidates]
            exact = _rounded_rating_log_likelihood(users, pair_genres, pair_quality, ratings, tastes, likely, *scale)
            kept = np.full_like(log_likelihood, -np.inf)
            np.put_along_axis(kept, likely, np.take_along_axis(log_likelihood, likely, axis=1) + exact, axis=1)
            rated = np.bincount(users, minlength=len(normal)) > 0  # the others keep every taste: nothing to weigh
            log_likelihood = np.where(rated[:, None], kept, log_likelihood)
    posterior = softmax(log_likelihood, axis=1).astype(np.float32)
    probability = np.exp(log_p).astype(np.float32)

    def preference(users: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(posterior[users] @ probability)

    return preference


def _rating_log_likelihood(users: np.ndarray, genres: np.ndarray, quality: np.ndarray, ratings: np.ndarray,
                           tastes: np.ndarray, affinity_mean: float, affinity_sd: float, num_users: int) -> np.ndarray:
    """The log likelihood of each user's training rating values under each sampled taste, up to a constant a user.

    The generator rates ``_RATING_BASE + _RATING_TASTE * z + _RATING_QUALITY * quality + generosity + noise``,
    rounded and clipped to 1..5 (`synthetic._draw`), z the affinity ``taste @ genres`` standardised
    by all ratings' mean and deviation. Here the rounding and clipping are left out: a user's ratings are
    normal, with the generosity shared, ``cov = noise_sd**2 I + generosity_sd**2 11'``, and their likelihood is
    that normal's density of the residuals ``e = rating - mean(taste)``:
    ``-(sum(e**2) - t / (s + n t) * sum(e)**2) / (2 s)`` with ``s, t`` the two variances. A repeated title's
    rating is taken as its first movie's.

    Args:
        users: `[pairs]` each training rating's user index; `genres` `[pairs, genres]` and `quality` `[pairs]`
            of its movie; `ratings` `[pairs]` its value; `tastes` `[samples, genres]`.

    Returns:
        `[num_users, samples]`.
    """
    from scipy import sparse

    slope = _RATING_TASTE / affinity_sd
    offset = ratings - (_RATING_BASE - slope * affinity_mean + _RATING_QUALITY * quality)  # e = offset - slope * affinity
    by_user = sparse.csr_matrix((np.ones(len(users)), (users, np.arange(len(users)))), shape=(num_users, len(users)))
    count = np.asarray(by_user.sum(axis=1)).ravel()
    outer = (genres[:, :, None] * genres[:, None, :]).reshape(len(users), -1)  # [pairs, genres**2]
    squares = (-2.0 * slope * (by_user @ (offset[:, None] * genres)) @ tastes.T
               + slope**2 * (by_user @ outer) @ (tastes[:, :, None] * tastes[:, None, :]).reshape(len(tastes), -1).T)
    sums = (by_user @ offset)[:, None] - slope * (by_user @ genres) @ tastes.T
    noise, shared = _RATING_NOISE_SD**2, _GENEROSITY_SD**2
    return -(squares - (shared / (noise + count * shared))[:, None] * sums**2) / (2.0 * noise)


def _rounded_rating_log_likelihood(users: np.ndarray, genres: np.ndarray, quality: np.ndarray, ratings: np.ndarray,
                                   tastes: np.ndarray, likely: np.ndarray, affinity_mean: float,
                                   affinity_sd: float, nodes: int = 10) -> np.ndarray:
    """The exact log likelihood of each user's training ratings as the data holds them, rounded and clipped to 1..5.

    Given the taste and the user's generosity ``g``, a rating ``r`` is the normal ``mean(taste) + g + noise``
    rounded: its probability is the normal's mass on ``(r - 0.5, r + 0.5)``, open below for 1 and above for 5
    (`_rating_log_likelihood` gives the mean). The ratings are independent given ``g``, which is integrated
    out by adaptive Gauss-Hermite quadrature of `nodes` points (Liu and Pierce 1994): centred and scaled on
    ``g``'s posterior were the ratings normal with the rounding's variance 1/12 added, since with many
    ratings the integrand is far narrower than ``g``'s prior. A repeated title's rating is its first movie's.

    Args:
        users, genres, quality, ratings, tastes: as `_rating_log_likelihood`.
        likely: `[num_users, candidates]` the tastes (rows of `tastes`) to compute each user's for.

    Returns:
        `[num_users, candidates]`: the log probability of each user's ratings under each of their `likely`
        tastes (0 for a user without ratings).
    """
    from scipy.special import logsumexp, ndtr

    slope = _RATING_TASTE / affinity_sd
    base = _RATING_BASE - slope * affinity_mean + _RATING_QUALITY * quality  # [pairs]
    lower = np.where(ratings <= 1, -np.inf, ratings - 0.5)
    upper = np.where(ratings >= 5, np.inf, ratings + 0.5)
    points, weights = np.polynomial.hermite.hermgauss(nodes)
    log_weights = np.log(weights) + points**2
    spread = _RATING_NOISE_SD**2 + 1.0 / 12.0  # the noise and the rounding's, as g's posterior is approximated
    order = np.argsort(users, kind="stable")
    starts = np.searchsorted(users[order], np.arange(len(likely) + 1))
    out = np.zeros(likely.shape)
    for user in np.flatnonzero(np.diff(starts)):
        mine = order[starts[user]:starts[user + 1]]
        mean = base[mine, None] + slope * genres[mine] @ tastes[likely[user]].T  # [n, candidates]
        precision = 1.0 / _GENEROSITY_SD**2 + len(mine) / spread
        centre = (ratings[mine, None] - mean).sum(axis=0) / spread / precision  # [candidates]
        scale = np.sqrt(2.0 / precision)
        g = centre[:, None] + scale * points  # [candidates, nodes]
        a = (lower[mine, None, None] - mean[:, :, None] - g) / _RATING_NOISE_SD  # [n, candidates, nodes]
        b = (upper[mine, None, None] - mean[:, :, None] - g) / _RATING_NOISE_SD
        # The normal's mass between a and b, taken on the side of 0 they are not (no cancellation far out).
        flip = a > 0
        mass = ndtr(np.where(flip, -a, b)) - ndtr(np.where(flip, -b, a))
        prior = -0.5 * (g / _GENEROSITY_SD) ** 2 - np.log(_GENEROSITY_SD * np.sqrt(2.0 * np.pi))
        with np.errstate(divide="ignore"):
            out[user] = np.log(scale) + logsumexp(np.log(mass).sum(axis=0) + prior + log_weights, axis=1)
    return out
