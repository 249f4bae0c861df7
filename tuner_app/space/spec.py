"""The validated, frozen form of a search space file (`SearchSpec`) and its parts.

Built by `space.validation.parse_space`; nothing here reads YAML. The defaults of
`split:`, `evaluation:` and `training:` are these dataclasses' own; `TUNER_KEYS`
holds each algorithm's keys with their defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tuner_app.errors import SpaceError
from tuner_app.space.config import TrainingConfig
from tuner_app.space.durations import parse_duration
from tuner_app.space.names import (
    BY_NAME_ONLY_FEATURES,
    DERIVED_FEATURES,
    EPOCHS_RANGE,
    MAX_TRIALS_RANGE,
    RATED_HISTORY_FEATURE,
    SEARCH_NAME_MAX,
    Algorithm,
    SplitKind,
)
from tuner_app.space.params import (
    EVERY_FEATURE,
    PARAM_DEFAULTS,
    Fixed,
    ParamSpec,
    feature_of,
    param_values,
    parse_layer_sizes,
)

# Keys each algorithm accepts under `tuner:`, with their defaults.
_COMMON_TUNER: dict[str, Any] = {"seed": 42, "max_consecutive_failed_trials": 3, "max_trials": None,
                                  "time_budget": None}
TUNER_KEYS: dict[str, dict[str, Any]] = {
    "hyperband": {**_COMMON_TUNER, "max_epochs": 27, "factor": 3, "hyperband_iterations": 1},
    "bayesian": {**_COMMON_TUNER, "max_trials": 20, "num_initial_points": None, "alpha": 1.0e-4, "beta": 2.6},
    "random": {**_COMMON_TUNER, "max_trials": 20},
    "grid": {**_COMMON_TUNER},
}
COMMON_TUNER_KEYS = tuple(_COMMON_TUNER)


@dataclass(frozen=True)
class TunerSpec:
    algorithm: Algorithm
    max_trials: int | None
    seed: int
    max_consecutive_failed_trials: int
    options: dict[str, Any] = field(default_factory=dict)  # algorithm-specific
    #: Seconds of wall time the search may spend, over all its runs (None: no limit): no trial starts
    #: once it is spent, and the running one stops at its next validated epoch (`tuning.budget`).
    time_budget: float | None = None


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
    kind: SplitKind = "random"  # temporal: the latest ratings are the validation (and held-back) rows

    def identity(self) -> dict:
        """The split as fingerprints and `search.json` record it: `kind` only when not the
        default, so that searches saved before split kinds existed keep their identity."""
        data = dataclasses.asdict(self)
        if data["kind"] == "random":
            del data["kind"]
        return data


@dataclass(frozen=True)
class EvaluationSpec:
    """How trials are scored.

    `exclude_seen`: also rank with each user's training titles removed (val_filtered_top_k).
    `validation_rows`: select trials on a fixed random sample of this many validation rows
    (None: all of them), for data too big to validate on in full every epoch; the best
    trial is then scored on all of them.
    """

    exclude_seen: bool = False
    validation_rows: int | None = None


@dataclass(frozen=True)
class TrainingSpec:
    """The file's `training:` settings; a trial's batch size and epochs default to these."""

    epochs: int = TrainingConfig.epochs
    batch_size: int = TrainingConfig.batch_size
    eval_batch_size: int = 4096
    validation_freq: int = 1
    shuffle_seed: int | None = None


def defaults_of(cls) -> dict[str, Any]:
    """A dataclass's fields and their defaults: the keys a YAML section accepts."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


def check_name(name: str, where: str) -> None:
    """A search name is a file name of its own: no path separator, no leading dot, not empty, not too long."""
    if not re.fullmatch(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{SEARCH_NAME_MAX - 1}}}", name):
        raise SpaceError(
            f"{where}: a search name must be 1-{SEARCH_NAME_MAX} letters, digits, '_', '-' or '.', "
            f"starting with a letter or digit; got {name!r}."
        )


@dataclass(frozen=True)
class SearchSpec:
    """A validated search space file. Build with `space.load_space`."""

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
    epochs_flag: int | None = None  # `--epochs`, when given (its effect is in the fields above)

    def param(self, name: str) -> ParamSpec:
        """The file's setting of a hyperparameter, or the tutorial's value as `Fixed`."""
        return self.hyperparameters.get(name, Fixed(PARAM_DEFAULTS.get(name)))

    @property
    def max_layers(self) -> int:
        """The deepest dense stack this space can build."""
        if "layer_sizes" in self.hyperparameters:
            return max(len(parse_layer_sizes(v)) for v in param_values(self.hyperparameters["layer_sizes"]))
        return int(max(param_values(self.param("num_layers"))))

    def fingerprint(self) -> str:
        """A hash of everything that changes what a search computes.

        `max_trials` and `max_consecutive_failed_trials` are left out on purpose:
        extending the budget or the patience of an existing search is normal.
        """
        data = dataclasses.asdict(self)
        for key in ("path", "description", "source_text", "name", "epochs_flag"):
            data.pop(key)
        data["split"] = self.split.identity()
        # Settings added since searches were first saved leave the hash alone at their defaults,
        # so those searches keep their identity and resume.
        if data["evaluation"]["validation_rows"] is None:
            del data["evaluation"]["validation_rows"]
        data["tuner"].pop("max_trials")
        data["tuner"].pop("max_consecutive_failed_trials")
        data["tuner"].pop("time_budget")  # like max_trials, a size of the search: resuming may change it
        blob = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def features(self) -> tuple[str, ...]:
        """The side features the space has a `feature_<name>` switch for, in the file's order."""
        return tuple(name for name in map(feature_of, self.hyperparameters) if name and name != EVERY_FEATURE)

    def uses_feature(self, name: str) -> bool:
        """Whether some trial can switch feature `name` on (after `for_data`)."""
        switch = self.hyperparameters.get(f"feature_{name}")
        return switch is not None and param_values(switch) != (False,)

    @property
    def derived_features(self) -> tuple[str, ...]:
        """The features made from the training rows (`names.DERIVED_FEATURES`) that some trial can switch on."""
        return tuple(name for name in DERIVED_FEATURES if self.uses_feature(name))

    def for_data(self, available: Mapping[str, str], data: str) -> tuple[SearchSpec, list[str]]:
        """The spec for data that has the side features `available` (name -> side), and notes on what changed.

        `feature_*` (and `feature_*_dim`) become a switch (and width) of each feature the data
        has and the space does not name, except `names.BY_NAME_ONLY_FEATURES`. A feature the space
        turns on for data that lacks it is refused; one it searches is left out (its switch fixed
        off), with a note.

        Raises:
            SpaceError: the space fixes a feature on that the data does not have.
        """
        params, notes = dict(self.hyperparameters), []
        every = params.pop(f"feature_{EVERY_FEATURE}", None)
        every_width = params.pop(f"feature_{EVERY_FEATURE}_dim", None)
        if every is not None:
            for name in available:
                if f"feature_{name}" not in params and name not in BY_NAME_ONLY_FEATURES:
                    params[f"feature_{name}"] = every
                    if every_width is not None:
                        params[f"feature_{name}_dim"] = every_width
        for name in self.features:
            switch = params[f"feature_{name}"]
            if name in available or param_values(switch) == (False,):
                continue
            if param_values(switch) == (True,) and name == RATED_HISTORY_FEATURE:
                raise SpaceError(
                    f"{self.path}: hyperparameters.feature_{name} is on, but the ratings of {data} do not vary (all "
                    "equal, or none given), and it weighs the history by them; name a rating column that varies "
                    "(rating: in the data YAML), or turn it off."
                )
            if param_values(switch) == (True,):
                raise SpaceError(
                    f"{self.path}: hyperparameters.feature_{name} is on, but {data} has no {name} feature "
                    f"(it has {', '.join(available) or 'none'}); turn it off or search it, or use data that has it."
                )
            params[f"feature_{name}"] = Fixed(False)
            params.pop(f"feature_{name}_dim", None)
            notes.append(f"note: {data} has no {name} feature; feature_{name} is left out of the search")
        return dataclasses.replace(self, hyperparameters=params), notes

    def with_overrides(
        self,
        *,
        name: str | None = None,
        max_trials: int | None = None,
        epochs: int | None = None,
        time_budget: str | None = None,
    ) -> SearchSpec:
        """Applies the command-line overrides `--name`, `--max-trials`, `--epochs`, `--time-budget`."""
        spec = self
        if time_budget is not None:
            seconds = parse_duration(time_budget, "--time-budget")
            spec = dataclasses.replace(spec, tuner=dataclasses.replace(spec.tuner, time_budget=seconds))
        if name is not None:
            check_name(name, "--name")
            spec = dataclasses.replace(spec, name=name)
        if max_trials is not None:
            if not MAX_TRIALS_RANGE[0] <= max_trials <= MAX_TRIALS_RANGE[1]:
                raise SpaceError(f"--max-trials must be from {MAX_TRIALS_RANGE[0]} to {MAX_TRIALS_RANGE[1]}; "
                                 f"got {max_trials}.")
            spec = dataclasses.replace(spec, tuner=dataclasses.replace(spec.tuner, max_trials=max_trials))
        if epochs is not None:
            if not EPOCHS_RANGE[0] <= epochs <= EPOCHS_RANGE[1]:
                raise SpaceError(f"--epochs must be from {EPOCHS_RANGE[0]} to {EPOCHS_RANGE[1]}; got {epochs}.")
            spec = dataclasses.replace(spec, epochs_flag=epochs)
            if spec.tuner.algorithm == "hyperband":
                options = {**spec.tuner.options, "max_epochs": epochs}
                spec = dataclasses.replace(spec, tuner=dataclasses.replace(spec.tuner, options=options))
            else:
                spec = dataclasses.replace(spec, training=dataclasses.replace(spec.training, epochs=epochs),
                                           hyperparameters=_epochs_overridden(spec, epochs))
        return spec


def _epochs_overridden(spec: SearchSpec, epochs: int) -> dict[str, ParamSpec]:
    """The hyperparameters with `--epochs` in place of a fixed `epochs`; a searched one is refused."""
    params = dict(spec.hyperparameters)
    setting = params.get("epochs")
    if setting is None:
        return params
    if not isinstance(setting, Fixed):
        raise SpaceError(
            f"--epochs {epochs}: {spec.path} searches hyperparameters.epochs (over "
            f"{', '.join(str(v) for v in param_values(setting))}), so a trial's epochs are the tuner's choice; "
            "drop --epochs, or fix epochs in the file."
        )
    params["epochs"] = Fixed(epochs)
    return params
