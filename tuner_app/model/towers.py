"""The tutorial's towers: feature models topped by a dense stack.

TFRS's *Building deep retrieval models* writes UserModel and MovieModel (the
features) and QueryModel and CandidateModel (each a feature model under the same
dense stack). Here the last two are one class, `Tower`, with the attribute names
the tutorial's classes have, so checkpoints hold the same variables under the
same names. Two changes leave what they compute untouched:

* string lookups happen once in the input pipeline (`model.features`), so the
  towers take integer ids instead of strings;
* the title's words come from a table of the tutorial's TextVectorization output
  computed once, instead of re-vectorizing each batch, and their masked average
  is taken over the real tokens only; the word table has a row per vocabulary
  word, not the tutorial's 10,000 (the rows past the vocabulary are never read).

Features with several codes a row (a title's words, its genres) are averaged by
`mean_of_lists` for the looked-up rows only.

The dense stack takes a list of widths and a hidden activation; the last layer
stays linear, as the tutorial argues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tuner_app.space.config import EMBEDDING_DIM
from tuner_app.space.names import HISTORY_FEATURE, RATED_HISTORY_FEATURE
from tuner_app.store.vocabulary import Vocabulary


@dataclass(frozen=True)
class EmbeddingDims:
    """Width of each feature's embedding (the tutorial: 32 each)."""

    user: int = EMBEDDING_DIM
    timestamp: int = EMBEDDING_DIM
    title: int = EMBEDDING_DIM
    title_text: int = EMBEDDING_DIM


def code_lists(codes: np.ndarray, owners: np.ndarray, rows: int, dtype=np.int32) -> tf.RaggedTensor:
    """`[rows, None]`: row r lists the codes (or weights: `dtype` float32) whose owner is r (`owners` sorted)."""
    return tf.RaggedTensor.from_value_rowids(tf.constant(np.asarray(codes, dtype)),
                                             tf.constant(np.asarray(owners, np.int64)), nrows=rows)


def mean_of_lists(table: tf.Tensor, lists: tf.RaggedTensor, ids: tf.Tensor) -> tf.Tensor:
    """`[len(ids), dim]`: row i is the mean of `table`'s rows listed for `ids[i]`.

    Only the looked-up rows' lists are gathered and averaged (a ragged gather
    and a sparse segment mean), so a step's cost follows the batch, not the
    number of titles or users. The mean over every row's list at once, then a
    gather, cost 1.9 ms a step at ml-10m's 10,571 titles against 0.4 ms this
    way, and was no faster at ml-100k's 1,664 (benchmarks/HISTORY.md).
    """
    picked = tf.gather(lists, ids)
    return tf.sparse.segment_mean(table, picked.values, picked.value_rowids(),
                                  num_segments=tf.shape(ids, out_type=tf.int64)[0])


def mean_of_lists_without(table: tf.Tensor, lists: tf.RaggedTensor, ids: tf.Tensor, left_out: tf.Tensor) -> tf.Tensor:
    """`mean_of_lists`, with `left_out[i]` taken out of the list of `ids[i]` where it is in it (once);
    a list that is then empty gives `table[0]`, the unknown code's row."""
    picked = tf.gather(lists, ids)
    sums = tf.math.unsorted_segment_sum(tf.gather(table, picked.values), picked.value_rowids(),
                                        num_segments=tf.shape(ids, out_type=tf.int64)[0])
    counts = tf.cast(picked.row_lengths(), table.dtype)
    inside = tf.cast(tf.reduce_any(tf.equal(picked, tf.cast(left_out, picked.dtype)[:, tf.newaxis]), axis=1),
                     table.dtype)
    sums -= tf.gather(table, left_out) * inside[:, tf.newaxis]
    left = counts - inside
    return tf.where((left > 0)[:, tf.newaxis], sums / tf.maximum(left, 1.0)[:, tf.newaxis], table[0])


def centred_mean_of_lists(table: tf.Tensor, lists: tf.RaggedTensor, weights: tf.RaggedTensor, ids: tf.Tensor,
                          left_out: tf.Tensor | None = None) -> tf.Tensor:
    """`[len(ids), dim]`: row i is the mean over the list of `ids[i]` of `table`'s rows, each times its weight less
    the list's mean weight: zero for an empty list or equal weights. `left_out[i]`, where given and in the list, is
    taken out of it with its weight first (the mean weight then is that of the others)."""
    picked = tf.gather(lists, ids)
    values = tf.gather(weights, ids).values
    rows = picked.value_rowids()
    n = tf.shape(ids, out_type=tf.int64)[0]
    keep = tf.ones_like(values)
    if left_out is not None:
        keep -= tf.cast(tf.equal(picked, tf.cast(left_out, picked.dtype)[:, tf.newaxis]).values, values.dtype)
    count = tf.maximum(tf.math.unsorted_segment_sum(keep, rows, n), 1.0)
    centred = (values - tf.gather(tf.math.unsorted_segment_sum(values * keep, rows, n) / count, rows)) * keep
    sums = tf.math.unsorted_segment_sum(tf.gather(table, picked.values) * centred[:, tf.newaxis], rows, n)
    return sums / count[:, tf.newaxis]


class SideEmbeddings(tf.keras.layers.Layer):
    """The side features of one tower: each one's codes by user or title id, and its embedding.

    A feature with several values a title (genres) is the mean of their embeddings
    (`mean_of_lists`, as the title words are); a title or a user without the feature
    gets the "unknown" code's embedding. The user's history (`space.names.HISTORY_FEATURE`,
    item ids) leaves out each training row's own item: otherwise the model would learn
    to look its answer up. The rated history (`RATED_HISTORY_FEATURE`) weighs each item by
    the user's rating against their mean (`centred_mean_of_lists`), its own item left out too.
    """

    def __init__(self, vocab: Vocabulary, features: Sequence[tuple[str, int]], rows: int):
        super().__init__()
        self.names = [name for name, _ in features]
        self.rows = rows
        self.lists, self.weight_lists, self.tables = [], [], []
        for name, dim in features:
            encoded = vocab.side[name]
            self.lists.append(code_lists(encoded.codes, encoded.rows, rows))
            self.weight_lists.append(None if encoded.weights is None
                                     else code_lists(encoded.weights, encoded.rows, rows, np.float32))
            table = tf.keras.layers.Embedding(encoded.size, dim, name=f"{name}_embedding")
            table.build(None)  # its table is read directly, never called
            self.tables.append(table)

    def call(self, ids, items=None):
        """`[batch, total width]`: the features of each id's row, concatenated.

        Args:
            items: each training row's own item, left out of the history; None when
                validating or serving (the whole training history then counts).
        """
        parts = []
        for name, table, lists, weights in zip(self.names, self.tables, self.lists, self.weight_lists, strict=True):
            if name == RATED_HISTORY_FEATURE:
                parts.append(centred_mean_of_lists(table.embeddings, lists, weights, ids, items))
            elif name == HISTORY_FEATURE and items is not None:
                parts.append(mean_of_lists_without(table.embeddings, lists, ids, items))
            else:
                parts.append(mean_of_lists(table.embeddings, lists, ids))
        return tf.concat(parts, axis=1)


def side_of(vocab: Vocabulary, features: Sequence[tuple[str, int]], tower: str) -> list[tuple[str, int]]:
    """The side features that feed `tower` ("user": the query tower, "item": the candidate tower)."""
    return [(name, dim) for name, dim in features if vocab.side[name].side == tower]


class UserModel(tf.keras.Model):
    """User id embedding, timestamp bucket embedding and normalized timestamp (and side features).

    Data without timestamps leaves the two timestamp features out.
    """

    def __init__(self, vocab: Vocabulary, dims: EmbeddingDims = EmbeddingDims(),
                 side_features: Sequence[tuple[str, int]] = ()):
        super().__init__()
        features = side_of(vocab, side_features, "user")
        if features:  # only then: a model without side features has exactly the tutorial's variables
            self.side_embeddings = SideEmbeddings(vocab, features, vocab.num_users + 1)
        self.user_embedding = tf.keras.layers.Embedding(vocab.num_users + 1, dims.user)
        self.has_time = vocab.has_time
        if self.has_time:  # data without timestamps: the user id and side features only
            self.timestamp_embedding = tf.keras.Sequential(
                [
                    tf.keras.layers.Discretization(vocab.timestamp_buckets.tolist()),
                    tf.keras.layers.Embedding(len(vocab.timestamp_buckets) + 1, dims.timestamp),
                ]
            )
            self.normalized_timestamp = tf.keras.layers.Normalization(
                axis=None, mean=vocab.timestamp_mean, variance=vocab.timestamp_variance
            )

    def call(self, inputs, training=None):
        parts = [self.user_embedding(inputs["user"])]
        if self.has_time:
            parts += [self.timestamp_embedding(inputs["timestamp"]),
                      tf.reshape(self.normalized_timestamp(inputs["timestamp"]), (-1, 1))]
        if hasattr(self, "side_embeddings"):
            # Training rows carry their item, which their user's history must not show.
            items = inputs.get("title") if training else None
            parts.append(self.side_embeddings(inputs["user"], items))
        return tf.concat(parts, axis=1)


def make_dense_stack(layer_sizes: Sequence[int], activation: str = "relu", l2: float = 0.0,
                     dropout: float = 0.0) -> tf.keras.Sequential:
    """Dense layers of the given widths: `activation` between them, the last linear.

    Args:
        l2: L2 penalty on every kernel (0: none, as in the tutorial).
        dropout: dropout rate on the input of every dense layer (0: none).
    """
    if not layer_sizes:
        raise ValueError("layer_sizes must name at least one layer")
    regularizer = tf.keras.regularizers.l2(l2) if l2 else None
    stack = tf.keras.Sequential()
    for i, size in enumerate(layer_sizes):
        if dropout:
            stack.add(tf.keras.layers.Dropout(dropout))
        last = i == len(layer_sizes) - 1
        stack.add(tf.keras.layers.Dense(size, activation=None if last else activation,
                                        kernel_regularizer=regularizer))
    return stack


class Tower(tf.keras.Model):
    """A feature model topped by the dense stack: the tutorial's QueryModel or CandidateModel.

    With `normalize`, the output is scaled to unit length, so that the retrieval
    score is the cosine of the two towers' outputs (the temperature then sets the
    softmax's sharpness). With `last_column`, a layer of the tower's inputs giving
    `[batch, 1]`, its value is appended after the scaling (`item_bias_columns`).
    """

    def __init__(self, embedding_model: tf.keras.Model, layer_sizes: Sequence[int], activation: str = "relu",
                 l2: float = 0.0, dropout: float = 0.0, normalize: bool = False,
                 last_column: tf.keras.layers.Layer | None = None):
        super().__init__()
        self.embedding_model = embedding_model
        self.dense_layers = make_dense_stack(layer_sizes, activation, l2, dropout)
        self.normalize = normalize
        if last_column is not None:  # only then: a model without it keeps exactly its variables
            self.last_column = last_column

    def call(self, inputs, training=False):
        embeddings = self.dense_layers(self.embedding_model(inputs, training=training), training=training)
        if self.normalize:
            embeddings = tf.math.l2_normalize(embeddings, axis=-1)
        if hasattr(self, "last_column"):
            embeddings = tf.concat([embeddings, self.last_column(inputs)], axis=1)
        return embeddings


class Ones(tf.keras.layers.Layer):
    """`[batch, 1]` of ones, the batch of the query tower's `user` ids."""

    def call(self, inputs):
        return tf.ones([tf.shape(inputs["user"])[0], 1])


def item_bias_columns(num_titles: int) -> tuple[tf.keras.layers.Layer, tf.keras.layers.Layer]:
    """The query tower's and the candidate tower's last columns that add a learned bias per title
    to every score: a 1 for each query, each title's own weight (from 0) for each candidate, so that
    query . candidate = the towers' score + the title's bias, in training, validation and serving alike.

    A bias carries what every user shares about a title (above all its popularity), which unit-length
    embeddings can otherwise only hold as a direction that competes with taste.
    """
    return Ones(name="query_bias_weight"), tf.keras.layers.Embedding(
        num_titles + 1, 1, embeddings_initializer="zeros", name="title_bias")


class MovieModel(tf.keras.Model):
    """Title id embedding concatenated with the average embedding of the title's words.

    The tutorial pads each batch's token ids to its longest title and averages
    with a mask (`Embedding(mask_zero=True)` + `GlobalAveragePooling1D`). The
    same average is taken here over each title's real tokens only
    (`mean_of_lists` over `title_words`, each title's token ids): the same
    value, from the batch's distinct titles' tokens, without padding or mask.
    """

    def __init__(self, vocab: Vocabulary, dims: EmbeddingDims = EmbeddingDims(),
                 side_features: Sequence[tuple[str, int]] = ()):
        super().__init__()
        features = side_of(vocab, side_features, "item")
        if features:
            self.side_embeddings = SideEmbeddings(vocab, features, len(vocab.title_tokens))
        self.title_embedding = tf.keras.layers.Embedding(vocab.num_titles + 1, dims.title)
        self.has_text = vocab.has_text
        if self.has_text:  # items without text: the item id and side features only
            self.title_words = title_words(vocab.title_tokens)
            self.title_text_embedding = tf.keras.layers.Embedding(vocab.word_table_size, dims.title_text)
            self.title_text_embedding.build(None)  # its table is used directly, never called

    def call(self, title_ids, training=None):
        parts = [self.title_embedding(title_ids)]
        if self.has_text:
            parts.append(mean_of_lists(self.title_text_embedding.embeddings, self.title_words, title_ids))
        if hasattr(self, "side_embeddings"):
            parts.append(self.side_embeddings(title_ids))
        return tf.concat(parts, axis=1)


def title_words(title_tokens: np.ndarray) -> tf.RaggedTensor:
    """`[titles, None]`: each title's token ids, without the 0 padding.

    Args:
        title_tokens: `[titles, max_len]` token ids, 0-padded; every row has
            at least one token (features.build_vocabulary sees to it).

    A word twice in a title is listed twice, so that it counts twice in the
    mean over the title's tokens.
    """
    rows, positions = np.nonzero(title_tokens)  # row-major: rows come out sorted
    return code_lists(title_tokens[rows, positions], rows, len(title_tokens))
