"""keras-tuner's oracles, with what a long or distributed search needs on top.

The algorithms are keras-tuner's own (Hyperband, Bayesian optimization,
random and grid search). `SearchOracleMixin` adds:

* atomic state files: keras-tuner writes oracle.json and trial.json in place,
  so a kill mid-write would leave a file no reload can read;
* which worker ran each trial (kept in the oracle's state, for the CSV);
* a gate for distributed workers: a worker's tuner id carries the
  fingerprint of its search space, data and split (`<worker>#<fingerprint>`);
  a worker of another search is refused rather than given trials;
* requeueing the trials of workers that went silent, and forgetting silent
  workers that held no trial (keras-tuner's chief waits for both forever,
  issues #254, #344);
* `exhausted`: the oracle has handed out its last trial;
* workers are kept (told to wait, IDLE) rather than stopped while other
  workers still run trials: one of those may die, and its trial must find a
  live worker when it is requeued.
"""

from __future__ import annotations

import os
import time

import keras_tuner as kt
from keras_tuner.src.engine import trial as trial_module
from keras_tuner.src.engine.oracle import synchronized

from tuner_app import storage

#: Separates a worker's name from its search fingerprint in its keras-tuner tuner id.
FINGERPRINT_SEPARATOR = "#"


def worker_name(tuner_id: str) -> str:
    return tuner_id.split(FINGERPRINT_SEPARATOR, 1)[0]


class SearchOracleMixin:
    """See the module docstring. Mixed in before a keras-tuner oracle class."""

    #: The fingerprint workers must carry; None accepts every tuner id (local searches).
    expected_fingerprint: str | None = None

    def __init__(self, *args, **kwargs):
        self._mixin_init()
        super().__init__(*args, **kwargs)

    def _mixin_init(self):
        # Also called from get_state: keras-tuner's constructors save state early.
        if not hasattr(self, "trial_workers"):
            self.trial_workers: dict[str, str] = {}
            self.last_seen: dict[str, float] = {}
            self.refused: dict[str, str] = {}
            self.exhausted = False

    # -- state -----------------------------------------------------------------------
    def save(self):
        storage.write_json_atomic(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        storage.write_json_atomic(path, trial.get_state())

    def get_state(self):
        state = super().get_state()
        state["tuner_app_trial_workers"] = dict(self.trial_workers)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.trial_workers = dict(state.get("tuner_app_trial_workers", {}))

    # -- trials ----------------------------------------------------------------------
    @synchronized
    def create_trial(self, tuner_id):
        name, _, fingerprint = tuner_id.partition(FINGERPRINT_SEPARATOR)
        if self.expected_fingerprint and "chief" not in tuner_id and fingerprint != self.expected_fingerprint:
            # A worker of another search: give it nothing. STOPPED ends its loop; the
            # search itself goes on (its end is decided by `exhausted`, not this).
            self.refused[name] = fingerprint
            return trial_module.Trial(self.get_space(), status=trial_module.TrialStatus.STOPPED)
        self.last_seen[tuner_id] = time.monotonic()
        trial = super().create_trial(tuner_id)
        if trial.status == trial_module.TrialStatus.RUNNING:
            self.trial_workers[trial.trial_id] = name
        elif trial.status == trial_module.TrialStatus.STOPPED:
            self.exhausted = True
            if any(other != tuner_id for other in self.ongoing_trials):
                # Others still train: keep this worker (it waits and asks again, see
                # distribute.patch_idle_wait) until their trials have ended.
                self.tuner_ids.add(tuner_id)
                return trial_module.Trial(self.get_space(), status=trial_module.TrialStatus.IDLE)
        return trial

    @synchronized
    def update_trial(self, trial_id, metrics, step=0):
        for tuner_id, trial in self.ongoing_trials.items():
            if trial.trial_id == trial_id:
                self.last_seen[tuner_id] = time.monotonic()
        return super().update_trial(trial_id, metrics, step=step)

    @synchronized
    def end_trial(self, trial):
        for tuner_id, ongoing in self.ongoing_trials.items():
            if ongoing.trial_id == trial.trial_id:
                self.last_seen[tuner_id] = time.monotonic()
        return super().end_trial(trial)

    @synchronized
    def requeue_silent(self, timeout: float) -> list[tuple[str, str | None]]:
        """Acts on workers silent for `timeout` seconds.

        A silent worker's trial goes to the next worker that asks. A silent
        worker that held no trial (it died between two trials) is forgotten:
        the chief waits for every worker it knows to be told to stop, and a
        dead one never asks again.

        Returns:
            (worker, trial id) pairs: the trials requeued, and None as the
            trial id of each worker forgotten.
        """
        now = time.monotonic()
        requeued = []
        for tuner_id, trial in list(self.ongoing_trials.items()):
            seen = self.last_seen.setdefault(tuner_id, now)
            if now - seen > timeout:
                self.ongoing_trials.pop(tuner_id)
                self.tuner_ids.discard(tuner_id)
                self._retry_queue.append(trial.trial_id)
                requeued.append((worker_name(tuner_id), trial.trial_id))
        for tuner_id in sorted(self.tuner_ids - set(self.ongoing_trials)):
            if now - self.last_seen.setdefault(tuner_id, now) > timeout:
                self.tuner_ids.discard(tuner_id)
                requeued.append((worker_name(tuner_id), None))
        if any(trial_id is not None for _, trial_id in requeued):
            self.save()
        return requeued

    def finished(self) -> bool:
        """Nothing left to hand out or running, and every worker has been told to stop."""
        return self.exhausted and not self.ongoing_trials and not self._retry_queue and not self.tuner_ids


class HyperbandOracle(SearchOracleMixin, kt.oracles.HyperbandOracle):
    pass


class BayesianOptimizationOracle(SearchOracleMixin, kt.oracles.BayesianOptimizationOracle):
    pass


class RandomSearchOracle(SearchOracleMixin, kt.oracles.RandomSearchOracle):
    pass


class GridSearchOracle(SearchOracleMixin, kt.oracles.GridSearchOracle):
    pass
