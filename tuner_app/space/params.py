"""The hyperparameters a space may set or search, and the three shapes a setting takes.

`PARAM_RULES` lists every hyperparameter the HyperModel understands with what it
may hold; a space file gives each one as a plain value (`Fixed`), `{values: [...]}`
(`Choice`) or `{min, max, step?, sampling?}` (`Range`). `units` is a template:
each dense layer i (1-based) gets its own `units_i`, active only when the layer
exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tuner_app.space.config import ModelConfig
from tuner_app.space.names import ACTIVATIONS, OPTIMIZERS

#: The deepest dense stack a space may ask for.
MAX_LAYERS = 8


@dataclass(frozen=True)
class ParamRule:
    """What a hyperparameter may hold: its type and, for strings, the allowed words."""

    kind: Literal["int", "float", "str", "bool"]
    minimum: float | None = None  # smallest allowed value
    open_minimum: bool = False  # True: the minimum itself is not allowed
    below: float | None = None  # values must be smaller than this
    words: tuple[str, ...] = ()  # allowed strings for kind == "str"

    def expectation(self) -> str:
        """'an integer >= 1', 'a number > 0 and < 1', ... for messages."""
        noun = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(self.kind, "a string")
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.open_minimum else '>='} {self.minimum:g}")
        if self.below is not None:
            bounds.append(f"< {self.below:g}")
        return noun + (" " + " and ".join(bounds) if bounds else "")

    def admits(self, value: float) -> bool:
        if self.minimum is not None and (value < self.minimum or (self.open_minimum and value == self.minimum)):
            return False
        return self.below is None or value < self.below


_POSITIVE = ParamRule("int", minimum=1)
_FLAG = ParamRule("bool")


PARAM_RULES: dict[str, ParamRule] = {
    "num_layers": _POSITIVE,  # dense layers in each tower
    "units": _POSITIVE,  # each dense layer's width (units_1, units_2, ...)
    "layer_sizes": ParamRule("str"),  # a whole dense stack as comma-separated widths, e.g. '64,32'
    "activation": ParamRule("str", words=ACTIVATIONS),  # between the dense layers (the last stays linear)
    "optimizer": ParamRule("str", words=OPTIMIZERS),
    "learning_rate": ParamRule("float", minimum=0.0, open_minimum=True),
    # Feature embeddings (the tutorial uses 32 for each).
    "embedding_dim": _POSITIVE,  # every feature embedding's width, unless one is given below
    "user_embedding_dim": _POSITIVE,
    "timestamp_embedding_dim": _POSITIVE,
    "title_embedding_dim": _POSITIVE,
    "title_text_embedding_dim": _POSITIVE,
    # Training.
    "batch_size": ParamRule("int", minimum=2),  # the in-batch negatives
    "epochs": _POSITIVE,  # not with Hyperband, which sets them
    "early_stopping_patience": ParamRule("int", minimum=0),  # validations without a better objective; 0: never
    # Regularisation of the dense stack: an L2 penalty on its kernels, dropout on each dense layer's input.
    "l2": ParamRule("float", minimum=0.0),
    "dropout": ParamRule("float", minimum=0.0, below=1.0),
    "normalize_embeddings": _FLAG,  # both towers' outputs to unit length: cosine scores (with a temperature)
    "item_bias": _FLAG,  # a learned bias per title added to every score (what all users share: popularity)
    # The retrieval task.
    "temperature": ParamRule("float", minimum=0.0, open_minimum=True),
    "remove_accidental_hits": _FLAG,  # in-batch negatives that are the positive's item are left out
    "num_hard_negatives": _POSITIVE,  # keep only the hardest in-batch negatives
    "logq_correction": _FLAG,  # subtract log(item frequency) from the logits: in-batch popularity bias
}

#: A side feature's hyperparameters: `feature_<name>` (on or off) and `feature_<name>_dim` (its embedding
#: width), for any feature the data has (`data.side`; MovieLens: age, gender, occupation, zip, genres, year;
#: a data YAML: its tables' feature columns). `feature_*` and `feature_*_dim` set every feature of the data
#: that the space does not name.
FEATURE_SWITCH = re.compile(r"feature_(?P<name>\*|[A-Za-z][A-Za-z0-9_]*)")
FEATURE_WIDTH = re.compile(r"feature_(?P<name>\*|[A-Za-z][A-Za-z0-9_]*)_dim")
#: The name standing for every feature the space does not name.
EVERY_FEATURE = "*"
_FEATURE_SWITCH_RULE = _FLAG
_FEATURE_WIDTH_RULE = _POSITIVE


def rule_for(name: str) -> ParamRule | None:
    """The rule of hyperparameter `name`: a known knob's, a side feature's switch or width, or None."""
    if name in PARAM_RULES:
        return PARAM_RULES[name]
    if FEATURE_WIDTH.fullmatch(name):
        return _FEATURE_WIDTH_RULE
    if FEATURE_SWITCH.fullmatch(name):
        return _FEATURE_SWITCH_RULE
    return None


def feature_of(name: str) -> str | None:
    """The feature a `feature_<name>` switch turns on or off (None for any other hyperparameter)."""
    if name in PARAM_RULES or FEATURE_WIDTH.fullmatch(name):
        return None
    found = FEATURE_SWITCH.fullmatch(name)
    return found.group("name") if found else None


#: What a space that leaves these out gets: the tutorial's model (`ModelConfig`'s defaults).
PARAM_DEFAULTS: dict[str, Any] = {
    "num_layers": len(ModelConfig.layer_sizes),
    "units": ModelConfig.layer_sizes[0],
    "activation": ModelConfig.activation,
    "optimizer": ModelConfig.optimizer,
    "learning_rate": ModelConfig.learning_rate,
}


@dataclass(frozen=True)
class Fixed:
    value: Any


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]
    default: Any = None


@dataclass(frozen=True)
class Range:
    kind: Literal["int", "float"]
    min: float
    max: float
    step: float | None = None
    sampling: str = "linear"
    default: Any = None


ParamSpec = Fixed | Choice | Range


def param_values(spec: ParamSpec) -> tuple[Any, ...]:
    """Every value a Fixed or Choice can take; a Range's two ends."""
    if isinstance(spec, Fixed):
        return (spec.value,)
    if isinstance(spec, Choice):
        return spec.values
    return (spec.min, spec.max)


def possible_depths(spec: ParamSpec) -> list[int]:
    """Every depth a `num_layers` setting can give, smallest first."""
    if isinstance(spec, Range):
        return list(range(int(spec.min), int(spec.max) + 1, int(spec.step or 1)))
    return sorted(int(v) for v in param_values(spec))


def parse_layer_sizes(text: str) -> list[int]:
    """'128,64,32' -> [128, 64, 32]. Raises ValueError on anything else."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or not all(re.fullmatch(r"[1-9][0-9]*", p) for p in parts):
        raise ValueError(text)
    return [int(p) for p in parts]
