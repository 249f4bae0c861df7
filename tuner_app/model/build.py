"""A compiled `MovielensModel` from a trial's `ModelConfig`: the one way the tool builds models."""

from __future__ import annotations

from tuner_app.model.features import SeenTitles
from tuner_app.model.optimizers import make_optimizer
from tuner_app.model.retrieval import MovielensModel
from tuner_app.model.towers import EmbeddingDims
from tuner_app.space.config import ModelConfig
from tuner_app.store.vocabulary import Vocabulary

#: Batches per call into TensorFlow during training; cuts Python overhead per step.
STEPS_PER_EXECUTION = 8


def build_model(vocab: Vocabulary, config: ModelConfig, *, title_frequency=None,
                seen: SeenTitles | None = None, per_user_metrics: bool = True) -> MovielensModel:
    """A compiled MovielensModel for a concrete configuration.

    Args:
        title_frequency: training share of each title; needed when
            `config.logq_correction` is set.
        seen: each user's training titles, to report the filtered metrics.
        per_user_metrics: see `MovielensModel`.
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
        item_bias=config.item_bias,
        temperature=config.temperature,
        remove_accidental_hits=config.remove_accidental_hits,
        num_hard_negatives=config.num_hard_negatives,
        candidate_probability=title_frequency if config.logq_correction else None,
        seen=seen,
        side_features=config.side_features,
        per_user_metrics=per_user_metrics,
    )
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate),
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model
