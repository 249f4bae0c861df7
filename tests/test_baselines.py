"""Popularity baseline and seen-item filtering, checked against answers worked out by hand
and against slow, obviously-correct reference implementations."""

from __future__ import annotations

import numpy as np
import pytest

from tuner_app.baselines.popularity import popularity_baseline, popularity_order


def csr(seen_by_user: dict[int, list[int]], num_users: int):
    splits, columns = [0], []
    for user in range(num_users + 1):
        titles = sorted(set(seen_by_user.get(user, [])))
        columns += titles
        splits.append(len(columns))
    return np.array(splits), np.array(columns, dtype=np.int64)


def test_hand_built_example():
    # 5 titles (ids 1..5). Training counts: title 3 x3, title 1 x2, title 5 x2, title 2 x1, title 4 x0.
    # Popularity order (ties by id): 3, 1, 5, 2, 4.
    train_titles = np.array([3, 3, 3, 1, 1, 5, 5, 2])
    np.testing.assert_array_equal(popularity_order(train_titles, 5), [2, 0, 4, 1, 3])
    # User 1 saw titles 3 and 1 in training; user 2 saw title 2.
    splits, columns = csr({1: [2, 0], 2: [1]}, num_users=2)
    users = np.array([1, 1, 2, 2])
    titles = np.array([5, 2, 3, 4])
    got = popularity_baseline(train_titles, users, titles, 5, splits, columns, ks=(1, 2, 3))
    # Unfiltered positions: title 5 -> 2, title 2 -> 3, title 3 -> 0, title 4 -> 4.
    assert got["val_top_1"] == pytest.approx(1 / 4)   # only title 3
    assert got["val_top_2"] == pytest.approx(1 / 4)
    assert got["val_top_3"] == pytest.approx(2 / 4)   # titles 3 and 5
    # Filtered: user 1's list is 5, 2, 4 -> title 5 at 0, title 2 at 1;
    # user 2's list is 3, 1, 5, 4 -> title 3 at 0, title 4 at 3.
    assert got["val_filtered_top_1"] == pytest.approx(2 / 4)
    assert got["val_filtered_top_2"] == pytest.approx(3 / 4)
    assert got["val_filtered_top_3"] == pytest.approx(3 / 4)


def slow_reference(train_titles, users, titles, num_titles, seen_by_user, k, filtered):
    counts = np.bincount(train_titles - 1, minlength=num_titles)
    ranked = sorted(range(1, num_titles + 1), key=lambda t: (-counts[t - 1], t))
    hits = 0
    for user, title in zip(users, titles, strict=True):
        listing = [t for t in ranked if not (filtered and t != title and t - 1 in seen_by_user.get(user, set()))]
        hits += title in listing[:k]
    return hits / len(users)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_filtering_equals_a_slow_reference(seed):
    rng = np.random.default_rng(seed)
    num_titles, num_users = 40, 25
    train_titles = rng.integers(1, num_titles + 1, size=300) ** 1  # popularity with ties
    seen_by_user = {u: set(rng.choice(num_titles, size=rng.integers(0, 15), replace=False).tolist())
                    for u in range(1, num_users + 1)}
    splits, columns = csr({u: list(s) for u, s in seen_by_user.items()}, num_users)
    users = rng.integers(1, num_users + 1, size=200)
    titles = rng.integers(1, num_titles + 1, size=200)
    got = popularity_baseline(train_titles, users, titles, num_titles, splits, columns, ks=(1, 5, 10))
    for k in (1, 5, 10):
        assert got[f"val_top_{k}"] == pytest.approx(
            slow_reference(train_titles, users, titles, num_titles, seen_by_user, k, False))
        assert got[f"val_filtered_top_{k}"] == pytest.approx(
            slow_reference(train_titles, users, titles, num_titles, seen_by_user, k, True))


@pytest.mark.parametrize("ties", [False, True])
def test_model_filtered_ranks_equal_a_slow_reference(ties):
    import tensorflow as tf

    import tuner_app  # noqa: F401
    from tuner_app.model.features import SeenTitles
    from tuner_app.model.metrics import ExactTopK

    rng = np.random.default_rng(3)
    num_titles, num_users, dim = 50, 30, 6
    candidates = rng.normal(size=(num_titles, dim)).astype(np.float32)
    queries = rng.normal(size=(300, dim)).astype(np.float32)
    if ties:  # small integers: many titles score exactly the same
        candidates, queries = np.rint(candidates).clip(-1, 1), np.rint(queries).clip(-1, 1)
    users = rng.integers(1, num_users + 1, size=300)
    titles = rng.integers(1, num_titles + 1, size=300)
    seen_by_user = {u: set(rng.choice(num_titles, size=rng.integers(0, 20), replace=False).tolist())
                    for u in range(1, num_users + 1)}
    splits, columns = csr({u: list(s) for u, s in seen_by_user.items()}, num_users)
    metric = ExactTopK(lambda: tf.constant(candidates), ks=(1, 5, 10, 50), seen=SeenTitles(splits, columns))
    for part in (slice(0, 128), slice(128, 300)):
        metric.update_state(tf.constant(queries[part]), None, tf.constant(titles[part]),
                            users=tf.constant(users[part]))
    results = [float(r) for r in metric.result()]
    scores = queries @ candidates.T
    for i, k in enumerate((1, 5, 10, 50)):
        plain = filtered = 0
        for q in range(300):
            true = titles[q] - 1
            above = scores[q] >= scores[q, true]  # ties count against the true title
            above[true] = False
            plain += above.sum() < k
            others_seen = [c for c in seen_by_user[users[q]] if c != true]
            filtered += above.sum() - above[others_seen].sum() < k
        if ties and k == 1:
            assert 0 < plain < 300 * 0.9  # the tie rule matters here: the test can tell the rules apart
        assert results[i] == pytest.approx(plain / 300)
        assert results[4 + i] == pytest.approx(filtered / 300)


# ------------------------------------------------------------------------------ EASE


def slow_ease(dense: np.ndarray, l2: float) -> np.ndarray:
    """EASE's weights one title at a time: ridge regression of each column on all the others.

    The closed form's constrained least squares (zero diagonal) is, column by column, exactly
    this; it shares no algebra with `ease_weights`.
    """
    n = dense.shape[1]
    weights = np.zeros((n, n))
    for j in range(n):
        others = [i for i in range(n) if i != j]
        x = dense[:, others]
        weights[others, j] = np.linalg.solve(x.T @ x + l2 * np.eye(n - 1), x.T @ dense[:, j])
    return weights


def slow_position(dense: np.ndarray) -> list[int]:
    """Each title's place in the training popularity order: most rated first, ties by title."""
    counts = dense.sum(axis=0)
    order = sorted(range(dense.shape[1]), key=lambda c: (-counts[c], c))
    return [order.index(c) for c in range(dense.shape[1])]


def slow_hits(weights, dense, users, titles, k, filtered):
    """A baseline's ranking as a deployed model's: higher scores first, equal scores by popularity."""
    position = slow_position(dense)
    hits = 0
    for user, title in zip(users, titles, strict=True):
        scores = dense[user] @ weights
        true = title - 1
        rank = sum(1 for c in range(len(scores)) if c != true and not (filtered and dense[user, c])
                   and (scores[c] > scores[true] or (scores[c] == scores[true] and position[c] < position[true])))
        hits += rank < k
    return hits / len(users)


class Part:
    def __init__(self, user, title):
        self.user, self.title = np.asarray(user), np.asarray(title)


def tiny_split(rng, num_users=12, num_titles=15):
    from types import SimpleNamespace

    pairs = sorted({(int(u), int(t)) for u, t in zip(rng.integers(1, num_users + 1, 90),
                                                      rng.integers(1, num_titles + 1, 90), strict=True)})
    train = Part([u for u, _ in pairs], [t for _, t in pairs])
    validation = Part(rng.integers(1, num_users + 1, 40), rng.integers(1, num_titles + 1, 40))
    holdout = Part(rng.integers(1, num_users + 1, 30), rng.integers(1, num_titles + 1, 30))
    vocab = SimpleNamespace(num_users=num_users, num_titles=num_titles)
    return SimpleNamespace(vocab=vocab, train=train, validation=validation, holdout=holdout)


def test_ease_equals_per_column_ridge_regression_and_a_slow_ranking():
    from tuner_app.baselines.ease import ease_baseline, ease_weights, interactions

    rng = np.random.default_rng(7)
    data = tiny_split(rng)
    matrix = interactions(data.train.user, data.train.title, 12, 15)
    dense = matrix.toarray().astype(np.float64)
    for l2 in (1.0, 30.0):
        np.testing.assert_allclose(ease_weights(dense.T @ dense, l2), slow_ease(dense, l2), atol=1e-5)
    grid = (1.0, 3.0, 10.0, 30.0)
    got = ease_baseline(data, "val_filtered_top_5", exclude_seen=True, grid=grid)
    # The L2 weight is the grid's best by the objective on the validation rows.
    by_l2 = {l2: slow_hits(slow_ease(dense, l2), dense, data.validation.user, data.validation.title, 5, True)
             for l2 in grid}
    assert got["l2_grid"] == pytest.approx({f"{l2:g}": v for l2, v in by_l2.items()})
    assert by_l2[got["l2"]] == max(by_l2.values())
    weights = slow_ease(dense, got["l2"])
    for k in (1, 5, 10):
        for part, name in ((data.validation, "validation"), (data.holdout, "holdout")):
            assert got[name][f"val_top_{k}"] == pytest.approx(
                slow_hits(weights, dense, part.user, part.title, k, False))
            assert got[name][f"val_filtered_top_{k}"] == pytest.approx(
                slow_hits(weights, dense, part.user, part.title, k, True))


def test_ease_is_skipped_only_where_it_cannot_fit_and_says_how_long_it_takes(monkeypatch):
    from tuner_app.baselines import ease

    seconds, reason = ease.plan(59_047, available=24 * 2**30)
    assert reason == ("EASE skipped: its 59,047 x 59,047 Gram matrix and inverse need about 28.1 GB and 25.8 GB is "
                      "available; ALS scales to this catalogue")
    seconds, reason = ease.plan(9_742, available=24 * 2**30, flops=2e10)
    assert reason is None and seconds == pytest.approx(6 * 9_742 ** 3 / 2e10)
    said = []
    monkeypatch.setattr(ease, "_FLOPS", 1.0)  # as slow as can be: the estimate is printed
    got = ease.ease_baseline(tiny_split(np.random.default_rng(1)), "val_top_10", exclude_seen=False, say=said.append)
    assert said == [f"EASE on 15 titles: about {6 * 15 ** 3:.0f} s for 6 L2 weights"] and "validation" in got
    monkeypatch.setattr(ease, "memory_available", lambda: 1000)
    got = ease.ease_baseline(tiny_split(np.random.default_rng(1)), "val_top_10", exclude_seen=False)
    assert set(got) == {"method", "skipped"}
    assert got["skipped"].startswith("EASE skipped: its 15 x 15 Gram matrix and inverse need about 0.2 GB and "
                                     "0.0 GB is available")


def test_ease_in_float32_ranks_as_in_float64():
    """The float32 Cholesky inverse against numpy's float64 inverse, on data shaped like ml-100k's
    (20% of a user's ratings held out): every figure the same."""
    from tuner_app.baselines import ease, ranking
    from tuner_app.baselines.popularity import popularity_position

    rng = np.random.default_rng(5)
    users, titles = 300, 400
    taste = rng.dirichlet(np.full(titles, 0.05), size=users)
    rows = [(u, int(t) + 1) for u in range(1, users + 1) for t in rng.choice(titles, 40, replace=False, p=taste[u - 1])]
    rng.shuffle(rows)
    train, valid = rows[: len(rows) * 4 // 5], rows[len(rows) * 4 // 5:]
    matrix = ease.interactions(np.array([u for u, _ in train]), np.array([t for _, t in train]), users, titles)
    gram = (matrix.T @ matrix).toarray()
    position = popularity_position(np.array([t for _, t in train]), titles)
    for l2 in (30.0, 300.0):
        exact = np.linalg.inv(gram.astype(np.float64) + l2 * np.eye(titles))
        exact = exact / -np.diag(exact)[np.newaxis, :]
        np.fill_diagonal(exact, 0.0)
        figures = [ranking.rank_rows(lambda u, w=w: np.asarray(matrix[u] @ w), np.array([u for u, _ in valid]),
                                     np.array([t for _, t in valid]), titles, position, matrix)
                   for w in (exact, ease.ease_weights(gram.astype(np.float32), l2))]
        assert figures[0] == pytest.approx(figures[1], abs=1e-12)


def test_baselines_give_users_without_history_the_popularity_list():
    from tuner_app.baselines.ease import ease_baseline

    rng = np.random.default_rng(3)
    data = tiny_split(rng, num_users=12, num_titles=15)
    cold = 13  # a user id with no training rating
    data.vocab.num_users = 13
    data.validation = Part([cold] * 6, [1, 4, 7, 10, 13, 15])
    data.holdout = None
    got = ease_baseline(data, "val_top_5", exclude_seen=False, grid=(10.0,))
    want = popularity_baseline(data.train.title, data.validation.user, data.validation.title, 15)
    assert got["validation"] == pytest.approx(want)


# ------------------------------------------------------------------------------ ALS


def test_als_is_scored_like_a_slow_ranking_of_its_factors_and_chosen_by_the_objective(monkeypatch):
    from tuner_app.baselines import als

    rng = np.random.default_rng(11)
    data = tiny_split(rng, num_users=12, num_titles=15)
    data.vocab.num_users = 13  # user 13 has no training rating: the popularity list
    data.validation = Part(list(data.validation.user[:34]) + [13] * 6, list(data.validation.title))
    fitted = []
    real_fit = als.fit

    def recording_fit(matrix, factors, regularization, alpha, seed=0):
        got = real_fit(matrix, factors, regularization, alpha, seed)
        fitted.append(((factors, regularization, alpha), got))
        return got

    monkeypatch.setattr(als, "fit", recording_fit)
    got = als.als_baseline(data, "val_filtered_top_5", exclude_seen=True)
    assert len(got["tried"]) == len(fitted) == 1 + 2 + 2 + 1  # the start, then each stage's alternatives
    best = max(got["tried"], key=lambda t: t["val_filtered_top_5"])
    assert got["validation"]["val_filtered_top_5"] == best["val_filtered_top_5"]
    setting = got["settings"]
    (user_factors, item_factors), = [f for s, f in fitted if s == (setting["factors"], setting["regularization"],
                                                                      setting["alpha"])]
    dense = np.zeros((13 + 1, 15))
    for user, title in zip(data.train.user, data.train.title, strict=True):
        dense[user, title - 1] = 1
    scores = user_factors @ item_factors.T
    scores[dense.sum(axis=1) == 0] = 0.0
    position = slow_position(dense)
    for k in (1, 5, 10):
        for filtered in (False, True):
            hits = 0
            for user, title in zip(data.validation.user, data.validation.title, strict=True):
                s, true = scores[user], title - 1
                rank = sum(1 for c in range(15) if c != true and not (filtered and dense[user, c])
                           and (s[c] > s[true] or (s[c] == s[true] and position[c] < position[true])))
                hits += rank < k
            key = f"val_filtered_top_{k}" if filtered else f"val_top_{k}"
            assert got["validation"][key] == pytest.approx(hits / len(data.validation.user))


def test_als_on_big_data_chooses_on_a_sample_of_users_then_fits_everyone_once(monkeypatch):
    from tuner_app.baselines import als

    rng = np.random.default_rng(12)
    data = tiny_split(rng, num_users=12, num_titles=15)
    matrix = als.interactions(data.train.user, data.train.title, data.vocab.num_users, data.vocab.num_titles)
    sample = als.grid_users(matrix, matrix.nnz // 2)
    cells = np.diff(matrix.indptr)
    assert cells[sample].sum() >= matrix.nnz // 2 > cells[sample].sum() - cells[sample].max()
    assert als.grid_users(matrix, matrix.nnz) is None
    fitted = []
    real_fit = als.fit

    def recording_fit(matrix, factors, regularization, alpha, seed=0):
        got = real_fit(matrix, factors, regularization, alpha, seed)
        fitted.append((matrix.shape[0], (factors, regularization, alpha), got))
        return got

    monkeypatch.setattr(als, "fit", recording_fit)
    monkeypatch.setattr(als, "GRID_CELLS", matrix.nnz // 2)
    got = als.als_baseline(data, "val_filtered_top_5", exclude_seen=True)
    # Six fits of the sampled users' rows, then the chosen setting once on every user.
    assert [rows for rows, _, _ in fitted] == [len(sample)] * 6 + [matrix.shape[0]]
    setting = got["settings"]
    assert fitted[-1][1] == (setting["factors"], setting["regularization"], setting["alpha"])
    assert got["tried_on"] == f"{len(sample):,} of {data.vocab.num_users:,} users' {cells[sample].sum():,} training cells"
    position = als.popularity_position(data.train.title, data.vocab.num_titles)
    everyone = als._Scoring(matrix, position, exclude_seen=True)
    assert got["validation"] == everyone.score(fitted[-1][2], data.validation)
    assert got["holdout"] == everyone.score(fitted[-1][2], data.holdout)


def test_eases_memory_plan_against_what_a_real_fit_allocates():
    """The bytes `plan` weighs against free memory, beside a real fit's: the Gram matrix, plus what computing the
    weights allocates at its peak (numpy's allocations, traced)."""
    import tracemalloc

    from tuner_app.baselines import ease

    titles = 2_000
    rows = (np.random.default_rng(4).random((3_000, titles)) < 0.02).astype(np.float32)
    gram = rows.T @ rows
    tracemalloc.start()
    try:
        ease.ease_weights(gram, 300.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    used = gram.nbytes + peak
    assert 2 * 4 * titles ** 2 <= used <= ease.memory_needed(titles)
