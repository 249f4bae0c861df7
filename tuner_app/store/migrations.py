"""What older versions of tuner_app wrote, read in one place: every other reader sees the current format.

A search's `search.json` says which format its files are in (`"format"`; a search written before
the number existed is format 1). Format 2 differs from 1 in:

* `record.json`: a trial's status spelled as `TrialState` (`COMPLETED`), where format 1 wrote it
  lower-case (`completed`);
* `vocabulary.npz`: the word table's size under `word_table_size` (format 1's first searches:
  `max_tokens`), and each side feature's side (`side_<name>_side`; format 1 had MovieLens's six,
  whose sides are known).

The summary `<name>.json` keeps popularity's entry at the top of `baselines`, as format 1 did (the
first baseline; tools that read summaries rely on it), and every other baseline under its own name:
`summary_baselines` reads that layout.

Readers of those files call the functions here; nothing else knows an older format. New searches
stamp `FORMAT` in their `search.json` (`store.identity`).
"""

from __future__ import annotations

from typing import Any

from tuner_app.space.names import SIDE_FEATURES
from tuner_app.store.states import TrialState

#: The format this version writes.
FORMAT = 2

#: Popularity's keys, at the top of a summary's "baselines".
_POPULARITY_KEYS = ("method", "coverage", "validation", "holdout")


def record_status(value: Any) -> TrialState:
    """A record's status, whichever format wrote it."""
    return TrialState.of(value)


def word_table_size(saved) -> int:
    """The word table's rows in a saved `vocabulary.npz` (their checkpoints hold a table of that many)."""
    return int(saved["word_table_size"] if "word_table_size" in saved else saved["max_tokens"])


def feature_side(saved, name: str) -> str:
    """Which tower a saved side feature feeds ("user" or "item")."""
    key = f"side_{name}_side"
    return str(saved[key]) if key in saved else SIDE_FEATURES[name]


def summary_baselines(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each baseline's entry in a summary, by name."""
    found = summary.get("baselines", {})
    if not isinstance(found, dict):
        return {}
    entries = {"popularity": {k: found[k] for k in _POPULARITY_KEYS if k in found}} if "validation" in found else {}
    entries.update({name: entry for name, entry in found.items() if name not in _POPULARITY_KEYS
                    and isinstance(entry, dict)})
    return entries
