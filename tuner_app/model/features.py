"""Vocabularies, encoded ratings, seen titles and title frequencies: built once per search.

The tutorial's towers look strings up inside the model (`StringLookup` on user
ids and titles) on every batch of every epoch, and each trial re-adapts its
text vectorizer. Here the lookups are done once, over the whole data set,
before any trial starts; the towers take integer ids. What the model computes
is unchanged: the same lookup tables, the same token ids, the same layers.

Candidate (title) ids: 0 is the out-of-vocabulary id, `1..num_titles` are the
sorted unique titles, as `StringLookup(vocabulary=titles, mask_token=None)`
numbers them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tuner_app.data.records import Ratings
from tuner_app.data.side import EncodedSide, encode_side
from tuner_app.space.names import HISTORY_FEATURE, RATED_HISTORY_FEATURE
from tuner_app.store.vocabulary import MAX_TOKENS, Vocabulary

#: The tutorial's number of timestamp bucket boundaries.
NUM_TIMESTAMP_BUCKETS = 1000


def build_vocabulary(ratings: Ratings) -> Vocabulary:
    """Builds the tutorial's vocabularies from the whole data set, once.

    As in the tutorial, user ids and timestamp statistics come from all
    ratings, titles and title words from the movie catalogue (for any data: the
    items and their text). Data without timestamps has no buckets (the query
    tower then leaves time out); items without text have no tokens (the
    candidate tower then has no text embedding).
    """
    user_ids = _sorted_unique(ratings.user_id)
    titles = _sorted_unique(ratings.item_catalog)
    if ratings.timestamp is None:
        buckets, mean, variance = np.zeros(0, np.float64), 0.0, 1.0
    else:
        timestamps = ratings.timestamp
        buckets = np.linspace(timestamps.min(), timestamps.max(), num=NUM_TIMESTAMP_BUCKETS)
        # What the tutorial's `Normalization.adapt` computes, in float64 and in one pass: adapt
        # streams batches of 32 through a tf.function (16.6 s for 1M ratings) and accumulates in
        # float32 (on ml-100k it is 45 s off the mean of timestamps near 9e8; 8e-6 of their spread).
        seconds = timestamps.astype(np.float64)
        mean, variance = float(seconds.mean()), float(seconds.var())
    tokens, word_table_size = _title_tokens(ratings, titles)
    texts = None
    if ratings.item_text is not None and not np.array_equal(ratings.item_text, ratings.item_catalog):
        # Items with ids of their own and text (not MovieLens, whose id is the title): kept for display.
        text_of = dict(zip(ratings.item_catalog.tolist(), ratings.item_text.astype(str).tolist(), strict=True))
        texts = np.array([text_of[t] for t in titles.tolist()], dtype=object)
    return Vocabulary(
        user_ids=user_ids,
        titles=titles,
        timestamp_buckets=buckets,
        timestamp_mean=mean,
        timestamp_variance=variance,
        title_tokens=tokens,
        word_table_size=word_table_size,
        side=encode_sides(ratings, user_ids, titles),
        item_texts=texts,
    )


def _title_tokens(ratings: Ratings, titles: np.ndarray) -> tuple[np.ndarray, int]:
    """Each item's token ids from the tutorial's TextVectorization (row 0: the unknown item), and the
    vectorizer's vocabulary size; no columns (and no words) for items without text."""
    if ratings.item_text is None:
        return np.zeros((len(titles) + 1, 0), np.int64), 0
    vectorizer = tf.keras.layers.TextVectorization(max_tokens=MAX_TOKENS)
    texts = ratings.item_text.astype(str)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(1000))
    # Each item's text; where the catalogue lists an item twice, its last row's (as for side features).
    text_of = dict(zip(ratings.item_catalog.tolist(), texts.tolist(), strict=True))
    tokens = vectorizer(np.array([text_of[t] for t in titles.tolist()], dtype=str)).numpy().astype(np.int64)
    if tokens.shape[1] == 0:  # no title has a word: keep one column of out-of-vocabulary ids
        tokens = np.ones((len(titles), 1), np.int64)
    oov_row = np.zeros((1, tokens.shape[1]), np.int64)
    oov_row[0, 0] = 1  # the vectorizer's out-of-vocabulary token
    # A title with no word at all would average over nothing; give it the OOV token too.
    tokens[tokens.sum(axis=1) == 0, 0] = 1
    return np.concatenate([oov_row, tokens]), int(vectorizer.vocabulary_size())


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """`np.unique(values.astype(str))` without converting every row: hashed first, then the
    distinct values (a few thousand, where rows are millions) sorted."""
    import pandas as pd

    return np.array(sorted(str(v) for v in pd.unique(values)))


def encode_sides(ratings: Ratings, user_ids: np.ndarray, titles: np.ndarray) -> dict[str, EncodedSide]:
    """Every side feature the data has, as codes by user id or title id."""
    side = {}
    for tower, table, ids in (("user", ratings.users, user_ids), ("item", ratings.items, titles)):
        if table is not None:
            side.update({name: encode_side(table, name, ids.astype(str).astype(object), tower) for name in table.names})
    return side


def make_user_lookup(vocab: Vocabulary) -> tf.keras.layers.StringLookup:
    """The tutorial's user-id lookup: 0 for unknown users, then 1..num_users."""
    return tf.keras.layers.StringLookup(vocabulary=vocab.user_ids, mask_token=None)


def make_title_lookup(vocab: Vocabulary) -> tf.keras.layers.StringLookup:
    """The tutorial's title lookup: 0 for unknown titles, then 1..num_titles."""
    return tf.keras.layers.StringLookup(vocabulary=vocab.titles, mask_token=None)


@dataclass(frozen=True)
class EncodedRatings:
    """Ratings with ids in place of strings: what the towers consume."""

    user: np.ndarray  # int64 user id (0 = unknown)
    timestamp: np.ndarray  # int64 seconds
    title: np.ndarray  # int64 candidate id (0 = unknown)

    def __len__(self) -> int:
        return len(self.title)

    def take(self, rows: np.ndarray) -> EncodedRatings:
        return EncodedRatings(self.user[rows], self.timestamp[rows], self.title[rows])

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"user": self.user, "timestamp": self.timestamp, "title": self.title}


def encode_ratings(vocab: Vocabulary, ratings: Ratings) -> EncodedRatings:
    """Looks up every rating's user and title once, as the tutorial's lookup layers number them."""
    users = lookup(vocab.user_ids, ratings.user_id)
    titles = lookup(vocab.titles, ratings.item_id)
    # Without timestamps the towers read none; the pipelines still carry a column of zeros.
    times = np.zeros(len(ratings), np.int64) if ratings.timestamp is None else ratings.timestamp.astype(np.int64)
    return EncodedRatings(users, times, titles)


def lookup(vocabulary: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`StringLookup(vocabulary=vocabulary, mask_token=None)(values)`: 0 for a value not in the
    sorted `vocabulary`, else its position + 1; int64.

    Each distinct value is looked up once (hashed with pandas), not each row: at 10M ratings
    that is seconds instead of the minutes a string tensor of every row costs.
    """
    import pandas as pd

    codes, distinct = pd.factorize(values)
    distinct = np.asarray(distinct).astype(str)
    position = np.searchsorted(vocabulary, distinct)
    found = (position < len(vocabulary)) & (vocabulary[np.minimum(position, len(vocabulary) - 1)] == distinct)
    ids = np.where(found, position + 1, 0).astype(np.int64)
    return ids[codes] if len(codes) else np.zeros(0, np.int64)


@dataclass(frozen=True)
class SeenTitles:
    """Each user's training titles, as candidate columns (id - 1), CSR-style.

    User id u's titles are `columns[row_splits[u]:row_splits[u + 1]]`, unique
    and sorted; row 0 (unknown user) is empty.
    """

    row_splits: np.ndarray  # int64 [num_users + 2]
    columns: np.ndarray  # int64

    def of(self, user: int) -> np.ndarray:
        return self.columns[self.row_splits[user]:self.row_splits[user + 1]]


def build_seen_titles(train: EncodedRatings, num_users: int) -> SeenTitles:
    """The titles each user rated in the training split (unknown titles left out)."""
    known = train.title > 0
    span = int(train.title.max()) + 1 if len(train.title) else 1
    # One int64 key a (user, column) pair: sorting keys sorts the pairs by user, then column.
    keys = np.unique(train.user[known] * span + (train.title[known] - 1))
    users, columns = np.divmod(keys, span)
    counts = np.bincount(users, minlength=num_users + 1)
    row_splits = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SeenTitles(row_splits, columns.astype(np.int64))


def title_frequencies(train: EncodedRatings, num_titles: int) -> np.ndarray:
    """`[num_titles + 1]` share of training ratings per candidate id (the logQ correction's Q).

    Titles never rated in training get half a rating's share, so that their
    log stays finite if one turns up as an in-batch candidate.
    """
    counts = np.bincount(train.title, minlength=num_titles + 1).astype(np.float64)
    counts[counts == 0] = 0.5
    return (counts / counts.sum()).astype(np.float32)


def history_feature(seen: SeenTitles, vocab: Vocabulary) -> EncodedSide:
    """Each user's training items (ids) as a query-tower feature; a user without any gets the unknown item."""
    counts = np.diff(seen.row_splits)
    empty = np.flatnonzero(counts == 0)
    rows = np.concatenate([np.repeat(np.arange(len(counts)), counts), empty])
    codes = np.concatenate([seen.columns + 1, np.zeros(len(empty), np.int64)])
    order = np.argsort(rows, kind="stable")
    return EncodedSide(codes[order].astype(np.int32), rows[order].astype(np.int32), vocab.num_titles + 1, "user")


def rated_history_feature(train: EncodedRatings, rating: np.ndarray, vocab: Vocabulary) -> EncodedSide:
    """Each user's training items (ids) weighted by the user's rating of each, standardised over the training
    rows (a title rated twice: the mean of the two); the towers centre each user's weights on their own mean
    (`towers.centred_mean_of_lists`). A user without training items has an empty list."""
    known = train.title > 0
    span = vocab.num_titles + 1
    keys, pair = np.unique(train.user[known] * span + train.title[known], return_inverse=True)
    values = rating[known].astype(np.float64)
    spread = values.std() if len(values) else 0.0
    standard = (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)  # equal: nothing told
    weights = np.bincount(pair, standard, minlength=len(keys)) / np.maximum(np.bincount(pair, minlength=len(keys)), 1)
    users, titles = np.divmod(keys, span)
    return EncodedSide(titles.astype(np.int32), users.astype(np.int32), span, "user", weights.astype(np.float32))


@dataclass(frozen=True)
class SplitData:
    """Everything trials share, computed once per search."""

    vocab: Vocabulary
    train: EncodedRatings
    validation: EncodedRatings
    holdout: EncodedRatings | None
    seen: SeenTitles
    title_frequency: np.ndarray
    validation_all: EncodedRatings | None = None  # every validation row, when trials see a sample

    def with_vocab(self, vocab: Vocabulary) -> SplitData:
        return dataclasses.replace(self, vocab=vocab)


def prepare(ratings: Ratings, train_rows: np.ndarray, validation_rows: np.ndarray,
            holdout_rows: np.ndarray | None = None, all_validation_rows: np.ndarray | None = None,
            derived: Collection[str] = ()) -> SplitData:
    """Vocabularies, encoded splits, seen titles and title frequencies, once per search.

    Args:
        validation_rows: the rows trials are selected on.
        all_validation_rows: every validation row, when `validation_rows` is a sample of them.
        derived: the features computed from the training rows to add (`space.names.DERIVED_FEATURES`):
            each user's training items (`history_feature`), weighted by their ratings (`rated_history_feature`).
    """
    vocab = build_vocabulary(ratings)
    encoded = encode_ratings(vocab, ratings)
    train = encoded.take(train_rows)
    seen = build_seen_titles(train, vocab.num_users)
    made = {HISTORY_FEATURE: lambda: history_feature(seen, vocab),
            RATED_HISTORY_FEATURE: lambda: rated_history_feature(train, ratings.user_rating[train_rows], vocab)}
    if derived:
        vocab = dataclasses.replace(vocab, side={**vocab.side, **{name: made[name]() for name in derived}})
    return SplitData(
        vocab=vocab,
        train=train,
        validation=encoded.take(validation_rows),
        holdout=None if holdout_rows is None or not len(holdout_rows) else encoded.take(holdout_rows),
        seen=seen,
        title_frequency=title_frequencies(train, vocab.num_titles),
        validation_all=None if all_validation_rows is None else encoded.take(all_validation_rows),
    )
