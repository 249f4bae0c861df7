"""Fault injection points, so tests can kill the process at the worst moments.

Set `TUNER_APP_FAULT=<point>:<n>` and the process kills itself with SIGKILL
the n-th time it reaches `<point>` (1-based); `TUNER_APP_FAULT=enospc@<point>:<n>`
makes that write fail as on a full disk instead (OSError ENOSPC), and from then on
every write at that point, as a full disk would; `TUNER_APP_FAULT=stall=<s>@<point>:<n>`
makes the process sleep s seconds there, once, as a frozen or very slow process would;
`TUNER_APP_FAULT=spend@<point>:<n>` spends the search's time budget there, from the n-th
time on (a budget that runs out at a known moment, whatever the machine's speed). Points:

* `write:<file name>`: a temporary file is complete but not yet renamed over
  its target (e.g. `write:deep.csv`, `write:oracle.json`, `write:record.json`);
* `checkpoint`: a checkpoint is written but not yet given its final name (as an
  ENOSPC point: about to be written);
* `epoch`: the middle of a training epoch;
* `report`: the oracle (a local search's, or a chief's) received a trial's validated epoch.

Unset (always, outside tests), `reached` and `writing` cost one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import time

_counts: dict[str, int] = {}


def _fault(kind: str, point: str) -> bool:
    """Whether this call is the one (or, for ENOSPC, one of those from then on) the fault targets."""
    spec = os.environ.get("TUNER_APP_FAULT")
    if not spec:
        return False
    target, _, count = spec.rpartition(":")
    target_kind, _, target = target.rpartition("@")
    if (target_kind.partition("=")[0], target) != (kind, point):
        return False
    key = f"{kind}@{point}"
    _counts[key] = _counts.get(key, 0) + 1
    return _counts[key] == int(count) if kind in ("", "stall") else _counts[key] >= int(count)


def spends(point: str) -> bool:
    """Whether `TUNER_APP_FAULT=spend@<point>:<n>` and this is the n-th time or later."""
    return _fault("spend", point)


def reached(point: str) -> None:
    """Kills the process with SIGKILL when `TUNER_APP_FAULT=<point>:<n>` and this is the n-th time
    (or sleeps there, with `stall=<seconds>@<point>:<n>`)."""
    if _fault("", point):
        os.kill(os.getpid(), signal.SIGKILL)
    if _fault("stall", point):
        seconds = os.environ["TUNER_APP_FAULT"].partition("@")[0].partition("=")[2]
        time.sleep(float(seconds))


def writing(point: str) -> None:
    """Fails as a full disk would when `TUNER_APP_FAULT=enospc@<point>:<n>`, from the n-th write on."""
    if _fault("enospc", point):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
