"""Where the benchmarks read data and write their reports (no TensorFlow here)."""

from __future__ import annotations

import datetime
from pathlib import Path

#: The workplace's ml-100k folder next to the repository, used when it exists.
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/ml-100k"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def default_out(name: str) -> Path:
    """benchmarks/results/<YYYY-MM-DD>-<name>.txt"""
    return RESULTS_DIR / f"{datetime.date.today().isoformat()}-{name}.txt"


def publish(text: str, out: Path | None, name: str, quick: bool) -> None:
    """Prints the report and, unless `quick`, writes it to `out` (default: `default_out(name)`)."""
    print(text)
    if quick:
        return
    out = out or default_out(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")


def machine_at_start() -> tuple[str, float]:
    """The machine line and the load average before the benchmark ran (read before anything loads).

    TensorFlow is loaded for the versions the machine line gives; the benchmarks that run
    searches run them in their own processes.
    """
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    import tuner_app  # noqa: F401  (Keras 2 for TensorFlow, before it loads)
    from tuner_app.model.runtime import load_tensorflow

    load_tensorflow()
    from benchmarks.timing import machine_description

    return machine_description(), load
