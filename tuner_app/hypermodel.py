"""MovielensHyperModel: the one place that maps hyperparameter names onto the model.

The search space file gives the ranges (`space.SearchSpec`); this module turns
them into keras-tuner hyperparameters and a trial's values into a
`ModelConfig`, then a compiled `models.MovielensModel`.

Hyperparameter names, as they appear in trials and in the results CSV:
`num_layers`, `units_1` ... `units_N` (layer i's width, active only when the
stack has at least i layers), or `layer_sizes` (a whole stack such as
'64,32'); `activation`, `optimizer`, `learning_rate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras_tuner as kt
import tensorflow as tf

from tuner_app import space as space_mod
from tuner_app.features import Vocabulary
from tuner_app.models import MovielensModel
from tuner_app.space import Choice, Fixed, ParamSpec, Range, SearchSpec

#: Batches per call into TensorFlow during training; cuts Python overhead per step.
STEPS_PER_EXECUTION = 8


@dataclass(frozen=True)
class ModelConfig:
    """The concrete settings of one trial's model."""

    layer_sizes: tuple[int, ...]
    activation: str
    optimizer: str
    learning_rate: float


def _register(hp: kt.HyperParameters, name: str, spec: ParamSpec, **scope):
    """Declares (or reads, once declared) one hyperparameter; None when inactive."""
    if isinstance(spec, Fixed):
        return hp.Fixed(name, spec.value, **scope)
    if isinstance(spec, Choice):
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
        return ModelConfig(
            layer_sizes=tuple(sizes),
            activation=_register(hp, "activation", self._param("activation")),
            optimizer=_register(hp, "optimizer", self._param("optimizer")),
            learning_rate=float(_register(hp, "learning_rate", self._param("learning_rate"))),
        )

    def build(self, hp: kt.HyperParameters) -> MovielensModel:
        """A compiled MovielensModel for the trial's values."""
        return build_model(self.vocab, self.model_config(hp))


def make_optimizer(name: str, learning_rate: float) -> tf.keras.optimizers.Optimizer:
    if name == "adagrad":
        return tf.keras.optimizers.Adagrad(learning_rate)
    if name == "adam":
        return tf.keras.optimizers.Adam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}")


def build_model(vocab: Vocabulary, config: ModelConfig) -> MovielensModel:
    """A compiled MovielensModel for a concrete configuration."""
    model = MovielensModel(vocab, list(config.layer_sizes), activation=config.activation)
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate),
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model
