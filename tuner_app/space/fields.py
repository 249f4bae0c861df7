"""Field-level checks of a space file: types, mappings and hyperparameter settings.

`FieldChecker` turns one YAML value into a checked Python value or fails with
one sentence: the file, the key, what was expected and what was given, with a
hint for YAML's traps (`1e-3` is read as a string, `yes` as true).
`space.validation` builds the sections and the cross-field checks on it.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from tuner_app.errors import SpaceError
from tuner_app.space.names import SAMPLINGS
from tuner_app.space.params import (
    PARAM_RULES,
    Choice,
    Fixed,
    ParamRule,
    ParamSpec,
    Range,
    parse_layer_sizes,
    rule_for,
)


def describe(value: Any) -> str:
    """How a YAML value is shown in messages: its repr (at most `EXCERPT` characters of a string)
    and, when surprising, its type."""
    if isinstance(value, str):
        if _reads_as_number(value):
            return f"{value!r} (a string: it is quoted; write {value} without quotes)"
        if _looks_numeric(value):
            return f"{value!r} (a string: YAML reads {value} as text; write it with a dot and a signed exponent, e.g. 1.0e-3, or as 0.001)"
        return repr(value) if len(value) <= EXCERPT else f"text beginning {value[:EXCERPT]!r}"
    if isinstance(value, bool):
        return f"{value!r} (a boolean)"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


#: The most of a string value a message quotes: a data file read as YAML is one long string.
EXCERPT = 60


def _looks_numeric(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _reads_as_number(text: str) -> bool:
    """Whether YAML reads `text` unquoted as a number: a string that does was quoted in the file."""
    if not _looks_numeric(text):
        return False
    try:
        return is_number(yaml.safe_load(text))
    except yaml.YAMLError:
        return False


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


class FieldChecker:
    """Checks values found in the file named `where`; every failure is a `SpaceError`."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, expected: str, got: Any, hint: str = "") -> None:
        message = f"{self.where}: {key} must be {expected}; got {describe(got)}"
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

    def integer(self, value: Any, key: str, minimum: int | None = None, maximum: int | None = None) -> int:
        if maximum is not None:
            expected = f"an integer from {minimum} to {maximum}"
        else:
            expected = "an integer" + (f" >= {minimum}" if minimum is not None else "")
        if not is_int(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.fail(key, expected, value)
        return value

    def number(self, value: Any, key: str) -> float:
        if not is_number(value):
            self.fail(key, "a number", value)
        return float(value)

    # -- hyperparameters -------------------------------------------------------------
    def hyperparameters(self, raw: Any) -> dict[str, ParamSpec]:
        raw = self.mapping(raw, "hyperparameters", None)
        for name in raw:
            if rule_for(name) is None:
                raise SpaceError(f"{self.where}: hyperparameters.{name} is not a known key; expected one of "
                                 f"{', '.join(PARAM_RULES)}, or feature_<name> and feature_<name>_dim for a side "
                                 "feature of the data (feature_* for every one).")
        return {name: self.param(name, value) for name, value in raw.items()}

    def param(self, name: str, raw: Any) -> ParamSpec:
        key = f"hyperparameters.{name}"
        rule = rule_for(name)
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
            ok = is_int(value) if rule.kind == "int" else is_number(value)
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
