"""MovielensHyperModel: the one place that maps hyperparameter names onto the model.

The search space file gives the ranges (`space.SearchSpec`); this module turns
them into keras-tuner hyperparameters and a trial's values into a
`ModelConfig`, then a compiled `models.MovielensModel`.

Hyperparameter names, as they appear in trials and in the results CSV:
`num_layers`, `units_1` ... `units_N` (layer i's width, active only when the
stack has at least i layers), or `layer_sizes` (a whole stack such as
'64,32'); `activation`, `optimizer`, `learning_rate` (always declared, with
the tutorial's values when the file leaves them out); and, only when the
file names them, the knobs listed in `space.PARAM_RULES` (embedding widths,
batch size, epochs, early stopping, L2, dropout, normalization, temperature,
accidental-hit removal, hard negatives, logQ correction).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras_tuner as kt
import tensorflow as tf

from tuner_app import space as space_mod
from tuner_app.features import SeenTitles, Vocabulary
from tuner_app.models import EmbeddingDims, MovielensModel
from tuner_app.space import Choice, Fixed, ParamSpec, Range, SearchSpec

#: Batches per call into TensorFlow during training; cuts Python overhead per step.
STEPS_PER_EXECUTION = 8


@dataclass(frozen=True)
class ModelConfig:
    """The concrete settings of one trial's model; defaults are the tutorial's."""

    layer_sizes: tuple[int, ...] = (32,)
    activation: str = "relu"
    optimizer: str = "adagrad"
    learning_rate: float = 0.1
    user_embedding_dim: int = 32
    timestamp_embedding_dim: int = 32
    title_embedding_dim: int = 32
    title_text_embedding_dim: int = 32
    l2: float = 0.0
    dropout: float = 0.0
    normalize_embeddings: bool = False
    temperature: float | None = None
    remove_accidental_hits: bool = False
    num_hard_negatives: int | None = None
    logq_correction: bool = False

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Inverse of `dataclasses.asdict` after a JSON round trip."""
        values = dict(values)
        values["layer_sizes"] = tuple(values["layer_sizes"])
        return cls(**values)


@dataclass(frozen=True)
class TrainingConfig:
    """A trial's training settings that the space may search."""

    batch_size: int
    epochs: int
    early_stopping_patience: int = 0  # validations without improvement before stopping; 0: never


_EMBEDDING_DIMS = ("user_embedding_dim", "timestamp_embedding_dim", "title_embedding_dim",
                   "title_text_embedding_dim")
_OPTIONAL_MODEL_KNOBS = ("l2", "dropout", "normalize_embeddings", "temperature", "remove_accidental_hits",
                         "num_hard_negatives", "logq_correction")


def _register(hp: kt.HyperParameters, name: str, spec: ParamSpec, **scope):
    """Declares (or reads, once declared) one hyperparameter; None when inactive."""
    if isinstance(spec, Fixed):
        return hp.Fixed(name, spec.value, **scope)
    if isinstance(spec, Choice):
        if all(isinstance(v, bool) for v in spec.values):
            # keras-tuner's Choice turns booleans into 0/1 (bool is an int); Boolean keeps them.
            if len(spec.values) == 1:
                return hp.Fixed(name, spec.values[0], **scope)
            return hp.Boolean(name, default=bool(spec.default), **scope)
        return hp.Choice(name, list(spec.values), default=spec.default, **scope)
    if spec.kind == "int":
        return hp.Int(
            name, int(spec.min), int(spec.max), step=None if spec.step is None else int(spec.step),
            sampling=spec.sampling, default=spec.default, **scope,
        )
    return hp.Float(
        name, spec.min, spec.max, step=spec.step, sampling=spec.sampling, default=spec.default, **scope
    )


def _possible_depths(spec: ParamSpec) -> list[int]:
    if isinstance(spec, Range):
        return list(range(int(spec.min), int(spec.max) + 1, int(spec.step or 1)))
    return sorted(int(v) for v in space_mod.param_values(spec))


class MovielensHyperModel(kt.HyperModel):
    """Builds the tutorial's MovielensModel from a trial's hyperparameters.

    Args:
        spec: the validated search space.
        vocab: the search's vocabularies, built once.
    """

    def __init__(self, spec: SearchSpec, vocab: Vocabulary):
        super().__init__(name=spec.name, tunable=True)
        self.spec = spec
        self.vocab = vocab

    def _param(self, name: str) -> ParamSpec:
        params = self.spec.hyperparameters
        return params.get(name, Fixed(space_mod.PARAM_DEFAULTS.get(name)))

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        self.model_config(hp)
        self.training_config(hp)

    def search_space(self) -> kt.HyperParameters:
        """A fresh HyperParameters holding every hyperparameter of the space."""
        hp = kt.HyperParameters()
        self.declare_hyperparameters(hp)
        return hp

    def model_config(self, hp: kt.HyperParameters) -> ModelConfig:
        """Reads a trial's values (declaring them on first use) into a ModelConfig."""
        if "layer_sizes" in self.spec.hyperparameters:
            sizes = space_mod.parse_layer_sizes(_register(hp, "layer_sizes", self._param("layer_sizes")))
        else:
            depth_spec = self._param("num_layers")
            depths = _possible_depths(depth_spec)
            num_layers = _register(hp, "num_layers", depth_spec)
            units = self._param("units")
            sizes = []
            for layer in range(1, max(depths) + 1):
                if layer <= min(depths):
                    width = _register(hp, f"units_{layer}", units)
                else:
                    active_for = [d for d in depths if d >= layer]
                    width = _register(
                        hp, f"units_{layer}", units, parent_name="num_layers", parent_values=active_for
                    )
                if layer <= num_layers:
                    sizes.append(int(width))
        knobs = {}
        declared = self.spec.hyperparameters
        shared_dim = _register(hp, "embedding_dim", declared["embedding_dim"]) if "embedding_dim" in declared else None
        for name in _EMBEDDING_DIMS:
            if name in declared:
                knobs[name] = int(_register(hp, name, declared[name]))
            elif shared_dim is not None:
                knobs[name] = int(shared_dim)
        for name in _OPTIONAL_MODEL_KNOBS:
            if name in declared:
                knobs[name] = _register(hp, name, declared[name])
        return ModelConfig(
            layer_sizes=tuple(sizes),
            activation=_register(hp, "activation", self._param("activation")),
            optimizer=_register(hp, "optimizer", self._param("optimizer")),
            learning_rate=float(_register(hp, "learning_rate", self._param("learning_rate"))),
            **knobs,
        )

    def training_config(self, hp: kt.HyperParameters) -> TrainingConfig:
        """Batch size, epochs and early stopping of a trial: searched, or the file's training settings."""
        declared = self.spec.hyperparameters
        training = self.spec.training

        def value(name, default):
            return int(_register(hp, name, declared[name])) if name in declared else default

        return TrainingConfig(
            batch_size=value("batch_size", training.batch_size),
            epochs=value("epochs", training.epochs),
            early_stopping_patience=value("early_stopping_patience", 0),
        )

    def build(self, hp: kt.HyperParameters) -> MovielensModel:
        """A compiled MovielensModel for the trial's values (without the search's extras)."""
        return build_model(self.vocab, self.model_config(hp))


def make_optimizer(name: str, learning_rate: float) -> tf.keras.optimizers.Optimizer:
    """Adagrad or Adam with Keras's defaults otherwise.

    Keras 2's `legacy` optimizers: they apply updates with TensorFlow's fused
    kernels (also for the embeddings' sparse gradients), which made a training
    epoch about 20% faster here than the Python-level updates of
    `tf.keras.optimizers.Adagrad`. Same algorithm and defaults; the only
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
    )
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate),
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model
