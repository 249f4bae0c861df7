"""Synthetic MovieLens-shaped ratings with a learnable structure, for tests and demos.

`make_synthetic` turns a `SyntheticSpec` (sizes and seed) into `Ratings`; the same spec
always gives the same data and fingerprint. numpy and the standard library (and scipy for
`_trait_log_likelihood`). What its weights imply for rankings is in `data.synthetic_preference`.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from tuner_app.data.records import Ratings, SyntheticSpec, check_synthetic
from tuner_app.data.side import AGE_BUCKETS, SideFeatures, movie_features, year_of


def make_synthetic(spec: SyntheticSpec) -> Ratings:
    """MovieLens-shaped ratings with a learnable structure; the same for the same spec.

    Users have tastes over 8 latent genres, movie popularity is Zipf-like, each user rates
    a long-tailed number of distinct movies (at least 5 when there are enough ratings),
    ratings 1..5 follow taste and quality, timestamps fall in 1997-2003, and titles are
    words from genre pools plus a year, with about 1% repeated titles as in MovieLens.
    Exactly ``spec.ratings`` rows; user ids "1".."N" (only users with ratings). Side
    features: each movie's genres and year, each user's age, gender and occupation (which
    follow the user's taste) and zip (which does not).

    Raises:
        DataError: a size is not positive, or ``ratings > users * movies``.
    """
    check_synthetic(spec, "synthetic data")
    return _make_synthetic(spec)


_SYNTHETIC_VERSION = 1  # part of the fingerprint: bump it when the generator changes
# One word pool per latent genre, so that titles share words with their genre-mates and a
# text vectorizer on titles has something to learn.
# fmt: off
_GENRE_WORDS = (
    ("Gun", "Fury", "Strike", "Bullet", "Mission", "Target", "Thunder", "Blade", "Force", "Raid"),
    ("Love", "Heart", "Kiss", "Wedding", "Summer",
     "Promise", "Letters", "Bride", "Tango", "Desire"),
    ("Ghost", "Blood", "Night", "Curse", "Shadow", "Scream", "Grave", "Haunting", "Witch", "Fear"),
    ("Star", "Planet", "Robot", "Galaxy", "Signal", "Machine", "Orbit", "Future", "Alien", "Code"),
    ("Family", "Holiday", "Dog", "Adventure", "Christmas",
     "Treasure", "Dragon", "Magic", "Kid", "Pirate"),
    ("Murder", "Detective", "Heist", "Crime", "Money",
     "Street", "Witness", "Killer", "Case", "Alibi"),
    ("Party", "Crazy", "Dumb", "Trouble", "Vacation",
     "Roommates", "Boss", "Funny", "Neighbors", "Date"),
    ("War", "Soldier", "Battle", "Empire", "King",
     "Glory", "Sword", "Frontier", "Outlaw", "Saddle"),
)
# The latent genres' names, as the movies' `genres` feature shows them.
_GENRE_NAMES = ("Action", "Romance", "Horror", "Sci-Fi", "Children's", "Crime", "Comedy", "War")
_ADJECTIVES = (
    "Silver", "Dark", "Last", "Lost", "Golden", "Broken", "Secret", "Silent", "Little",
    "Great", "Red", "Hidden", "Endless", "Final", "Lonely", "Burning", "Frozen", "Wild",
    "Bright", "Distant",
)
_NOUNS = (
    "Dreams", "City", "Road", "Island", "Game", "House", "Man", "Woman", "Story", "Day", "Sky",
    "Children", "Moon", "Journey", "Legacy", "Truth", "Horizon", "River", "Winter", "Town",
)
# fmt: on
_PATTERNS = ("{a} {g} {n}", "The {a} {g}", "{g} of the {n}", "{a} {n}", "The {g} {n}", "{g} {n}")
_TASTE_WEIGHT = 4.0  # of a user's affinity to a movie's genres against its log popularity
_TASTE_CONCENTRATION = 0.3  # of the Dirichlet prior each user's taste over the genres is drawn from
# A rating: _RATING_BASE + _RATING_TASTE * (the standardised taste affinity) + _RATING_QUALITY * quality + the
# user's generosity + noise (the last two normal with these deviations), rounded and clipped to 1..5.
_RATING_BASE, _RATING_TASTE, _RATING_QUALITY, _GENEROSITY_SD, _RATING_NOISE_SD = 3.5, 0.8, 0.35, 0.4, 0.6
_FIRST_DAY, _LAST_SECOND = 852_076_800, 1_072_915_199  # 1997-01-01 .. 2003-12-31 (UTC)


@dataclasses.dataclass(frozen=True)
class _World:
    """What the generator draws before any rating: the movies and the users' tastes."""

    genres: np.ndarray  # [movies, genres] each movie's genre weights (rows sum to 1)
    log_popularity: np.ndarray  # [movies]
    quality: np.ndarray  # [movies]
    titles: np.ndarray  # [movies] str; a repeated title's two movies share one
    dups: np.ndarray  # the second movie of each repeated title
    originals: np.ndarray  # ... and its first
    counts: np.ndarray  # [users] ratings of each user
    taste: np.ndarray  # [users, genres]


def _world(rng: np.random.Generator, spec: SyntheticSpec) -> _World:
    n_movies, n_genres = spec.movies, len(_GENRE_WORDS)
    # Movies: one main genre and maybe two more; Zipf-like popularity; a quality that
    # leans towards popular movies.
    main = rng.integers(0, n_genres, n_movies)
    genres = np.zeros((n_movies, n_genres))
    genres[np.arange(n_movies), main] = 1.0
    for _ in range(2):
        extra, has = rng.integers(0, n_genres, n_movies), rng.random(n_movies) < 0.3
        genres[np.flatnonzero(has), extra[has]] = 1.0
    genres /= genres.sum(axis=1, keepdims=True)
    log_popularity = -np.log1p(rng.permutation(n_movies).astype(float))
    quality = rng.normal(0.0, 1.0, n_movies) + 0.3 * (log_popularity - log_popularity.mean())
    titles = _make_titles(rng, main)
    # A few repeated titles, as MovieLens has (ml-100k: 18): a user rates at most one of the
    # two rows, so only as many as the requested ratings leave room for.
    n_dup = max(0, min(n_movies // 100, n_movies - -(-spec.ratings // spec.users)))
    shuffled = rng.permutation(n_movies)
    dups, originals = shuffled[:n_dup], shuffled[n_dup : 2 * n_dup]
    titles[dups] = titles[originals]
    counts = _ratings_per_user(rng, spec.users, spec.ratings, cap=n_movies - n_dup)
    taste = rng.dirichlet(np.full(n_genres, _TASTE_CONCENTRATION), size=len(counts))
    return _World(genres, log_popularity, quality, titles, dups, originals, counts, taste)


@dataclasses.dataclass(frozen=True)
class _Draws:
    """Every rating the generator draws, in its drawing order (`order` shuffles them into the file's)."""

    world: _World
    user: np.ndarray  # [ratings] each rating's user index
    movie: np.ndarray  # ... its movie
    affinity: np.ndarray  # ... the user's taste affinity to the movie's genres
    raw: np.ndarray  # ... its value before rounding and clipping to 1..5
    timestamp: np.ndarray
    order: np.ndarray


def _affinity_scale(affinity: np.ndarray) -> tuple[float, float]:
    """The mean and deviation the ratings' taste affinities are standardised by."""
    return float(affinity.mean()), float(affinity.std()) + 1e-9


def _draw(spec: SyntheticSpec) -> _Draws:
    rng = np.random.default_rng(spec.seed)
    world = _world(rng, spec)
    user, movie, affinity = _pick_movies(
        rng, world.taste, world.genres, world.log_popularity, world.counts, world.dups, world.originals
    )

    # Ratings follow taste, movie quality and each user's generosity.
    n, users = len(user), len(world.counts)
    mean, sd = _affinity_scale(affinity)
    z = (affinity - mean) / sd
    generosity = rng.normal(0.0, _GENEROSITY_SD, users)
    raw = (_RATING_BASE + _RATING_TASTE * z + _RATING_QUALITY * world.quality[movie] + generosity[user]
           + rng.normal(0.0, _RATING_NOISE_SD, n))
    # Each user is active for a while (days to years) inside 1997-2003.
    span = _LAST_SECOND - _FIRST_DAY
    length = np.minimum(span, (rng.exponential(120.0, users) + 1.0) * 86_400).astype(np.int64)
    begin = _FIRST_DAY + (rng.random(users) * (span - length)).astype(np.int64)
    timestamp = begin[user] + (rng.random(n) * length[user]).astype(np.int64)
    order = rng.permutation(n)  # MovieLens files are not grouped by user either
    return _Draws(world, user, movie, affinity, raw, timestamp, order)


def _make_synthetic(spec: SyntheticSpec) -> Ratings:
    draws = _draw(spec)
    world, user, movie, order = draws.world, draws.user, draws.movie, draws.order
    titles, counts, taste = world.titles, world.counts, world.taste
    rating = np.clip(np.rint(draws.raw), 1, 5).astype(np.float32)
    user_names = np.array([str(i) for i in range(1, len(counts) + 1)], dtype=object)
    params = f"users={spec.users}, movies={spec.movies}, ratings={spec.ratings}, seed={spec.seed}"
    return Ratings(
        user_id=user_names[user[order]],
        item_id=titles[movie[order]],
        timestamp=draws.timestamp[order],
        user_rating=rating[order],
        item_catalog=titles,
        item_text=titles,
        description=f"synthetic MovieLens-shaped ratings ({params})",
        fingerprint=hashlib.sha256(
            f"synthetic v{_SYNTHETIC_VERSION}: {params}".encode()
        ).hexdigest(),
        users=_user_features(_features_rng(spec), user_names, taste),
        items=movie_features(titles, ["|".join(_GENRE_NAMES[g] for g in np.flatnonzero(row)) for row in world.genres],
                              [year_of(title) for title in titles]),
    )


# How a user's age, gender and occupation follow their favourite genre (`_user_traits`).
_MALE_LEANING_GENRES, _MALE_SHARE = (0, 2, 3, 5, 7), (0.8, 0.3)  # of fans of those genres, and of the others
_YOUNG_GENRES, _AGE_MEAN, _AGE_SD = (4, 6), (1.0, 3.0), 1.2  # children's films and comedies: younger fans
_OCCUPATIONS, _OCCUPATION_FOLLOWS = 10, 0.4  # occupation i is favourite genre i for this share of users


def _features_rng(spec: SyntheticSpec) -> np.random.Generator:
    """The users' features' own random stream (the ratings' is `spec.seed` alone)."""
    return np.random.default_rng([spec.seed, 1])


def _user_features(rng: np.random.Generator, user_names: np.ndarray, taste: np.ndarray) -> SideFeatures:
    """Age, gender, occupation and zip that follow each user's favourite genre, as in MovieLens
    (where they carry some of what a user rates); drawn from their own random stream, so the
    ratings are those of a spec without features."""
    male, age_index, occupation, zip_code = _user_traits(rng, taste)
    return SideFeatures(user_names, {
        "age": np.array([str(AGE_BUCKETS[i]) for i in age_index], dtype=object),
        "gender": np.where(male, "M", "F").astype(object),
        "occupation": np.array([f"occupation-{o}" for o in occupation], dtype=object),
        "zip": np.array([f"{z:03d}" for z in zip_code], dtype=object),
    })


def _user_traits(rng: np.random.Generator, taste: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each user's (male, age bucket index, occupation, zip code), the first three drawn by their
    favourite genre (`_trait_log_likelihood` gives their probabilities)."""
    favourite = taste.argmax(axis=1)
    n = len(favourite)
    male = rng.random(n) < np.where(np.isin(favourite, _MALE_LEANING_GENRES), *_MALE_SHARE)
    age_mean = np.where(np.isin(favourite, _YOUNG_GENRES), *_AGE_MEAN)
    age_index = np.clip(np.rint(rng.normal(age_mean, _AGE_SD)), 0, len(AGE_BUCKETS) - 1).astype(int)
    occupation = np.where(rng.random(n) < _OCCUPATION_FOLLOWS, favourite, rng.integers(0, _OCCUPATIONS, n)) % _OCCUPATIONS
    return male, age_index, occupation, rng.integers(100, 130, n)


def _trait_log_likelihood(male: np.ndarray, age_index: np.ndarray, occupation: np.ndarray,
                          genres: int) -> np.ndarray:
    """`[users, genres]`: log probability of each user's gender, age and occupation (`_user_traits`) were
    each genre their favourite."""
    from scipy.special import ndtr

    favourite = np.arange(genres)
    share = np.where(np.isin(favourite, _MALE_LEANING_GENRES), *_MALE_SHARE)
    gender = np.where(male[:, None], share, 1.0 - share)
    # The age bucket is the normal draw rounded and clipped: the mass between the bucket's half-way points.
    mean = np.where(np.isin(favourite, _YOUNG_GENRES), *_AGE_MEAN)
    below = np.where(age_index > 0, age_index - 0.5, -np.inf)[:, None]
    above = np.where(age_index < len(AGE_BUCKETS) - 1, age_index + 0.5, np.inf)[:, None]
    age = ndtr((above - mean) / _AGE_SD) - ndtr((below - mean) / _AGE_SD)
    job = (1.0 - _OCCUPATION_FOLLOWS) / _OCCUPATIONS + _OCCUPATION_FOLLOWS * (occupation[:, None] == favourite)
    return np.log(gender) + np.log(age) + np.log(job)


def _make_titles(rng: np.random.Generator, main: np.ndarray) -> np.ndarray:
    """Distinct titles like "Silver Ghost Dreams (1994)"; a repeat becomes a sequel ("... 2")."""
    n = len(main)
    pattern, adjective = rng.integers(0, len(_PATTERNS), n), rng.integers(0, len(_ADJECTIVES), n)
    noun, word = rng.integers(0, len(_NOUNS), n), rng.integers(0, len(_GENRE_WORDS[0]), n)
    year = 1998 - np.minimum(68, rng.exponential(8.0, n).astype(int))
    titles: list[str] = []
    seen: set[str] = set()
    for i in range(n):
        core = _PATTERNS[pattern[i]].format(
            a=_ADJECTIVES[adjective[i]], n=_NOUNS[noun[i]], g=_GENRE_WORDS[main[i]][word[i]]
        )
        title, sequel = f"{core} ({year[i]})", 1
        while title in seen:
            sequel += 1
            title = f"{core} {sequel} ({year[i]})"
        seen.add(title)
        titles.append(title)
    return np.array(titles, dtype=object)


def _ratings_per_user(rng: np.random.Generator, users: int, total: int, cap: int) -> np.ndarray:
    """Long-tailed counts in [1, cap] summing to ``total``; at least 5 when there are enough."""
    least = min(5, cap)
    active = min(users, -(-total // least))  # too few ratings: fewer users, not thinner ones
    counts = np.full(active, min(least, total // active), dtype=np.int64)
    weight = rng.lognormal(0.0, 1.0, active)
    rest = total - int(counts.sum())
    while rest > 0:  # active * cap >= total, so this ends
        room = cap - counts
        share = weight * (room > 0)
        added = np.minimum(rng.multinomial(rest, share / share.sum()), room)
        counts += added
        rest -= int(added.sum())
    return counts


def _pick_movies(
    rng: np.random.Generator,
    taste: np.ndarray,
    genres: np.ndarray,
    log_popularity: np.ndarray,
    counts: np.ndarray,
    dups: np.ndarray,
    originals: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user's movies, without replacement, by Gumbel-top-k on popularity + taste.

    Returns the user index, movie index and taste affinity of every rating.
    """
    n_movies = len(log_popularity)
    dup_of = np.full(n_movies, -1)
    dup_of[originals] = dups
    chunk = max(1, 2_000_000 // n_movies)  # bounds memory to a few (chunk x movies) arrays
    users, movies, affinities = [], [], []
    for start in range(0, len(counts), chunk):
        count = counts[start : start + chunk]
        rows = np.arange(len(count))
        affinity = taste[start : start + len(count)] @ genres.T
        score = log_popularity + _TASTE_WEIGHT * affinity + rng.gumbel(size=affinity.shape)
        # A title's two rows compete as one: the better score stands for both.
        use_dup = score[:, dups] > score[:, originals]
        score[:, originals] = np.maximum(score[:, originals], score[:, dups])
        score[:, dups] = -np.inf
        top = int(count.max())
        best = np.argpartition(-score, top - 1, axis=1)[:, :top] if top < n_movies else None
        if best is None:
            best = np.argsort(-score, axis=1)
        else:
            best = np.take_along_axis(
                best, np.argsort(-np.take_along_axis(score, best, axis=1), axis=1), axis=1
            )
        row = np.repeat(rows, count)
        movie = best[np.arange(best.shape[1]) < count[:, None]]
        if len(dups):
            swap = np.zeros(score.shape, dtype=bool)
            swap[:, originals] = use_dup
            flip = swap[row, movie]
            movie[flip] = dup_of[movie[flip]]
        users.append(row + start)
        movies.append(movie)
        affinities.append(affinity[row, movie])
    return np.concatenate(users), np.concatenate(movies), np.concatenate(affinities)
