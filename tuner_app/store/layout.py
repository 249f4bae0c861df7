"""Every path of a search on disk, and of an exported model: the one place that spells them.

A search named `<name>` in `<results>`:

    <results>/<name>.csv            ranked trials (report.results_csv)
    <results>/<name>.history.csv    every trial's validated epochs
    <results>/<name>.json           the search's summary: settings, baselines, held-back score
    <results>/<name>.repeats.csv    `repeat`'s seeds
    <results>/<name>.<kind>.png     `report --plot`'s figures
    <results>/<name>.lock           held while a process runs the search (`<name>@<worker>.lock`
                                    for a worker sharing the chief's folder)
    <results>/<name>/               the search's state:
        search.json                 its identity: space text, data and split (store.identity)
        vocabulary.npz              the vocabularies, to export without the data (store.vocabulary)
        oracle.json, tuner0.json    keras-tuner's state (keras-tuner names them itself)
        worker-<id>.log             a --parallel worker's output
        trial_<id>/                 one trial:
            trial.json              keras-tuner's trial state
            record.json             this tool's record (store.records)
            error.txt               the traceback of a trial that raised
            checkpoints/best-<epoch>/, checkpoints/last-<epoch>/
        repeats/trial_<id>/         `repeat`'s runs, trial folders of their own

TensorFlow-free; only `SearchPaths`' listings (`trial_ids`, `trial_states`) look at the disk.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

IDENTITY_FILE = "search.json"
VOCABULARY_FILE = "vocabulary.npz"
ORACLE_FILE = "oracle.json"
TRIAL_STATE_FILE = "trial.json"
RECORD_FILE = "record.json"
ERROR_FILE = "error.txt"
CHECKPOINTS = "checkpoints"
TRIAL_PREFIX = "trial_"
#: The figures of `report --plot`, `<name>.<kind>.png`.
FIGURE_KINDS = ("curves", "hyperparameters", "progress", "importance")
#: Between a search's name and a worker's in the worker's lock file: no search name holds it, so no
#: worker's lock file can be another search's file.
HOLDER_SEPARATOR = "@"

# An exported model's folder: the SavedModel plus these files (items.tsv where items have text of
# their own, beside their ids).
MODEL_DESCRIPTION_FILE = "trial.json"
MODEL_USERS_FILE = "known_users.txt"
MODEL_ITEMS_FILE = "items.tsv"
#: How many titles an exported index returns; `recommend --k` takes the first k.
EXPORT_K = 100
#: What an export's description says it is (`store.outputs.is_export`).
MODEL_FORMAT = "tuner_app export"
#: Everything an export writes in its folder: TensorFlow's SavedModel and the files above.
MODEL_ENTRIES = frozenset({"saved_model.pb", "fingerprint.pb", "variables", "assets", MODEL_DESCRIPTION_FILE,
                           MODEL_USERS_FILE, MODEL_ITEMS_FILE})


def trial_dir(folder: Path, trial_id: str) -> Path:
    """The folder of trial `trial_id` in a folder of trials (a search's, or `repeat`'s)."""
    return Path(folder) / f"{TRIAL_PREFIX}{trial_id}"


def same_trial_id(a: str, b: str) -> bool:
    """Whether two spellings name one trial. keras-tuner pads ids with zeros (`06` in a search of 10
    trials) and a spreadsheet that re-saves the results CSV strips them (`6`); in one search a
    number is one trial."""
    return a == b or (a.isascii() and b.isascii() and a.isdigit() and b.isdigit() and int(a) == int(b))


def spell_trial_id(trial_id: str, known: list[str]) -> str:
    """`trial_id` as the search spells it: the known id of that number, else zero-padded as the known
    ids are (when they all have one width), else as given."""
    match = next((k for k in known if same_trial_id(k, trial_id)), None)
    if match is not None:
        return match
    widths = {len(k) for k in known if k.isascii() and k.isdigit()}
    if trial_id.isascii() and trial_id.isdigit() and len(widths) == 1:
        return trial_id.zfill(widths.pop())
    return trial_id


def checkpoint_name(kind: str, epoch: int) -> str:
    """A checkpoint's path inside its trial folder: `checkpoints/best-0003` or `checkpoints/last-0003`."""
    return f"{CHECKPOINTS}/{kind}-{epoch:04d}"


#: How messages name each kind of thing `kind_of` finds.
KIND_NAMES = {"file": "a file", "folder": "a folder", "FIFO": "a named pipe (FIFO)", "device": "a device or socket"}


def kind_of(path: Path) -> str | None:
    """What is at `path` (links followed): "file" (a regular one), "folder", "FIFO", "device" (or a
    socket), or None when nothing is (or it cannot be looked at)."""
    try:
        mode = Path(path).stat().st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "FIFO" if stat.S_ISFIFO(mode) else "device"


def check_results_dir(folder: Path, flag: str = "--results-dir") -> None:
    """A results folder must be a folder (or not exist yet, to be made)."""
    from tuner_app.errors import ResultsError

    folder = Path(folder)
    for path in (folder, *folder.parents):
        found = kind_of(path)
        if found is not None:
            if found != "folder":
                raise ResultsError(f"{flag} {folder}: {path} is {KIND_NAMES[found]}, not a folder; give a folder for "
                                   "the results (it is made if it does not exist).")
            return


@dataclass(frozen=True)
class SearchPaths:
    """The files of the search `name` in `results_dir` (see the module docstring)."""

    results_dir: Path
    name: str

    @classmethod
    def of_csv(cls, csv_path: str | Path) -> SearchPaths:
        """The search whose results CSV is `csv_path`."""
        csv_path = Path(csv_path)
        return cls(csv_path.parent, csv_path.stem)

    def _beside(self, suffix: str) -> Path:
        return Path(self.results_dir) / f"{self.name}{suffix}"

    @property
    def csv(self) -> Path:
        return self._beside(".csv")

    @property
    def history(self) -> Path:
        return self._beside(".history.csv")

    @property
    def summary(self) -> Path:
        return self._beside(".json")

    @property
    def repeats(self) -> Path:
        return self._beside(".repeats.csv")

    def figure(self, kind: str) -> Path:
        """`<name>.<kind>.png`, a figure of `report --plot` (`FIGURE_KINDS`)."""
        return self._beside(f".{kind}.png")

    def files(self) -> dict[str, Path]:
        """Every path of the search in its results folder, by how messages name it (workers' lock files
        aside: no other search's file can have their names)."""
        return {"results": self.csv, "history": self.history, "summary": self.summary, "repeats": self.repeats,
                **{f"{kind} figure": self.figure(kind) for kind in FIGURE_KINDS},
                "lock file": self.lock(), "state folder": self.state_dir}

    @property
    def outputs(self) -> list[Path]:
        """The result files beside the state folder that a search writes (and --overwrite removes)."""
        return [self.csv, self.history, self.summary]

    def lock(self, holder: str | None = None) -> Path:
        return self._beside(f"{HOLDER_SEPARATOR}{holder}.lock" if holder else ".lock")

    @property
    def state_dir(self) -> Path:
        return Path(self.results_dir) / self.name

    @property
    def identity(self) -> Path:
        return self.state_dir / IDENTITY_FILE

    @property
    def vocabulary(self) -> Path:
        return self.state_dir / VOCABULARY_FILE

    @property
    def oracle(self) -> Path:
        return self.state_dir / ORACLE_FILE

    def trial_dir(self, trial_id: str) -> Path:
        return trial_dir(self.state_dir, trial_id)

    def trial_ids(self) -> list[str]:
        """The ids of the trial folders in the state folder, as keras-tuner spelled them."""
        return sorted(p.name.removeprefix(TRIAL_PREFIX) for p in self.state_dir.glob(f"{TRIAL_PREFIX}*") if p.is_dir())

    def record(self, trial_id: str) -> Path:
        return self.trial_dir(trial_id) / RECORD_FILE

    def trial_states(self) -> list[Path]:
        """keras-tuner's saved state files: the oracle's, the tuner's and every trial's."""
        folder = self.state_dir
        return [*folder.glob("*.json"), *folder.glob(f"{TRIAL_PREFIX}*/{TRIAL_STATE_FILE}")]

    def has_tuner_state(self) -> bool:
        """Whether keras-tuner has saved anything of this search: its oracle or a trial."""
        return self.oracle.exists() or any(self.state_dir.glob(f"{TRIAL_PREFIX}*/{TRIAL_STATE_FILE}"))

    def worker_log(self, worker_id: str) -> Path:
        return self.state_dir / f"worker-{worker_id}.log"

    def repeats_dir(self, trial_id: str) -> Path:
        """The folder of `repeat`'s runs of one trial (each run a trial folder in it)."""
        return trial_dir(self.state_dir / "repeats", trial_id)
