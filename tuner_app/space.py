"""Search space files: YAML -> a validated, frozen `SearchSpec`.

Everything a search needs to know, except the data source, lives in one YAML
file: the tuner and its budget, the objective, the split, training settings
and the hyperparameters. This module validates the whole file before
TensorFlow is imported, so a typo costs a second, not a search. Each problem
is reported as one sentence naming the file, the key, what was expected and
what was given (`SpaceError`, exit status 2).

The schema (see README.md for a full example)::

    name: deep                       # optional; defaults to the file name
    description: free text           # optional
    tuner:
      algorithm: hyperband           # hyperband | bayesian | random | grid
      ...                            # per algorithm, see TUNER_KEYS
    objective: val_top_100           # val_top_{1,5,10,50,100}, maximised
    split: {train_fraction: 0.8, test_fraction: 0.2, seed: 42}
    training: {epochs: 20, batch_size: 2048, eval_batch_size: 4096, validation_freq: 1}
    hyperparameters:
      num_layers: {min: 1, max: 3}
      units: {min: 16, max: 256, step: 16}
      activation: {values: [relu, gelu]}
      optimizer: {values: [adagrad, adam]}
      learning_rate: {min: 1.0e-3, max: 0.3, sampling: log}

A hyperparameter is either a plain value (fixed), `{values: [...]}` (a
choice) or `{min, max, step?, sampling?}` (a range).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from tuner_app.errors import SpaceError

#: Folder of the search spaces shipped with the project; `--space deep.yaml`
#: is looked up here when it is not a path to an existing file.
SEARCH_SPACES_DIR = Path(__file__).resolve().parent.parent / "search_spaces"

ALGORITHMS = ("hyperband", "bayesian", "random", "grid")
TOP_KS = (1, 5, 10, 50, 100)
#: `val_top_k`: the tutorial's metric; `val_filtered_top_k`: the same with each user's
#: training titles excluded from the ranking (needs `evaluation.exclude_seen`).
OBJECTIVES = tuple(f"val_top_{k}" for k in TOP_KS) + tuple(f"val_filtered_top_{k}" for k in TOP_KS)
ACTIVATIONS = ("relu", "gelu", "swish", "silu", "tanh", "elu", "selu", "sigmoid", "leaky_relu")
OPTIMIZERS = ("adagrad", "adam")
SAMPLINGS = ("linear", "log", "reverse_log")

TOP_LEVEL_KEYS = (
    "name", "description", "tuner", "objective", "split", "training", "evaluation", "hyperparameters",
)

# Keys each algorithm accepts under `tuner:`, with their defaults.
_COMMON_TUNER = {"seed": 42, "max_consecutive_failed_trials": 3, "max_trials": None}
TUNER_KEYS: dict[str, dict[str, Any]] = {
    "hyperband": {**_COMMON_TUNER, "max_epochs": 27, "factor": 3, "hyperband_iterations": 1},
    "bayesian": {
        **_COMMON_TUNER,
        "max_trials": 20,
        "num_initial_points": None,
        "alpha": 1.0e-4,
        "beta": 2.6,
    },
    "random": {**_COMMON_TUNER, "max_trials": 20},
    "grid": {**_COMMON_TUNER},
}

SPLIT_DEFAULTS = {"train_fraction": 0.8, "test_fraction": 0.2, "seed": 42, "holdout_fraction": 0.0}
EVALUATION_DEFAULTS = {"exclude_seen": False}
TRAINING_DEFAULTS = {
    "epochs": 20,
    "batch_size": 2048,
    "eval_batch_size": 4096,
    "validation_freq": 1,
    "shuffle_seed": None,
}


@dataclass(frozen=True)
class ParamRule:
    """What a hyperparameter may hold: its type and, for strings, the allowed words."""

    kind: Literal["int", "float", "str", "bool"]
    minimum: float | None = None  # smallest allowed value
    open_minimum: bool = False  # True: the minimum itself is not allowed
    below: float | None = None  # values must be smaller than this
    words: tuple[str, ...] = ()  # allowed strings for kind == "str"
    help: str = ""

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


#: The hyperparameters the HyperModel understands. `units` is a template: each
#: dense layer i (1-based) gets its own `units_i`, active only when the layer exists.
PARAM_RULES: dict[str, ParamRule] = {
    "num_layers": ParamRule("int", minimum=1, help="number of dense layers in each tower"),
    "units": ParamRule("int", minimum=1, help="width of each dense layer"),
    "layer_sizes": ParamRule(
        "str", help="a whole dense stack as comma-separated widths, e.g. '64,32'"
    ),
    "activation": ParamRule("str", words=ACTIVATIONS, help="activation between dense layers"),
    "optimizer": ParamRule("str", words=OPTIMIZERS, help="optimizer"),
    "learning_rate": ParamRule("float", minimum=0.0, open_minimum=True, help="learning rate"),
    # Feature embeddings (the tutorial uses 32 for each).
    "embedding_dim": ParamRule("int", minimum=1, help="width of every feature embedding"),
    "user_embedding_dim": ParamRule("int", minimum=1, help="user id embedding width"),
    "timestamp_embedding_dim": ParamRule("int", minimum=1, help="timestamp bucket embedding width"),
    "title_embedding_dim": ParamRule("int", minimum=1, help="title id embedding width"),
    "title_text_embedding_dim": ParamRule("int", minimum=1, help="title word embedding width"),
    # Training.
    "batch_size": ParamRule("int", minimum=2, help="training batch size (the in-batch negatives)"),
    "epochs": ParamRule("int", minimum=1, help="epochs per trial (not with Hyperband)"),
    "early_stopping_patience": ParamRule(
        "int", minimum=0, help="stop after this many validations without a better objective (0: never)"
    ),
    # Regularisation of the dense stack.
    "l2": ParamRule("float", minimum=0.0, help="L2 penalty on dense kernels"),
    "dropout": ParamRule("float", minimum=0.0, below=1.0, help="dropout rate between dense layers"),
    "normalize_embeddings": ParamRule(
        "bool", help="scale both towers' outputs to unit length (cosine scores; pair with a temperature)"
    ),
    # The retrieval task.
    "temperature": ParamRule("float", minimum=0.0, open_minimum=True, help="softmax temperature"),
    "remove_accidental_hits": ParamRule("bool", help="drop in-batch negatives that are the positive's title"),
    "num_hard_negatives": ParamRule("int", minimum=1, help="keep only the hardest in-batch negatives"),
    "logq_correction": ParamRule(
        "bool", help="subtract log(title frequency) from logits to counter in-batch popularity bias"
    ),
}

#: Used when a space file leaves a hyperparameter out: the tutorial's values.
PARAM_DEFAULTS: dict[str, Any] = {
    "num_layers": 1,
    "units": 32,
    "activation": "relu",
    "optimizer": "adagrad",
    "learning_rate": 0.1,
}

MAX_LAYERS = 8


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


@dataclass(frozen=True)
class TunerSpec:
    algorithm: str
    max_trials: int | None
    seed: int
    max_consecutive_failed_trials: int
    options: dict[str, Any] = field(default_factory=dict)  # algorithm-specific


@dataclass(frozen=True)
class SplitSpec:
    """The tutorial's split, plus an optional held-back part no trial is selected on.

    `holdout_fraction` of the test rows (0 by default) are held back: the tuner
    validates on the rest, and the best trial is scored on them at the end.
    """

    train_fraction: float = 0.8
    test_fraction: float = 0.2
    seed: int = 42
    holdout_fraction: float = 0.0


@dataclass(frozen=True)
class EvaluationSpec:
    """`exclude_seen`: also rank with each user's training titles removed (val_filtered_top_k)."""

    exclude_seen: bool = False


@dataclass(frozen=True)
class TrainingSpec:
    epochs: int = 20
    batch_size: int = 2048
    eval_batch_size: int = 4096
    validation_freq: int = 1
    shuffle_seed: int | None = None


@dataclass(frozen=True)
class SearchSpec:
    """A validated search space file. Build with `load_space`."""

    name: str
    path: str
    description: str
    tuner: TunerSpec
    objective: str
    split: SplitSpec
    training: TrainingSpec
    hyperparameters: dict[str, ParamSpec]
    evaluation: EvaluationSpec = EvaluationSpec()
    source_text: str = field(repr=False, default="")

    @property
    def max_layers(self) -> int:
        """The deepest dense stack this space can build."""
        if "layer_sizes" in self.hyperparameters:
            return max(len(parse_layer_sizes(v)) for v in param_values(self.hyperparameters["layer_sizes"]))
        spec = self.hyperparameters.get("num_layers", Fixed(PARAM_DEFAULTS["num_layers"]))
        return int(max(param_values(spec)))

    @property
    def max_epochs(self) -> int:
        """Epochs the longest trial trains for."""
        if self.tuner.algorithm == "hyperband":
            return int(self.tuner.options["max_epochs"])
        return self.training.epochs

    def fingerprint(self) -> str:
        """A hash of everything that changes what a search computes.

        `max_trials` and `max_consecutive_failed_trials` are left out on purpose:
        extending the budget or the patience of an existing search is normal.
        """
        data = dataclasses.asdict(self)
        for key in ("path", "description", "source_text", "name"):
            data.pop(key)
        data["tuner"].pop("max_trials")
        data["tuner"].pop("max_consecutive_failed_trials")
        blob = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def with_overrides(
        self,
        *,
        name: str | None = None,
        max_trials: int | None = None,
        epochs: int | None = None,
    ) -> SearchSpec:
        """Applies the command-line overrides `--name`, `--max-trials`, `--epochs`."""
        spec = self
        if name is not None:
            _check_name(name, "--name")
            spec = dataclasses.replace(spec, name=name)
        if max_trials is not None:
            if max_trials < 1:
                raise SpaceError(f"--max-trials must be a positive integer; got {max_trials}.")
            spec = dataclasses.replace(spec, tuner=dataclasses.replace(spec.tuner, max_trials=max_trials))
        if epochs is not None:
            if epochs < 1:
                raise SpaceError(f"--epochs must be a positive integer; got {epochs}.")
            if spec.tuner.algorithm == "hyperband":
                options = {**spec.tuner.options, "max_epochs": epochs}
                spec = dataclasses.replace(spec, tuner=dataclasses.replace(spec.tuner, options=options))
            else:
                spec = dataclasses.replace(spec, training=dataclasses.replace(spec.training, epochs=epochs))
        return spec


def param_values(spec: ParamSpec) -> tuple[Any, ...]:
    """Every value a Fixed or Choice can take; a Range's two ends."""
    if isinstance(spec, Fixed):
        return (spec.value,)
    if isinstance(spec, Choice):
        return spec.values
    return (spec.min, spec.max)


def parse_layer_sizes(text: str) -> list[int]:
    """'128,64,32' -> [128, 64, 32]. Raises ValueError on anything else."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or not all(re.fullmatch(r"[1-9][0-9]*", p) for p in parts):
        raise ValueError(text)
    return [int(p) for p in parts]


def resolve_space_path(space: str) -> Path:
    """Finds a space file: the path as given, else by name in `search_spaces/`."""
    candidates = [Path(space)]
    if not Path(space).is_absolute() and len(Path(space).parts) == 1:
        candidates.append(SEARCH_SPACES_DIR / space)
        if not space.endswith((".yaml", ".yml")):
            candidates.append(SEARCH_SPACES_DIR / f"{space}.yaml")
    for candidate in candidates:
        if candidate.is_file():
            shown = os.path.relpath(candidate)
            return Path(shown) if not shown.startswith("..") else candidate
    shipped = ", ".join(sorted(p.name for p in SEARCH_SPACES_DIR.glob("*.yaml"))) or "none"
    raise SpaceError(
        f"--space: no such file: '{space}'; give a path to a YAML file or the name of "
        f"one in {SEARCH_SPACES_DIR} ({shipped})."
    )


def load_space(space: str | Path) -> SearchSpec:
    """Reads and validates a search space file.

    Args:
        space: a path, or the name of a file in `search_spaces/`.

    Returns:
        The frozen, fully validated `SearchSpec`.

    Raises:
        SpaceError: one sentence naming the file, the key, the expectation and
            what was given.
    """
    path = resolve_space_path(str(space))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"{path}: cannot be read as a UTF-8 text file ({exc}).") from None
    return parse_space(text, str(path))


def parse_space(text: str, where: str) -> SearchSpec:
    """Validates the YAML `text` of a space file; `where` names it in messages."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpaceError(f"{where}: is not valid YAML{at}: {problem}.") from None
    return _Validator(where).space(raw, text)


def _check_name(name: str, where: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
        raise SpaceError(
            f"{where}: a search name must be 1-100 letters, digits, '_', '-' or '.', "
            f"starting with a letter or digit; got {name!r}."
        )


def _describe(value: Any) -> str:
    """How a YAML value is shown in messages: its repr and, when surprising, its type."""
    if isinstance(value, str):
        if _looks_numeric(value):
            return f"{value!r} (a string: YAML reads {value} as text; write it with a dot and a signed exponent, e.g. 1.0e-3, or as 0.001)"
        return repr(value)
    if isinstance(value, bool):
        return f"{value!r} (a boolean)"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


class _Validator:
    """Stage one checks each field; stage two (`_cross_checks`) their combinations."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, expected: str, got: Any, hint: str = "") -> None:
        message = f"{self.where}: {key} must be {expected}; got {_describe(got)}"
        raise SpaceError(message + (f"; {hint}" if hint else "") + ".")

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, "a mapping", value)
        for k in value:
            if not isinstance(k, str):
                self.fail(f"{key} keys", "strings", k)
            if allowed is not None and k not in allowed:
                options = ", ".join(allowed)
                raise SpaceError(
                    f"{self.where}: {key + '.' if key else ''}{k} is not a known key; "
                    f"expected one of {options}."
                )
        return value

    def integer(self, value: Any, key: str, minimum: int | None = None) -> int:
        if not _is_int(value):
            self.fail(key, "an integer" + (f" >= {minimum}" if minimum is not None else ""), value)
        if minimum is not None and value < minimum:
            self.fail(key, f"an integer >= {minimum}", value)
        return value

    def number(self, value: Any, key: str) -> float:
        if not _is_number(value):
            self.fail(key, "a number", value)
        return float(value)

    # -- top level -----------------------------------------------------------------
    def space(self, raw: Any, text: str) -> SearchSpec:
        if raw is None:
            raise SpaceError(f"{self.where}: is empty; expected a mapping with at least 'tuner' and 'hyperparameters'.")
        raw = self.mapping(raw, "", TOP_LEVEL_KEYS)
        for required in ("tuner", "hyperparameters"):
            if required not in raw:
                raise SpaceError(f"{self.where}: the '{required}' section is missing; see README.md for the format.")
        name = raw.get("name", Path(self.where).stem)
        if not isinstance(name, str):
            self.fail("name", "a string", name)
        _check_name(name, f"{self.where}: name")
        description = raw.get("description", "")
        if not isinstance(description, str):
            self.fail("description", "a string", description)
        spec = SearchSpec(
            name=name,
            path=self.where,
            description=description,
            tuner=self.tuner(raw["tuner"]),
            objective=self.objective(raw.get("objective", "val_top_100")),
            split=self.split(raw.get("split")),
            training=self.training(raw.get("training")),
            hyperparameters=self.hyperparameters(raw["hyperparameters"]),
            evaluation=self.evaluation(raw.get("evaluation")),
            source_text=text,
        )
        self._cross_checks(spec)
        return spec

    def tuner(self, raw: Any) -> TunerSpec:
        if not isinstance(raw, dict):
            self.fail("tuner", "a mapping with an 'algorithm' key", raw)
        algorithm = raw.get("algorithm")
        if algorithm not in ALGORITHMS:
            self.fail("tuner.algorithm", "one of " + ", ".join(ALGORITHMS), algorithm)
        defaults = TUNER_KEYS[algorithm]
        for key in raw:
            if key != "algorithm" and key not in defaults:
                raise SpaceError(
                    f"{self.where}: tuner.{key} is not a known key for algorithm {algorithm}; "
                    f"expected one of {', '.join(defaults)}."
                )
        values = {**defaults, **{k: v for k, v in raw.items() if k != "algorithm"}}
        for key in ("max_trials", "max_epochs", "hyperband_iterations", "num_initial_points"):
            if key in values and values[key] is not None:
                self.integer(values[key], f"tuner.{key}", minimum=1)
        if values.get("factor") is not None:
            self.integer(values["factor"], "tuner.factor", minimum=2)
        self.integer(values["seed"], "tuner.seed", minimum=0)
        self.integer(values["max_consecutive_failed_trials"], "tuner.max_consecutive_failed_trials", minimum=1)
        for key in ("alpha", "beta"):
            if key in values and (self.number(values[key], f"tuner.{key}") < 0):
                self.fail(f"tuner.{key}", "a number >= 0", values[key])
        options = {k: v for k, v in values.items() if k not in _COMMON_TUNER}
        return TunerSpec(
            algorithm=algorithm,
            max_trials=values["max_trials"],
            seed=values["seed"],
            max_consecutive_failed_trials=values["max_consecutive_failed_trials"],
            options=options,
        )

    def objective(self, raw: Any) -> str:
        if raw not in OBJECTIVES:
            self.fail("objective", "one of " + ", ".join(OBJECTIVES) + " (maximised)", raw)
        return raw

    def split(self, raw: Any) -> SplitSpec:
        raw = self.mapping(raw, "split", tuple(SPLIT_DEFAULTS))
        values = {**SPLIT_DEFAULTS, **raw}
        for key in ("train_fraction", "test_fraction"):
            fraction = self.number(values[key], f"split.{key}")
            if not 0.0 < fraction < 1.0:
                self.fail(f"split.{key}", "a number between 0 and 1 (exclusive)", values[key])
        if values["train_fraction"] + values["test_fraction"] > 1.0 + 1e-9:
            raise SpaceError(
                f"{self.where}: split.train_fraction + split.test_fraction must be at most 1; "
                f"got {values['train_fraction']} + {values['test_fraction']}."
            )
        self.integer(values["seed"], "split.seed", minimum=0)
        holdout = self.number(values["holdout_fraction"], "split.holdout_fraction")
        if not 0.0 <= holdout < 1.0:
            self.fail("split.holdout_fraction", "a number >= 0 and < 1", values["holdout_fraction"])
        return SplitSpec(float(values["train_fraction"]), float(values["test_fraction"]), values["seed"], holdout)

    def evaluation(self, raw: Any) -> EvaluationSpec:
        raw = self.mapping(raw, "evaluation", tuple(EVALUATION_DEFAULTS))
        values = {**EVALUATION_DEFAULTS, **raw}
        if not isinstance(values["exclude_seen"], bool):
            self.fail("evaluation.exclude_seen", "true or false", values["exclude_seen"])
        return EvaluationSpec(**values)

    def training(self, raw: Any) -> TrainingSpec:
        raw = self.mapping(raw, "training", tuple(TRAINING_DEFAULTS))
        values = {**TRAINING_DEFAULTS, **raw}
        for key in ("epochs", "batch_size", "eval_batch_size", "validation_freq"):
            self.integer(values[key], f"training.{key}", minimum=1)
        if values["shuffle_seed"] is not None:
            self.integer(values["shuffle_seed"], "training.shuffle_seed", minimum=0)
        return TrainingSpec(**values)

    # -- hyperparameters -------------------------------------------------------------
    def hyperparameters(self, raw: Any) -> dict[str, ParamSpec]:
        raw = self.mapping(raw, "hyperparameters", tuple(PARAM_RULES))
        return {name: self.param(name, value) for name, value in raw.items()}

    def param(self, name: str, raw: Any) -> ParamSpec:
        key = f"hyperparameters.{name}"
        rule = PARAM_RULES[name]
        if not isinstance(raw, dict):
            return Fixed(self.param_value(raw, key, rule))
        if "values" in raw:
            raw = self.mapping(raw, key, ("values", "default"))
            values = raw["values"]
            if not isinstance(values, list) or not values:
                self.fail(f"{key}.values", "a non-empty list", values)
            checked = tuple(self.param_value(v, f"{key}.values", rule) for v in values)
            if len(set(checked)) != len(checked):
                self.fail(f"{key}.values", "a list without repeated values", values)
            default = raw.get("default")
            if default is not None and default not in checked:
                self.fail(f"{key}.default", "one of its values", default)
            return Choice(checked, default)
        if rule.kind in ("str", "bool"):
            self.fail(key, "a value or {values: [...]}" + self._words(rule), raw)
        raw = self.mapping(raw, key, ("min", "max", "step", "sampling", "default"))
        for bound in ("min", "max"):
            if bound not in raw:
                raise SpaceError(
                    f"{self.where}: {key} needs both 'min' and 'max' (or 'values: [...]', or a plain value); "
                    f"'{bound}' is missing."
                )
        low = self.param_value(raw["min"], f"{key}.min", rule)
        high = self.param_value(raw["max"], f"{key}.max", rule)
        if low > high:
            raise SpaceError(f"{self.where}: {key}.min must be <= {key}.max; got min {low} > max {high}.")
        sampling = raw.get("sampling", "linear")
        if sampling not in SAMPLINGS:
            self.fail(f"{key}.sampling", "one of " + ", ".join(SAMPLINGS), sampling)
        if sampling != "linear" and low <= 0:
            self.fail(f"{key}.min", f"greater than 0 with {sampling} sampling", raw["min"])
        step = raw.get("step")
        if step is not None:
            if rule.kind == "int":
                self.integer(step, f"{key}.step", minimum=1)
            elif self.number(step, f"{key}.step") <= 0:
                self.fail(f"{key}.step", "a number > 0", step)
        default = raw.get("default")
        if default is not None:
            default = self.param_value(default, f"{key}.default", rule)
            if not low <= default <= high:
                self.fail(f"{key}.default", f"between min {low} and max {high}", default)
        return Range(rule.kind, low, high, step, sampling, default)

    def _words(self, rule: ParamRule) -> str:
        return f" with values from {', '.join(rule.words)}" if rule.words else ""

    def param_value(self, value: Any, key: str, rule: ParamRule) -> Any:
        if rule.kind == "bool":
            if not isinstance(value, bool):
                self.fail(key, "true or false", value)
            return value
        if rule.kind in ("int", "float"):
            ok = _is_int(value) if rule.kind == "int" else _is_number(value)
            if not ok or not rule.admits(value):
                self.fail(key, rule.expectation(), value)
            return value if rule.kind == "int" else float(value)
        if not isinstance(value, str):
            self.fail(key, "a string" + self._words(rule), value)
        if rule.words and value not in rule.words:
            self.fail(key, "one of " + ", ".join(rule.words), value)
        if key.startswith("hyperparameters.layer_sizes"):
            try:
                parse_layer_sizes(value)
            except ValueError:
                self.fail(key, "comma-separated positive widths such as '64,32'", value)
        return value

    def _cross_checks(self, spec: SearchSpec) -> None:
        params = spec.hyperparameters
        if "layer_sizes" in params and ({"num_layers", "units"} & params.keys()):
            raise SpaceError(
                f"{self.where}: hyperparameters.layer_sizes cannot be combined with num_layers or units; "
                "give either whole stacks (layer_sizes) or a depth and a width range (num_layers, units)."
            )
        if spec.max_layers > MAX_LAYERS:
            raise SpaceError(
                f"{self.where}: hyperparameters.num_layers must be at most {MAX_LAYERS}; got {spec.max_layers}."
            )
        if spec.tuner.algorithm == "hyperband" and "epochs" in params:
            raise SpaceError(
                f"{self.where}: hyperparameters.epochs cannot be searched with Hyperband, which sets each "
                "trial's epochs itself (tuner.max_epochs); remove it or use another tuner.algorithm."
            )
        if spec.objective.startswith("val_filtered_") and not spec.evaluation.exclude_seen:
            raise SpaceError(
                f"{self.where}: objective {spec.objective} needs evaluation.exclude_seen: true; got "
                f"exclude_seen {spec.evaluation.exclude_seen}."
            )
        float_ranges = [n for n, p in params.items() if isinstance(p, Range) and p.kind == "float"]
        if spec.tuner.algorithm == "grid" and float_ranges:
            raise SpaceError(
                f"{self.where}: hyperparameters.{float_ranges[0]} is a float range, which grid search "
                "cannot enumerate; give it as {values: [...]} or use another tuner.algorithm."
            )
