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
