"""The per-user metrics (Recall@K, NDCG@K, HitRate@K) and top-k accuracy, checked three ways: against a slow
reference written plainly, against trec_eval (pytrec_eval), and for both scorers: the numpy one the
baselines use (ties broken by popularity) and the TensorFlow one trials use (ties count against the item)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuner_app.baselines import ranking
from tuner_app.baselines.scoring import from_ranks
from tuner_app.space.names import FAMILIES, metric_key

KS = (1, 3, 5, 10)


def reference(scores: np.ndarray, rows: list[tuple[int, int]], seen: dict[int, set[int]], k: int,
              filtered: bool, position: np.ndarray | None = None) -> dict[str, float]:
    """The textbook definitions, one user and one item at a time: ranks over the whole catalogue with ties
    counted against the item (or, given each item's `position`, broken by it); filtered, the user's
    training items (other than the item itself) left out."""
    by_user: dict[int, list[int]] = {}
    for user, item in rows:
        by_user.setdefault(user, []).append(item)
    hit_rows, recall, ndcg, hitrate = [], [], [], []
    for user, items in by_user.items():
        hits, dcg = 0, 0.0
        for item in items:
            others = [j for j in range(scores.shape[1])
                      if j != item and not (filtered and j in seen.get(user, set()))]
            rank = sum(scores[user, j] > scores[user, item] or (scores[user, j] == scores[user, item] and (
                position is None or position[j] < position[item])) for j in others)
            if not math.isfinite(scores[user, item]):
                rank = scores.shape[1]
            hit_rows.append(rank < k)
            if rank < k:
                hits += 1
                dcg += 1.0 / math.log2(rank + 2)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(items))))
        recall.append(hits / len(items))
        ndcg.append(dcg / ideal)
        hitrate.append(float(hits > 0))
    figures = {"top": np.mean(hit_rows), "recall": np.mean(recall), "ndcg": np.mean(ndcg), "hitrate": np.mean(hitrate)}
    return {metric_key(k, filtered, family): float(value) for family, value in figures.items()}


def seen_matrix(seen: dict[int, set[int]], users: int, items: int):
    from scipy import sparse

    pairs = [(u, i) for u, found in seen.items() for i in found]
    return sparse.csr_matrix((np.ones(len(pairs)), ([u for u, _ in pairs], [i for _, i in pairs])),
                             shape=(users, items))


def case(seed: int, ties: bool = False):
    """Users with one and with many validation items, some items seen in training, one user whose every
    validation item is also a training item; with `ties`, items that score the same."""
    rng = np.random.default_rng(seed)
    users, items = 6, 25
    scores = rng.normal(size=(users, items))
    if ties:
        scores = np.round(scores, 0)  # a few distinct values: many ties
        scores[2] = 0.5  # and a user whose items all score the same (no history)
    rows = [(0, 3), (1, 4), (1, 9), (1, 17), (1, 21), (2, 0), (2, 12), (2, 13), (2, 18), (2, 22), (2, 24), (3, 5), (3, 6), (4, 10), (4, 11), (5, 2)]
    seen = {0: {1, 2}, 1: {0, 5, 6}, 3: {7, 8, 9, 10}, 4: {10, 11}, 5: set(range(0, 20))}  # 4, 5: every item seen
    return scores, rows, seen


def baseline_figures(scores, users, items, seen, position, ks=KS):
    return ranking.rank_rows(lambda u: scores[u], users, items + 1, scores.shape[1], position,
                             seen_matrix(seen, *scores.shape), ks)


@pytest.mark.parametrize("seed,ties,block_values", [(0, False, ranking.BLOCK_VALUES), (1, False, 30),
                                                    (2, True, ranking.BLOCK_VALUES), (3, True, 1)])
@pytest.mark.parametrize("not_finite", [False, True])
def test_the_baselines_scorer_matches_the_plain_reference(seed, ties, block_values, not_finite, monkeypatch):
    monkeypatch.setattr(ranking, "BLOCK_VALUES", block_values)  # users, rows and ties a block at a time
    scores, rows, seen = case(seed, ties)
    if not_finite:  # NaN is never above an item; a row whose own score is not finite is never a hit
        scores[1, [4, 0, 11]] = np.nan, np.inf, -np.inf
        scores[3, [5, 8, 12]] = -np.inf, np.nan, np.inf
        scores[4, :5] = np.nan
    users = np.array([u for u, _ in rows])
    items = np.array([i for _, i in rows])
    position = np.random.default_rng(seed).permutation(scores.shape[1])  # a popularity order
    got = baseline_figures(scores, users, items, seen, position)
    for k in KS:
        for filtered in (False, True):
            want = reference(scores, rows, seen, k, filtered, position)
            for name, value in want.items():
                assert got[name] == pytest.approx(value, abs=1e-12), (name, k)


def test_trec_eval_agrees_where_every_user_has_one_ranking():
    """trec_eval (pytrec_eval) ranks one list a user: no ties, and a user's validation items never among the
    training items left out (a library cannot rank an item both in and out of one list)."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = np.random.default_rng(7)
    users, items = 40, 60
    scores = rng.normal(size=(users, items))
    rows, seen = [], {}
    for user in range(users):
        picked = rng.choice(items, size=int(rng.integers(1, 12)), replace=False)
        count = int(rng.integers(1, len(picked) + 1))
        rows += [(user, int(i)) for i in picked[:count]]
        seen[user] = {int(i) for i in picked[count:]}
    users_of = np.array([u for u, _ in rows])
    got = baseline_figures(scores, users_of, np.array([i for _, i in rows]), seen, np.arange(items))
    for filtered in (False, True):
        qrels = {str(u): {} for u in range(users)}
        for user, item in rows:
            qrels[str(user)][str(item)] = 1
        run = {str(u): {str(i): float(scores[u, i]) for i in range(items) if not (filtered and i in seen[u])}
               for u in range(users)}
        measures = {f"recall_{k}" for k in KS} | {f"ndcg_cut_{k}" for k in KS} | {f"success_{k}" for k in KS}
        per_user = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
        for k in KS:
            for family, measure in (("recall", f"recall_{k}"), ("ndcg", f"ndcg_cut_{k}"),
                                    ("hitrate", f"success_{k}")):
                want = np.mean([per_user[str(u)][measure] for u in range(users)])
                assert got[metric_key(k, filtered, family)] == pytest.approx(want, abs=1e-9), (family, k, filtered)


def test_recall_ndcg_and_hitrate_differ_from_top_k_accuracy_as_defined():
    # User 0 has one validation item, ranked first; user 1 has four, none in the top 3.
    ranks = np.array([0, 5, 6, 7, 8])
    users = np.array([0, 1, 1, 1, 1])
    got = from_ranks(ranks, users, np.ones(5, bool), ks=(3,))
    assert got["val_top_3"] == pytest.approx(1 / 5)  # a mean over pairs: user 1 weighs four times
    assert got["val_recall_3"] == pytest.approx((1 + 0) / 2)  # a mean over users
    assert got["val_hitrate_3"] == pytest.approx(0.5) and got["val_ndcg_3"] == pytest.approx(0.5)
    # An unknown item is a miss that still counts in its user's denominator.
    got = from_ranks(np.array([0, 0]), np.array([0, 0]), np.array([True, False]), ks=(1,))
    assert (got["val_recall_1"], got["val_ndcg_1"], got["val_top_1"]) == (0.5, 1.0, 0.5)


@pytest.mark.parametrize("ties", [False, True])
def test_the_tensorflow_metric_gives_the_baselines_figures_from_the_same_ranks(ties):
    import tensorflow as tf

    from tuner_app.model.features import SeenTitles
    from tuner_app.model.metrics import ExactTopK, metric_name

    scores, rows, seen = case(5, ties)
    users, items = scores.shape
    # Scores as a product of embeddings: each user's query row times the identity of the items.
    candidates = np.eye(items, dtype=np.float64)
    splits = np.concatenate([[0], np.cumsum([len(seen.get(u, ())) for u in range(users)])])
    columns = np.concatenate([sorted(seen.get(u, ())) for u in range(users)]).astype(np.int64)
    metric = ExactTopK(lambda: tf.constant(candidates, tf.float32), ks=KS, seen=SeenTitles(splits, columns),
                       num_users=users)
    row_users = np.array([u for u, _ in rows])
    row_items = np.array([i for _, i in rows])
    for batch in (slice(0, 4), slice(4, None)):  # two batches: the per-user sums carry across them
        metric.update_state(tf.constant(scores[row_users[batch]], tf.float32), None,
                            tf.constant(row_items[batch] + 1), users=tf.constant(row_users[batch]))
    got = {name: float(value) for name, value in metric.results().items()}
    for k in KS:
        for filtered in (False, True):
            want = reference(scores.astype(np.float32), rows, seen, k, filtered)  # ties count against the item
            for family in FAMILIES:
                value = got[metric_name(k, filtered, family)]
                assert value == pytest.approx(want[metric_key(k, filtered, family)], abs=1e-6), (family, k, filtered)
    metric.per_user.reset_state()
    metric.update_state(tf.constant(scores[row_users], tf.float32), None, tf.constant(row_items + 1),
                        users=tf.constant(row_users))
    again = {name: float(value) for name, value in metric.results().items() if name.startswith("per_user")}
    assert again == pytest.approx({n: v for n, v in got.items() if n.startswith("per_user")}, abs=1e-6)


def test_catalogue_coverage_counts_the_items_in_some_lists_top_k():
    import tensorflow as tf

    from tuner_app.baselines.scoring import coverage
    from tuner_app.model.metrics import top_columns as model_top_columns

    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=(9, 30)), 1)  # some ties
    position = rng.permutation(30)
    top = ranking.top_items(lambda u: scores[u], np.arange(9), 30, position, 5)
    by_hand = [sorted(range(30), key=lambda j, u=u: (-scores[u, j], position[j]))[:5] for u in range(9)]
    assert top.tolist() == by_hand
    # Ties across the k-th place, a user whose every score is equal (the popularity list), k = the catalogue.
    tied = np.round(rng.normal(size=(40, 30)), 0).astype(np.float32)
    tied[7] = 0.0
    for k in (1, 5, 29, 30):
        want = [sorted(range(30), key=lambda j, u=u: (-tied[u, j], position[j]))[:k] for u in range(40)]
        assert ranking.top_items(lambda u: tied[u], np.arange(40), 30, position, k).tolist() == want
    assert coverage(top, 30, ks=(1, 5)) == {"coverage_1": len({row[0] for row in by_hand}) / 30,
                                            "coverage_5": len({j for row in by_hand for j in row}) / 30}

    class Model:  # what `top_columns` reads of a retrieval model: its towers
        def candidate_embeddings(self):
            return tf.eye(30)

        def query_model(self, batch):
            return batch

    distinct = rng.normal(size=(9, 30))
    batches = tf.data.Dataset.from_tensor_slices(distinct.astype(np.float32)).batch(4)
    assert model_top_columns(Model(), batches, 5).tolist() == np.argsort(-distinct, axis=1)[:, :5].tolist()
