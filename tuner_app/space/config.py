"""One trial's concrete settings: what a model is built and trained with.

The defaults are the tutorial's, and they are the one definition of them: a
hyperparameter a space file leaves out takes its value from here
(`space.params.PARAM_DEFAULTS`), and so do the file's `training:` settings
(`space.spec.TrainingSpec`). Plain dataclasses, so validating a space and writing
a trial's record never need TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The tutorial's width of every feature embedding.
EMBEDDING_DIM = 32
#: The width of a side feature's embedding unless the space says otherwise.
SIDE_FEATURE_DIM = 16


@dataclass(frozen=True)
class ModelConfig:
    """The model of one trial; every default is the tutorial's choice."""

    layer_sizes: tuple[int, ...] = (32,)
    activation: str = "relu"
    optimizer: str = "adagrad"
    learning_rate: float = 0.1
    user_embedding_dim: int = EMBEDDING_DIM
    timestamp_embedding_dim: int = EMBEDDING_DIM
    title_embedding_dim: int = EMBEDDING_DIM
    title_text_embedding_dim: int = EMBEDDING_DIM
    l2: float = 0.0
    dropout: float = 0.0
    normalize_embeddings: bool = False
    item_bias: bool = False
    temperature: float | None = None
    remove_accidental_hits: bool = False
    num_hard_negatives: int | None = None
    logq_correction: bool = False
    #: (name, embedding width) of each side feature the towers use (`space.names.SIDE_FEATURES`).
    side_features: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Inverse of `dataclasses.asdict` after a JSON round trip (a record older than a
        field gets its default)."""
        values = dict(values)
        values["layer_sizes"] = tuple(values["layer_sizes"])
        values["side_features"] = tuple((str(n), int(d)) for n, d in values.get("side_features", ()))
        return cls(**values)


@dataclass(frozen=True)
class TrainingConfig:
    """How one trial trains: the tutorial's batch of 2048, and the epochs it gets."""

    batch_size: int = 2048
    epochs: int = 20
    early_stopping_patience: int = 0  # validations without improvement before stopping; 0: never
