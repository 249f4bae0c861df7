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

from pathlib import Path
from typing import Any

from tuner_app.errors import SpaceError
from tuner_app.space.durations import parse_duration
from tuner_app.space.fields import FieldChecker, describe
from tuner_app.space.names import ALGORITHMS, EPOCHS_RANGE, FILTERED_PREFIX, MAX_TRIALS_RANGE, OBJECTIVES, SPLIT_KINDS
from tuner_app.space.params import EVERY_FEATURE, FEATURE_WIDTH, MAX_LAYERS, PARAM_RULES, Range
from tuner_app.space.reading import load_yaml, read_space_file, resolve_space_path
from tuner_app.space.spec import (
    COMMON_TUNER_KEYS,
    TUNER_KEYS,
    EvaluationSpec,
    SearchSpec,
    SplitSpec,
    TrainingSpec,
    TunerSpec,
    check_name,
    defaults_of,
)

TOP_LEVEL_KEYS = (
    "name", "description", "tuner", "objective", "split", "training", "evaluation", "hyperparameters",
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
    return parse_space(read_space_file(path), str(path))


def parse_space(text: str, where: str) -> SearchSpec:
    """Validates the YAML `text` of a space file; `where` names it in messages."""
    return _Validator(where).space(load_yaml(text, where), text)


class _Validator(FieldChecker):
    """Stage one checks each section (`FieldChecker` each field); stage two (`_cross_checks`) their combinations."""

    def space(self, raw: Any, text: str) -> SearchSpec:
        if raw is None:
            raise SpaceError(f"{self.where}: is empty; expected a mapping with at least 'tuner' and 'hyperparameters'.")
        if not isinstance(raw, dict):
            raise SpaceError(f"{self.where}: expected a search space, a YAML mapping with at least 'tuner' and "
                             f"'hyperparameters'; got {describe(raw)}; see README.md for the format.")
        raw = self.mapping(raw, "", TOP_LEVEL_KEYS)
        for required in ("tuner", "hyperparameters"):
            if required not in raw:
                raise SpaceError(f"{self.where}: the '{required}' section is missing; see README.md for the format.")
        name = raw.get("name", Path(self.where).stem)
        if not isinstance(name, str):
            self.fail("name", "a string", name)
        check_name(name, f"{self.where}: name")
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
        ranges = {"max_trials": MAX_TRIALS_RANGE, "max_epochs": EPOCHS_RANGE}
        for key in ("max_trials", "max_epochs", "hyperband_iterations", "num_initial_points"):
            if key in values and values[key] is not None:
                self.integer(values[key], f"tuner.{key}", *ranges.get(key, (1,)))
        if values.get("factor") is not None:
            self.integer(values["factor"], "tuner.factor", minimum=2)
        self.integer(values["seed"], "tuner.seed", minimum=0)
        self.integer(values["max_consecutive_failed_trials"], "tuner.max_consecutive_failed_trials", minimum=1)
        for key in ("alpha", "beta"):
            if key in values and (self.number(values[key], f"tuner.{key}") < 0):
                self.fail(f"tuner.{key}", "a number >= 0", values[key])
        options = {k: v for k, v in values.items() if k not in COMMON_TUNER_KEYS}
        budget = values["time_budget"]
        return TunerSpec(
            algorithm=algorithm,
            max_trials=values["max_trials"],
            seed=values["seed"],
            max_consecutive_failed_trials=values["max_consecutive_failed_trials"],
            options=options,
            time_budget=None if budget is None else parse_duration(budget, f"{self.where}: tuner.time_budget"),
        )

    def objective(self, raw: Any) -> str:
        if raw not in OBJECTIVES:
            self.fail("objective", "one of " + ", ".join(OBJECTIVES) + " (maximised)", raw)
        return raw

    def split(self, raw: Any) -> SplitSpec:
        defaults = defaults_of(SplitSpec)
        raw = self.mapping(raw, "split", tuple(defaults))
        values = {**defaults, **raw}
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
        if values["kind"] not in SPLIT_KINDS:
            self.fail("split.kind", "one of " + ", ".join(SPLIT_KINDS), values["kind"])
        return SplitSpec(float(values["train_fraction"]), float(values["test_fraction"]), values["seed"], holdout,
                         values["kind"])

    def evaluation(self, raw: Any) -> EvaluationSpec:
        defaults = defaults_of(EvaluationSpec)
        raw = self.mapping(raw, "evaluation", tuple(defaults))
        values = {**defaults, **raw}
        if not isinstance(values["exclude_seen"], bool):
            self.fail("evaluation.exclude_seen", "true or false", values["exclude_seen"])
        if values["validation_rows"] is not None:
            self.integer(values["validation_rows"], "evaluation.validation_rows", minimum=100)
        return EvaluationSpec(**values)

    def training(self, raw: Any) -> TrainingSpec:
        defaults = defaults_of(TrainingSpec)
        raw = self.mapping(raw, "training", tuple(defaults))
        values = {**defaults, **raw}
        for key in ("epochs", "batch_size", "eval_batch_size", "validation_freq"):
            self.integer(values[key], f"training.{key}", *(EPOCHS_RANGE if key == "epochs" else (1,)))
        if values["shuffle_seed"] is not None:
            self.integer(values["shuffle_seed"], "training.shuffle_seed", minimum=0)
        return TrainingSpec(**values)

    # -- stage two -------------------------------------------------------------------
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
        if spec.objective.startswith(FILTERED_PREFIX) and not spec.evaluation.exclude_seen:
            raise SpaceError(
                f"{self.where}: objective {spec.objective} needs evaluation.exclude_seen: true; got "
                f"exclude_seen {spec.evaluation.exclude_seen}."
            )
        for key in params:
            width = FEATURE_WIDTH.fullmatch(key)
            name = width and width.group("name")
            if name and key not in PARAM_RULES and f"feature_{name}" not in params:
                what = "every feature the space does not name" if name == EVERY_FEATURE else f"the {name} feature"
                raise SpaceError(
                    f"{self.where}: hyperparameters.{key} sets the width of {what}, which the space does not use; "
                    f"add feature_{name}: true (or {{values: [false, true]}}), or drop it."
                )
        float_ranges = [n for n, p in params.items() if isinstance(p, Range) and p.kind == "float"]
        if spec.tuner.algorithm == "grid" and float_ranges:
            raise SpaceError(
                f"{self.where}: hyperparameters.{float_ranges[0]} is a float range, which grid search "
                "cannot enumerate; give it as {values: [...]} or use another tuner.algorithm."
            )
