"""Baselines on the search's own split, scored like trials: is a trial any good? numpy only."""

from __future__ import annotations

from tuner_app.baselines.als import als_baseline
from tuner_app.baselines.ease import ease_baseline
from tuner_app.baselines.popularity import popularity_baseline, popularity_coverage

POPULARITY_METHOD = "popularity: the most-rated training titles, the same list for everyone"


def score_baselines(data, objective: str, exclude_seen: bool, say=None) -> dict[str, dict]:
    """Every baseline (`space.names.BASELINES`) on the validation and held-back rows, as the
    search's summary keeps them: popularity's `method`, `validation` and `holdout` at the top
    (where summaries written before EASE have them, so that readers of the file keep working),
    and each other baseline's entry under its name (`store.summary.baselines_of` reads both).

    Args:
        data: the search's `model.features.SplitData` (read as plain arrays).
        objective: the search's objective (EASE chooses its L2 weight by it).
        exclude_seen: also score with each user's training titles left out.
        say: called with a line before long work (EASE's estimated time).
    """
    return {**_popularity(data, exclude_seen), "ease": ease_baseline(data, objective, exclude_seen, say=say),
            "als": als_baseline(data, objective, exclude_seen)}


def _popularity(data, exclude_seen: bool) -> dict:
    seen = data.seen if exclude_seen else None

    def popularity(part) -> dict[str, float]:
        return popularity_baseline(
            data.train.title, part.user, part.title, data.vocab.num_titles,
            None if seen is None else seen.row_splits, None if seen is None else seen.columns,
        )

    return {
        "method": POPULARITY_METHOD,
        "coverage": popularity_coverage(data.train.title, data.vocab.num_titles),
        "validation": popularity(data.validation),
        "holdout": popularity(data.holdout) if data.holdout is not None else {},
    }
