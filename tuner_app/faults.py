"""Fault injection points, so tests can kill the process at the worst moments.

Set `TUNER_APP_FAULT=<point>:<n>` and the process kills itself with SIGKILL
the n-th time it reaches `<point>` (1-based). Points:

* `write:<file name>`: a temporary file is complete but not yet renamed over
  its target (e.g. `write:deep.csv`, `write:oracle.json`, `write:record.json`);
* `checkpoint`: a checkpoint is written but not yet given its final name;
* `epoch`: the middle of a training epoch.

Unset (always, outside tests), `reached` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def reached(point: str) -> None:
    spec = os.environ.get("TUNER_APP_FAULT")
    if not spec:
        return
    target, _, count = spec.rpartition(":")
    if target != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == int(count):
        os.kill(os.getpid(), signal.SIGKILL)
