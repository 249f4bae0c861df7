"""MovielensHyperModel: the one place that maps hyperparameter names onto the model.

The search space file gives the ranges (`space.SearchSpec`); this module turns
them into keras-tuner hyperparameters and a trial's values into a
`ModelConfig`, then a compiled `model.retrieval.MovielensModel`.

Hyperparameter names, as they appear in trials and in the results CSV:
`num_layers`, `units_1` ... `units_N` (layer i's width, active only when the
stack has at least i layers), or `layer_sizes` (a whole stack such as
'64,32'); `activation`, `optimizer`, `learning_rate` (always declared, with
the tutorial's values when the file leaves them out); and, only when the
file names them, the knobs listed in `space.params.PARAM_RULES` (embedding widths,
batch size, epochs, early stopping, L2, dropout, normalization, item bias, temperature,
accidental-hit removal, hard negatives, logQ correction).
"""

from __future__ import annotations

import keras_tuner as kt

from tuner_app.space.config import SIDE_FEATURE_DIM, ModelConfig, TrainingConfig
from tuner_app.space.params import Choice, Fixed, ParamSpec, param_values, parse_layer_sizes, possible_depths
from tuner_app.space.spec import SearchSpec
from tuner_app.store.vocabulary import Vocabulary

_EMBEDDING_DIMS = ("user_embedding_dim", "timestamp_embedding_dim", "title_embedding_dim",
                   "title_text_embedding_dim")
_OPTIONAL_MODEL_KNOBS = ("l2", "dropout", "normalize_embeddings", "item_bias", "temperature",
                         "remove_accidental_hits", "num_hard_negatives", "logq_correction")


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
            sizes = parse_layer_sizes(_register(hp, "layer_sizes", self.spec.param("layer_sizes")))
        else:
            depth_spec = self.spec.param("num_layers")
            depths = possible_depths(depth_spec)
            num_layers = _register(hp, "num_layers", depth_spec)
            units = self.spec.param("units")
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
        knobs["side_features"] = self._side_features(hp)
        return ModelConfig(
            layer_sizes=tuple(sizes),
            activation=_register(hp, "activation", self.spec.param("activation")),
            optimizer=_register(hp, "optimizer", self.spec.param("optimizer")),
            learning_rate=float(_register(hp, "learning_rate", self.spec.param("learning_rate"))),
            **knobs,
        )

    def _side_features(self, hp: kt.HyperParameters) -> tuple[tuple[str, int], ...]:
        """(name, width) of each side feature on in this trial; a width is active only when
        its feature can be on."""
        declared = self.spec.hyperparameters
        chosen = []
        # In the data's order (its users' features, then its items'): the towers' layers follow it.
        for name in self.vocab.side:
            switch = declared.get(f"feature_{name}")
            if switch is None or param_values(switch) == (False,):
                continue
            on = _register(hp, f"feature_{name}", switch)
            width = declared.get(f"feature_{name}_dim", Fixed(SIDE_FEATURE_DIM))
            scope = {} if isinstance(switch, Fixed) else {"parent_name": f"feature_{name}", "parent_values": [True]}
            dim = _register(hp, f"feature_{name}_dim", width, **scope)
            if on:
                chosen.append((name, int(dim)))
        return tuple(chosen)

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

    def build(self, hp: kt.HyperParameters):
        """A compiled MovielensModel for the trial's values (without the search's extras)."""
        from tuner_app.model.build import build_model

        return build_model(self.vocab, self.model_config(hp))
