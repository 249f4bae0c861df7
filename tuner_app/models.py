"""The tutorial's two-tower model, with a configurable dense stack.

TFRS's *Building deep retrieval models* defines UserModel, QueryModel,
MovieModel, CandidateModel and MovielensModel. These are the same classes with
four changes that leave what they compute untouched:

* string lookups happen once in the input pipeline (`features.py`), so the
  towers take integer ids instead of strings;
* the title's words come from a table of the tutorial's TextVectorization
  output computed once, instead of re-vectorizing each batch, and their
  masked average is taken over the real tokens only (no padding); the word
  table has a row per vocabulary word, not the tutorial's 10,000 (the
  rows past the vocabulary are never looked up);
* validation ranks the true title among all unique titles by id
  (`evaluation.ExactTopK`) instead of TFRS's score-based streaming top-k;
* training computes the in-batch softmax with `losses` (the same loss and
  gradients, no one-hot label matrix) instead of TFRS's `Retrieval` task,
  which stays in use only for hard-negative mining; each distinct title of
  a batch goes through the candidate tower and the score matrix once, its
  copies counted by weight (`losses.unique_candidate_softmax_loss`).

The dense stack takes a list of widths and a hidden activation; the last
layer stays linear, as the tutorial argues. `MovielensModel(vocab, [32])`
compiled with Adagrad(0.1) is the tutorial's shallow model. Every other
argument defaults to the tutorial's choice: 32-wide feature embeddings, no
dropout or L2, plain dot-product scores (no normalization), and TFRS's plain
in-batch softmax (temperature 1, no accidental-hit removal, no hard-negative
mining, no logQ correction).

This module takes plain arguments only; `hypermodel.py` maps hyperparameters
onto them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from dataclasses import dataclass

from tuner_app import losses, step_functions
from tuner_app.evaluation import ExactTopK
from tuner_app.features import SeenTitles, Vocabulary
from tuner_app.space import TOP_KS

#: The tutorial's embedding width for every feature.
EMBEDDING_DIM = 32


@dataclass(frozen=True)
class EmbeddingDims:
    """Width of each feature's embedding (the tutorial: 32 each)."""

    user: int = EMBEDDING_DIM
    timestamp: int = EMBEDDING_DIM
    title: int = EMBEDDING_DIM
    title_text: int = EMBEDDING_DIM


class UserModel(tf.keras.Model):
    """User id embedding, timestamp bucket embedding and normalized timestamp."""

    def __init__(self, vocab: Vocabulary, dims: EmbeddingDims = EmbeddingDims()):
        super().__init__()
        self.user_embedding = tf.keras.layers.Embedding(vocab.num_users + 1, dims.user)
        self.timestamp_embedding = tf.keras.Sequential(
            [
                tf.keras.layers.Discretization(vocab.timestamp_buckets.tolist()),
                tf.keras.layers.Embedding(len(vocab.timestamp_buckets) + 1, dims.timestamp),
            ]
        )
        self.normalized_timestamp = tf.keras.layers.Normalization(
            axis=None, mean=vocab.timestamp_mean, variance=vocab.timestamp_variance
        )

    def call(self, inputs):
        return tf.concat(
            [
                self.user_embedding(inputs["user"]),
                self.timestamp_embedding(inputs["timestamp"]),
                tf.reshape(self.normalized_timestamp(inputs["timestamp"]), (-1, 1)),
            ],
            axis=1,
        )


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


def _unit_length(embeddings: tf.Tensor, normalize: bool) -> tf.Tensor:
    return tf.math.l2_normalize(embeddings, axis=-1) if normalize else embeddings


class QueryModel(tf.keras.Model):
    """The query tower: UserModel topped by the dense stack.

    With `normalize`, the output is scaled to unit length, so that the
    retrieval score is the cosine of the two towers' outputs (the temperature
    then sets the softmax's sharpness).
    """

    def __init__(self, vocab: Vocabulary, layer_sizes: Sequence[int], activation: str = "relu",
                 dims: EmbeddingDims = EmbeddingDims(), l2: float = 0.0, dropout: float = 0.0,
                 normalize: bool = False):
        super().__init__()
        self.embedding_model = UserModel(vocab, dims)
        self.dense_layers = make_dense_stack(layer_sizes, activation, l2, dropout)
        self.normalize = normalize

    def call(self, inputs, training=False):
        return _unit_length(self.dense_layers(self.embedding_model(inputs), training=training), self.normalize)


class MovieModel(tf.keras.Model):
    """Title id embedding concatenated with the average embedding of the title's words.

    The tutorial pads each batch's token ids to its longest title and averages
    with a mask (`Embedding(mask_zero=True)` + `GlobalAveragePooling1D`). The
    same average is taken here over each title's real tokens only, for every
    title at once, by TensorFlow's sparse segment mean (`title_word_ids`
    lists every title's tokens, `title_of_word` which title each belongs to),
    and a batch gathers its rows. That is the same value, computed from ~6,500
    tokens a step instead of a batch's ~8,000 one by one, and its gradient is
    a dense one for the small word table.

    Measured side by side (2-core CPU, [32] model, batch 2048): the segment
    mean over a vocabulary-sized table made a training step 2-7% (0.25-0.9
    ms) faster than a sparse-matrix product with a 10,000-row table, which was
    about 3 ms faster than the padded per-token lookup (benchmarks/README.md).
    """

    def __init__(self, vocab: Vocabulary, dims: EmbeddingDims = EmbeddingDims()):
        super().__init__()
        self.title_embedding = tf.keras.layers.Embedding(vocab.num_titles + 1, dims.title)
        self.title_word_ids, self.title_of_word = title_words(vocab.title_tokens)
        self.num_title_rows = len(vocab.title_tokens)
        self.title_text_embedding = tf.keras.layers.Embedding(vocab.word_table_size, dims.title_text)
        self.title_text_embedding.build(None)  # its table is used directly, never called

    def word_averages(self) -> tf.Tensor:
        """`[num_titles + 1, dim]`: row t is the mean embedding of title t's tokens."""
        return tf.sparse.segment_mean(self.title_text_embedding.embeddings, self.title_word_ids,
                                      self.title_of_word, num_segments=self.num_title_rows)

    def call(self, title_ids):
        return tf.concat([self.title_embedding(title_ids), tf.gather(self.word_averages(), title_ids)], axis=1)


def title_words(title_tokens: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
    """Every title's token ids in one list, and the title each belongs to (sorted).

    Args:
        title_tokens: `[titles, max_len]` token ids, 0-padded; every row has
            at least one token (features.build_vocabulary sees to it).

    Returns:
        `(token ids, title rows)`, int32, one entry per token; a word twice in
        a title is listed twice, so that it counts twice in the mean over the
        title's tokens.
    """
    rows, positions = np.nonzero(title_tokens)  # row-major: rows come out sorted
    return (tf.constant(title_tokens[rows, positions].astype(np.int32)),
            tf.constant(rows.astype(np.int32)))


class CandidateModel(tf.keras.Model):
    """The candidate tower: MovieModel topped by the dense stack (unit length with `normalize`)."""

    def __init__(self, vocab: Vocabulary, layer_sizes: Sequence[int], activation: str = "relu",
                 dims: EmbeddingDims = EmbeddingDims(), l2: float = 0.0, dropout: float = 0.0,
                 normalize: bool = False):
        super().__init__()
        self.embedding_model = MovieModel(vocab, dims)
        self.dense_layers = make_dense_stack(layer_sizes, activation, l2, dropout)
        self.normalize = normalize

    def call(self, title_ids, training=False):
        return _unit_length(self.dense_layers(self.embedding_model(title_ids), training=training), self.normalize)


class MovielensModel(tfrs.models.Model):
    """The two-tower retrieval model with an in-batch softmax Retrieval task.

    Features are dicts with int64 `user`, `timestamp` and `title` (see
    `features.EncodedRatings`). `evaluate()` reports
    `factorized_top_k/top_{k}_categorical_accuracy` for k in `ks`: the share
    of queries whose true title ranks among the k best of all unique titles;
    with `seen` also `filtered_top_k/...`, the same with each user's training
    titles left out of the ranking.

    Args:
        vocab: the search's vocabularies.
        layer_sizes, activation, l2, dropout: the dense stack of each tower.
        normalize_embeddings: scale both towers' outputs to unit length
            (cosine scores; False: the tutorial's plain dot product).
        dims: feature embedding widths.
        temperature, remove_accidental_hits, num_hard_negatives: passed to
            `tfrs.tasks.Retrieval` (None / False / None: the tutorial's).
        candidate_probability: `[num_titles + 1]` share of training ratings of
            each title; when given, the loss subtracts its log from the logits
            (logQ correction of the popularity bias of in-batch negatives).
        seen: each user's training titles, for the filtered metrics.
        ks: top-k cut-offs to report.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        layer_sizes: Sequence[int],
        activation: str = "relu",
        *,
        dims: EmbeddingDims = EmbeddingDims(),
        l2: float = 0.0,
        dropout: float = 0.0,
        normalize_embeddings: bool = False,
        temperature: float | None = None,
        remove_accidental_hits: bool = False,
        num_hard_negatives: int | None = None,
        candidate_probability=None,
        seen: SeenTitles | None = None,
        ks: Sequence[int] = TOP_KS,
    ):
        super().__init__()
        self.query_model = QueryModel(vocab, layer_sizes, activation, dims, l2, dropout, normalize_embeddings)
        self.candidate_model = CandidateModel(vocab, layer_sizes, activation, dims, l2, dropout,
                                              normalize_embeddings)
        self.candidate_ids = tf.range(1, vocab.num_titles + 1, dtype=tf.int64)
        self.candidate_probability = (
            None if candidate_probability is None else tf.constant(candidate_probability, tf.float32)
        )
        self.top_k = ExactTopK(self.candidate_embeddings, ks=ks, seen=seen)
        mean_loss = tf.keras.metrics.Mean(name="mean_loss")
        # A bound method, not the metric: Keras would track the metric a second time.
        self._mean_loss = mean_loss.result
        self._update_mean_loss = mean_loss.update_state
        self.temperature = temperature
        self.dropout = dropout
        self.remove_accidental_hits = remove_accidental_hits
        self.num_hard_negatives = num_hard_negatives
        self.task = tfrs.tasks.Retrieval(
            metrics=[self.top_k],
            loss_metrics=[mean_loss],
            temperature=temperature,
            remove_accidental_hits=remove_accidental_hits,
            num_hard_negatives=num_hard_negatives,
        )
        self.build_towers()

    def build_towers(self) -> None:
        """Creates every variable now (Keras would wait for the first batch)."""
        self.query_model({"user": tf.zeros([1], tf.int64), "timestamp": tf.zeros([1], tf.int64)})
        self.candidate_embeddings()

    def candidate_embeddings(self) -> tf.Tensor:
        """Embeddings of every unique title; row i is candidate id i + 1."""
        return self.candidate_model(self.candidate_ids)

    def compute_loss(self, features, training=False):
        query_embeddings = self.query_model(features, training=training)
        if self.num_hard_negatives is None:
            loss = self._in_batch_softmax(query_embeddings, features["title"], training)
            self._update_mean_loss(loss)
            return loss
        movie_embeddings = self.candidate_model(features["title"], training=training)
        sampling_probability = None
        if self.candidate_probability is not None:
            sampling_probability = tf.gather(self.candidate_probability, features["title"])
        return self.task(
            query_embeddings,
            movie_embeddings,
            candidate_sampling_probability=sampling_probability,
            candidate_ids=features["title"],
            compute_metrics=not training,
        )

    def _in_batch_softmax(self, query_embeddings, titles, training):
        """TFRS's in-batch softmax loss, computed by `losses`.

        Each distinct title of the batch goes through the candidate tower and
        the score matrix once (`losses.unique_candidate_softmax_loss`): the
        same loss and gradients as scoring every row's copy, in about half
        the epoch time on ml-100k. Not with dropout while training, where
        each copy gets its own dropout mask and every row is scored
        (`losses.in_batch_softmax_loss`, itself about 20% faster a step than
        TFRS's task).
        """
        if self.temperature is not None:
            query_embeddings = query_embeddings / self.temperature
        if training and self.dropout:
            column_bias = self._log_q_bias(titles)
            return losses.in_batch_softmax_loss(
                query_embeddings, self.candidate_model(titles, training=training), column_bias,
                candidate_ids=titles if self.remove_accidental_hits else None,
            )
        unique_titles, positive_index, counts = tf.unique_with_counts(titles)
        return losses.unique_candidate_softmax_loss(
            query_embeddings, self.candidate_model(unique_titles, training=training), positive_index, counts,
            self._log_q_bias(unique_titles), self.remove_accidental_hits,
        )

    def _log_q_bias(self, titles):
        """-log Q of each title (`tfrs.layers.loss.SamplingProbablityCorrection`), or None."""
        if self.candidate_probability is None:
            return None
        probability = tf.gather(self.candidate_probability, titles)
        return -tf.math.log(tf.clip_by_value(probability, 1e-6, 1.0))

    #: What `train_step` returns, in this order.
    TRAIN_LOGS = ("loss", "regularization_loss", "total_loss", "mean_loss")

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        step_functions.create_optimizer_slots(self.optimizer, self.trainable_variables)

    def train_step(self, features):
        """TFRS's train step, returning only the training logs (not the stale top-k metrics)."""
        with tf.GradientTape() as tape:
            loss = self.compute_loss(features, training=True)
            regularization_loss = tf.reduce_sum([tf.reduce_sum(penalty) for penalty in self.losses])
            total_loss = loss + regularization_loss
        variables = self.trainable_variables
        gradients = tape.gradient(total_loss, variables)
        gradients = [step_functions.densify_small(g, v) for g, v in zip(gradients, variables, strict=True)]
        step_functions.apply_gradients(self.optimizer, list(zip(gradients, variables, strict=True)))
        return {"loss": loss, "regularization_loss": regularization_loss, "total_loss": total_loss,
                "mean_loss": self._mean_loss()}

    def test_step(self, features):
        # Validation needs only the top-k metrics; skipping the in-batch loss on
        # 4096 x 4096 logits makes a validation pass several times cheaper.
        self.top_k.update_state(self.query_model(features), None, features["title"], users=features["user"])
        return {metric.name: metric.result() for metric in self.top_k.top_k_metrics}

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        if not step_functions.supports_looped_steps(self):
            return super().make_train_function(force)
        self.train_function = step_functions.looped_step_function(
            self, self.train_step, self.TRAIN_LOGS, self._train_counter)
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is not None and not force:
            return self.test_function
        if not step_functions.supports_looped_steps(self):
            return super().make_test_function(force)
        self.test_function = step_functions.looped_step_function(
            self, self.test_step, [metric.name for metric in self.top_k.top_k_metrics], self._test_counter)
        return self.test_function
