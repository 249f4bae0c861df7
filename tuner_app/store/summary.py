"""The search's summary, `<name>.json`: settings, row counts, baselines, the held-back score.

Written by the chief (or a local search) when it starts and again when the best
trial has been scored on the held-back rows; read by `report` and the plots for
the baselines. It begins with the same description as `search.json`.
"""

from __future__ import annotations

from typing import Any

from tuner_app.errors import ResultsError
from tuner_app.store import atomic, migrations
from tuner_app.store.layout import SearchPaths


def read_summary(paths: SearchPaths) -> dict[str, Any]:
    """The search's summary, or {} when there is none."""
    path = paths.summary
    fix = "run the search command again: it rewrites the summary"
    summary = atomic.read_json(path, "the search summary", fix, expect=dict) if path.exists() else {}
    if not isinstance(summary.get("baselines", {}), dict):
        raise ResultsError(f"{path}: the search summary's baselines must be a JSON object; found "
                           f"{type(summary['baselines']).__name__}; {fix}.")
    return summary


def write_summary(paths: SearchPaths, summary: dict[str, Any]) -> None:
    atomic.write_json_atomic(paths.summary, summary)


def baselines_of(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each baseline's entry, by name: `{"method", "validation": {...}, "holdout": {...}}`, or
    `{"method", "skipped": reason}`.

    Older summaries kept popularity's elsewhere (`store.migrations`).
    """
    from tuner_app.space.names import BASELINES

    entries = migrations.summary_baselines(summary)
    order = list(BASELINES)  # as BASELINES lists them (the file keeps its keys sorted)
    return dict(sorted(entries.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def baseline_setting(entry: dict[str, Any]) -> str:
    """' (L2 3000)' for EASE, ' (64 factors, regularisation 0.1, alpha 10)' for ALS, '' for popularity."""
    if "l2" in entry:
        return f" (L2 {entry['l2']:g})"
    settings = entry.get("settings")
    if isinstance(settings, dict) and {"factors", "regularization", "alpha"} <= set(settings):
        return (f" ({settings['factors']} factors, regularisation {settings['regularization']:g}, "
                f"alpha {settings['alpha']:g})")
    return ""


def baseline_values(summary: dict[str, Any], metric: str, part: str = "validation") -> dict[str, float]:
    """`{baseline name: its value of metric}` on the validation (or held-back) rows, where known."""
    values = {}
    for name, entry in baselines_of(summary).items():
        found = entry.get(part) if isinstance(entry, dict) else None
        value = found.get(metric) if isinstance(found, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values[name] = float(value)
    return values


def coverage_line(summary: dict[str, Any], ks: tuple[int, ...] = (10, 100)) -> str | None:
    """'catalogue coverage (share of the items in some user's top k) @10/@100: best trial 0.12/0.41, ...'."""
    from tuner_app.space.names import BASELINES, coverage_key

    keys = [coverage_key(k) for k in ks]
    entries = {"best trial": summary.get("best_trial_coverage", {})}
    entries.update({BASELINES.get(name, name): entry.get("coverage", {}) for name, entry in baselines_of(summary).items()})
    parts = [f"{label} {'/'.join(f'{entry[key]:.3f}' for key in keys)}" for label, entry in entries.items()
             if all(key in entry for key in keys)]
    shown = "/".join(f"@{k}" for k in ks)
    return f"catalogue coverage (share of the items in some user's top k) {shown}: {', '.join(parts)}" if parts else None
