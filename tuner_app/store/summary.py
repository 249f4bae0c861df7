"""The search's summary, `<name>.json`: settings, row counts, baselines, the held-back score.

Written by the chief (or a local search) when it starts and again when the best
trial has been scored on the held-back rows; read by `report` and the plots for
the baselines. It begins with the same description as `search.json`.
"""

from __future__ import annotations

from typing import Any

from tuner_app.store import atomic
from tuner_app.store.layout import SearchPaths


def read_summary(paths: SearchPaths) -> dict[str, Any]:
    """The search's summary, or {} when there is none."""
    path = paths.summary
    return atomic.read_json(path, "the search summary") if path.exists() else {}


def write_summary(paths: SearchPaths, summary: dict[str, Any]) -> None:
    atomic.write_json_atomic(paths.summary, summary)


def validation_baselines(summary: dict[str, Any]) -> dict[str, float]:
    """The popularity baseline's metrics on the validation rows (empty when unknown)."""
    return summary.get("baselines", {}).get("validation", {})
