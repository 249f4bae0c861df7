"""A compiled `MovielensModel` from a trial's `ModelConfig`: the one way the tool builds models."""

from __future__ import annotations

import tensorflow as tf

from tuner_app.model.features import SeenTitles
from tuner_app.model.retrieval import MovielensModel
from tuner_app.model.towers import EmbeddingDims
from tuner_app.space.config import ModelConfig
from tuner_app.store.vocabulary import Vocabulary

#: Batches per call into TensorFlow during training; cuts Python overhead per step.
STEPS_PER_EXECUTION = 8


def make_optimizer(name: str, learning_rate: float) -> tf.keras.optimizers.Optimizer:
    """Adagrad or Adam with Keras's defaults otherwise.

    Keras 2's `legacy` optimizers: they apply updates with TensorFlow's fused
    kernels (also for the embeddings' sparse gradients), which is faster than
    the Python-level updates of `tf.keras.optimizers.Adagrad` (figures in
    benchmarks/HISTORY.md). Same algorithm and defaults; the only
    difference is where Adagrad's epsilon (1e-7) enters: sqrt(acc) + eps instead
    of sqrt(acc + eps), with the accumulator starting at 0.1.
    """
    if name == "adagrad":
        return tf.keras.optimizers.legacy.Adagrad(learning_rate)
    if name == "adam":
        return tf.keras.optimizers.legacy.Adam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}")


def build_model(vocab: Vocabulary, config: ModelConfig, *, title_frequency=None,
                seen: SeenTitles | None = None) -> MovielensModel:
    """A compiled MovielensModel for a concrete configuration.

    Args:
        title_frequency: training share of each title; needed when
            `config.logq_correction` is set.
        seen: each user's training titles, to report the filtered metrics.
    """
    if config.logq_correction and title_frequency is None:
        raise ValueError("logq_correction needs the training title frequencies")
    model = MovielensModel(
        vocab,
        list(config.layer_sizes),
        activation=config.activation,
        dims=EmbeddingDims(config.user_embedding_dim, config.timestamp_embedding_dim,
                           config.title_embedding_dim, config.title_text_embedding_dim),
        l2=config.l2,
        dropout=config.dropout,
        normalize_embeddings=config.normalize_embeddings,
        temperature=config.temperature,
        remove_accidental_hits=config.remove_accidental_hits,
        num_hard_negatives=config.num_hard_negatives,
        candidate_probability=title_frequency if config.logq_correction else None,
        seen=seen,
        side_features=config.side_features,
    )
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate),
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model
