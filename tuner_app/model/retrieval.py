"""The tutorial's two-tower retrieval model, `MovielensModel`, with a configurable dense stack.

What differs from the tutorial's class, none of it changing what is computed:

* the towers take integer ids (`model.towers`);
* validation ranks the true title among all unique titles by id
  (`model.metrics.ExactTopK`) instead of TFRS's score-based streaming top-k;
* training computes the in-batch softmax with `model.losses` (the same loss and
  gradients, no one-hot label matrix) instead of TFRS's `Retrieval` task, which
  stays in use only for hard-negative mining; each distinct title of a batch goes
  through the candidate tower and the score matrix once, its copies counted by
  weight (`losses.unique_candidate_softmax_loss`);
* the train and test functions run several steps a call, traced once
  (`model.steps`).

`MovielensModel(vocab, [32])` compiled with Adagrad(0.1) is the tutorial's
shallow model; every other argument defaults to the tutorial's choice. This
module takes plain arguments only; `model.build` maps a `ModelConfig` onto them.
Measured costs are in benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_recommenders as tfrs

from tuner_app.model import losses, steps
from tuner_app.model.features import SeenTitles
from tuner_app.model.metrics import ExactTopK
from tuner_app.model.towers import EmbeddingDims, MovieModel, Tower, UserModel, item_bias_columns
from tuner_app.space.names import TOP_KS
from tuner_app.store.vocabulary import Vocabulary


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
        item_bias: add a learned bias per title to every score
            (`towers.item_bias_columns`; False: the tutorial's score).
        dims: feature embedding widths.
        temperature, remove_accidental_hits, num_hard_negatives: passed to
            `tfrs.tasks.Retrieval` (None / False / None: the tutorial's).
        candidate_probability: `[num_titles + 1]` share of training ratings of
            each title; when given, the loss subtracts its log from the logits
            (logQ correction of the popularity bias of in-batch negatives).
        seen: each user's training titles, for the filtered metrics.
        ks: top-k cut-offs to report.
        side_features: (name, embedding width) of each side feature the towers take.
        per_user_metrics: also report Recall@K, NDCG@K and HitRate@K (False: top-k accuracy
            only, as before they existed; the speed benchmark compares the two passes).
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
        item_bias: bool = False,
        temperature: float | None = None,
        remove_accidental_hits: bool = False,
        num_hard_negatives: int | None = None,
        candidate_probability=None,
        seen: SeenTitles | None = None,
        ks: Sequence[int] = TOP_KS,
        side_features: Sequence[tuple[str, int]] = (),
        per_user_metrics: bool = True,
    ):
        super().__init__()
        query_column, candidate_column = item_bias_columns(vocab.num_titles) if item_bias else (None, None)
        self.query_model = Tower(UserModel(vocab, dims, side_features), layer_sizes, activation, l2, dropout,
                                 normalize_embeddings, query_column)
        self.candidate_model = Tower(MovieModel(vocab, dims, side_features), layer_sizes, activation, l2, dropout,
                                     normalize_embeddings, candidate_column)
        self.candidate_ids = tf.range(1, vocab.num_titles + 1, dtype=tf.int64)
        self.candidate_probability = (
            None if candidate_probability is None else tf.constant(candidate_probability, tf.float32)
        )
        self.top_k = ExactTopK(self.candidate_embeddings, ks=ks, seen=seen,
                               num_users=vocab.num_users if per_user_metrics else None)
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
        same loss and gradients as scoring every row's copy, in less time. Not
        with dropout while training, where each copy gets its own dropout mask
        and every row is scored (`losses.in_batch_softmax_loss`).
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
        steps.create_optimizer_slots(self.optimizer, self.trainable_variables)

    def train_step(self, features):
        """TFRS's train step, returning only the training logs (not the stale top-k metrics)."""
        with tf.GradientTape() as tape:
            loss = self.compute_loss(features, training=True)
            regularization_loss = tf.reduce_sum([tf.reduce_sum(penalty) for penalty in self.losses])
            total_loss = loss + regularization_loss
        variables = self.trainable_variables
        gradients = tape.gradient(total_loss, variables)
        gradients = [steps.densify_small(g, v) for g, v in zip(gradients, variables, strict=True)]
        steps.apply_gradients(self.optimizer, list(zip(gradients, variables, strict=True)))
        return {"loss": loss, "regularization_loss": regularization_loss, "total_loss": total_loss,
                "mean_loss": self._mean_loss()}

    def reset_metrics(self):
        super().reset_metrics()
        if self.top_k.per_user is not None:  # not tracked by Keras (see `ExactTopK`)
            self.top_k.per_user.reset_state()

    def test_step(self, features):
        # Validation needs only the top-k metrics; skipping the in-batch loss on
        # 4096 x 4096 logits makes a validation pass several times cheaper.
        return {**self._count_hits(features), **self.top_k.per_user_results()}

    def _count_hits(self, features):
        """One validation batch into every metric's state; returns the accuracies so far."""
        self.top_k.update_state(self.query_model(features), None, features["title"], users=features["user"])
        return self.top_k.accuracies()

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        if not steps.supports_looped_steps(self):
            return super().make_train_function(force)
        self.train_function = steps.looped_step_function(  # hard negatives: the loss is TFRS's Retrieval task
            self, self.train_step, self.TRAIN_LOGS, self._train_counter, autograph=self.num_hard_negatives is not None)
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is not None and not force:
            return self.test_function
        if not steps.supports_looped_steps(self):
            return super().make_test_function(force)
        # The per-user figures summarise a row of sums a user: computed once a call, after its batches.
        self.test_function = steps.looped_step_function(
            self, self._count_hits, self.top_k.accuracy_names, self._test_counter, finish=self.top_k.per_user_results)
        return self.test_function
