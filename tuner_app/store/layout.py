"""Every path of a search on disk, and of an exported model: the one place that spells them.

A search named `<name>` in `<results>`:

    <results>/<name>.csv            ranked trials (report.results_csv)
    <results>/<name>.history.csv    every trial's validated epochs
    <results>/<name>.json           the search's summary: settings, baselines, held-back score
    <results>/<name>.repeats.csv    `repeat`'s seeds
    <results>/<name>.<kind>.png     `report --plot`'s figures
    <results>/<name>.lock           held while a process runs the search (`<name>.<worker>.lock`
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

TensorFlow-free; nothing here touches the disk.
"""

from __future__ import annotations

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

# An exported model's folder: the SavedModel plus these files (items.tsv where items have text of
# their own, beside their ids).
MODEL_DESCRIPTION_FILE = "trial.json"
MODEL_USERS_FILE = "known_users.txt"
MODEL_ITEMS_FILE = "items.tsv"
#: What an export's description says it is (`store.outputs.is_export`).
MODEL_FORMAT = "tuner_app export"
#: Everything an export writes in its folder: TensorFlow's SavedModel and the files above.
MODEL_ENTRIES = frozenset({"saved_model.pb", "fingerprint.pb", "variables", "assets", MODEL_DESCRIPTION_FILE,
                           MODEL_USERS_FILE, MODEL_ITEMS_FILE})


def trial_dir(folder: Path, trial_id: str) -> Path:
    """The folder of trial `trial_id` in a folder of trials (a search's, or `repeat`'s)."""
    return Path(folder) / f"{TRIAL_PREFIX}{trial_id}"


def checkpoint_name(kind: str, epoch: int) -> str:
    """A checkpoint's path inside its trial folder: `checkpoints/best-0003` or `checkpoints/last-0003`."""
    return f"{CHECKPOINTS}/{kind}-{epoch:04d}"


def check_results_dir(folder: Path, flag: str = "--results-dir") -> None:
    """A results folder must be a folder (or not exist yet, to be made)."""
    from tuner_app.errors import ResultsError

    folder = Path(folder)
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                raise ResultsError(f"{flag} {folder}: {path} is a file, not a folder; give a folder for the "
                                   "results (it is made if it does not exist).")
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
        """`<name>.<kind>.png`, a figure of `report --plot`."""
        return self._beside(f".{kind}.png")

    @property
    def outputs(self) -> list[Path]:
        """The result files beside the state folder that a search writes (and --overwrite removes)."""
        return [self.csv, self.history, self.summary]

    def lock(self, holder: str | None = None) -> Path:
        return self._beside(f".{holder}.lock" if holder else ".lock")

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
