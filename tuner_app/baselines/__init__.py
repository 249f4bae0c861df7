"""Baselines on the search's own split, scored like trials: is a trial any good? numpy only."""

from __future__ import annotations

from tuner_app.baselines.popularity import popularity_baseline

POPULARITY_METHOD = "popularity: the most-rated training titles, the same list for everyone"


def score_baselines(data, exclude_seen: bool) -> dict:
    """The baselines on the validation and held-back rows, as the search's summary keeps them.

    Args:
        data: the search's `model.features.SplitData` (read as plain arrays).
        exclude_seen: also score with each user's training titles left out.
    """
    seen = data.seen if exclude_seen else None

    def popularity(part) -> dict[str, float]:
        return popularity_baseline(
            data.train.title, part.user, part.title, data.vocab.num_titles,
            None if seen is None else seen.row_splits, None if seen is None else seen.columns,
        )

    return {
        "method": POPULARITY_METHOD,
        "validation": popularity(data.validation),
        "holdout": popularity(data.holdout) if data.holdout is not None else {},
    }
