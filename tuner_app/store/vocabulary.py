"""The search's vocabularies (`Vocabulary`), and `vocabulary.npz`, which keeps them.

Everything the towers need to know about the data, as plain arrays: built once
per search by `model.features.build_vocabulary`, saved beside the trials so that
a trial can be exported without the data. numpy only.
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tuner_app.data.side import EncodedSide
from tuner_app.errors import ResultsError
from tuner_app.store import atomic, migrations

#: The tutorial's TextVectorization size.
MAX_TOKENS = 10_000


@dataclass(frozen=True)
class Vocabulary:
    """Everything the towers need to know about the data, as plain arrays.

    Attributes:
        user_ids: sorted unique user ids (str); user id `i + 1` is `user_ids[i]`.
        titles: sorted unique titles (str); candidate id `i + 1` is `titles[i]`.
        timestamp_buckets: the tutorial's `np.linspace(min, max, 1000)` boundaries; empty for
            data without timestamps (`has_time`).
        timestamp_mean, timestamp_variance: the tutorial's adapted Normalization.
        title_tokens: `[num_titles + 1, max_len]` int64 token ids of each title
            from the tutorial's TextVectorization (0 pads); row 0, the unknown
            title, holds the out-of-vocabulary token. No columns for items without
            text (`has_text`).
        word_table_size: rows of the title-word embedding table: the text
            vectorizer's vocabulary size (padding and out-of-vocabulary tokens
            included). The tutorial's table has `MAX_TOKENS` rows, but no token
            id reaches past the vocabulary, so its other rows are never looked
            up, get no gradient and change nothing. Searches saved before this
            field existed keep 10,000 rows (`keep_saved_word_table`).
        side: each side feature of the data (`data.side.EncodedSide`), by name; empty
            for data without any (and for searches saved before side features existed).
        item_texts: each item's text, aligned with `titles`, where items have ids of their own
            and text (recommendations show both); None where the id is the text (MovieLens).
    """

    user_ids: np.ndarray
    titles: np.ndarray
    timestamp_buckets: np.ndarray
    timestamp_mean: float
    timestamp_variance: float
    title_tokens: np.ndarray
    word_table_size: int = MAX_TOKENS
    side: dict[str, EncodedSide] = field(default_factory=dict)
    item_texts: np.ndarray | None = None

    @property
    def has_time(self) -> bool:
        return len(self.timestamp_buckets) > 0

    @property
    def has_text(self) -> bool:
        return self.title_tokens.shape[1] > 0

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_titles(self) -> int:
        return len(self.titles)


def save_vocabulary(path: Path, vocab: Vocabulary) -> None:
    """Stores the vocabularies, so a trial can be exported without the data."""
    atomic.write_npz_atomic(
        path, user_ids=vocab.user_ids.astype(str), titles=vocab.titles.astype(str),
        timestamp_buckets=vocab.timestamp_buckets, timestamp_mean=vocab.timestamp_mean,
        timestamp_variance=vocab.timestamp_variance, title_tokens=vocab.title_tokens,
        word_table_size=vocab.word_table_size,
        **({} if vocab.item_texts is None else {"item_texts": vocab.item_texts.astype(str)}),
        **{f"side_{name}_{part}": getattr(encoded, part) for name, encoded in vocab.side.items()
           for part in ("codes", "rows", "size", "side", "weights") if getattr(encoded, part) is not None},
    )


def load_vocabulary(path: Path) -> Vocabulary:
    """The vocabularies a search saved.

    Raises:
        ResultsError: the file is missing.
    """
    if not path.exists():
        raise ResultsError(f"{path}: not found; the search state folder {path.parent} is needed to export "
                           "(only searches run by this version of tuner_app store it).")
    try:
        with np.load(path) as saved:
            return Vocabulary(
                user_ids=saved["user_ids"].astype(object), titles=saved["titles"].astype(object),
                timestamp_buckets=saved["timestamp_buckets"], timestamp_mean=float(saved["timestamp_mean"]),
                timestamp_variance=float(saved["timestamp_variance"]), title_tokens=saved["title_tokens"],
                word_table_size=migrations.word_table_size(saved),
                side={name: EncodedSide(saved[f"side_{name}_codes"], saved[f"side_{name}_rows"],
                                        int(saved[f"side_{name}_size"]), migrations.feature_side(saved, name),
                                        saved[f"side_{name}_weights"] if f"side_{name}_weights" in saved else None)
                      for name in _side_names(saved)},
                item_texts=saved["item_texts"].astype(object) if "item_texts" in saved else None,
            )
    except _DAMAGE as exc:
        raise ResultsError(f"{path}: the search's vocabularies are damaged ({type(exc).__name__}: {exc}); run the "
                           "search command once more (it rebuilds them from the data), then export.") from None


def _side_names(saved) -> list[str]:
    """The side features saved, in the order they were (the towers' layers follow it)."""
    return [key[len("side_"):-len("_codes")] for key in saved.files if key.startswith("side_") and key.endswith("_codes")]


#: What reading a damaged (truncated, overwritten) .npz raises.
_DAMAGE = (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError)


def damage(path: Path) -> str | None:
    """Why a saved vocabulary file cannot be read, or None (also when there is none)."""
    if not path.exists():
        return None
    try:
        with np.load(path) as saved:
            migrations.word_table_size(saved)
            for key in ("user_ids", "titles", "timestamp_buckets", "title_tokens"):
                saved[key]
    except _DAMAGE as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def keep_saved_word_table(path: Path, vocab: Vocabulary) -> Vocabulary:
    """`vocab` with the word-table size a search was saved with in `path`, if any.

    A resumed search rebuilds its vocabularies from the data; its checkpoints
    need the table size it started with (10,000 rows for searches begun
    before tables were cut to the vocabulary). A new search keeps its own.
    """
    if not path.exists():
        return vocab
    with np.load(path) as saved:
        size = migrations.word_table_size(saved)
    return vocab if size == vocab.word_table_size else dataclasses.replace(vocab, word_table_size=size)
