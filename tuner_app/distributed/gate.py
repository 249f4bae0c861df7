"""What the chief's oracle adds for distributed workers (`WorkerGateMixin`).

* A gate: a worker's tuner id carries the fingerprint of its search space, data
  and split (`<worker>#<fingerprint>`); a worker of another search is refused
  rather than given trials.
* Requeueing the trials of workers that went silent, and forgetting silent
  workers that held no trial (keras-tuner's chief waits for both forever,
  issues #254, #344). A worker is heard from with every call about its trial,
  its heartbeat included (`get_trial`, see `distributed.worker.Heartbeat`), so
  only a worker that died or froze goes silent, however long its epochs.
* A trial ends once: the first end a worker reports is kept, even from a worker
  whose trial was handed on; the trial then leaves the queue and every worker
  that still holds it, and later reports of it change nothing (keras-tuner would
  run the ended trial again, and a worker holding it would get it back forever).
* `exhausted`: the oracle has handed out its last trial. Workers are then kept
  (told to wait, IDLE) rather than stopped while other workers still run
  trials: one of those may die, and its trial must find a live worker when it is
  requeued.

Mixed in before `tuning.oracles`' classes; a local search's oracle has it too and
never uses it (`expected_fingerprint` stays None).
"""

from __future__ import annotations

import functools
import time

from keras_tuner.engine import trial as trial_module

from tuner_app import faults
from tuner_app.distributed.roles import CHIEF_ID, FINGERPRINT_SEPARATOR, worker_name
from tuner_app.tuning.kt_internals import holding, retry_queue


def guarded(method):
    """A synchronized oracle method (see `holding`) that also keeps its error for the chief's loop:
    raised in a gRPC thread, it would reach only the worker that called."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with holding(self):
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                self.fatal = self.fatal or exc
                raise

    return wrapper


class WorkerGateMixin:
    """See the module docstring."""

    #: The fingerprint workers must carry; None accepts every tuner id (local searches).
    expected_fingerprint: str | None = None
    #: The first error an oracle call raised (too many failed trials in a row, a full disk).
    fatal: Exception | None = None
    #: The search's `tuning.budget.TimeBudget` (None: no limit): once it is spent, no trial is handed
    #: out and every running trial is told to stop at its next validated epoch.
    budget = None

    def __init__(self, *args, **kwargs):
        self.last_seen: dict[str, float] = {}
        self.refused: dict[str, str] = {}
        self.exhausted = False
        super().__init__(*args, **kwargs)

    @guarded
    def create_trial(self, tuner_id):
        name, _, fingerprint = tuner_id.partition(FINGERPRINT_SEPARATOR)
        if self.expected_fingerprint and CHIEF_ID not in tuner_id and fingerprint != self.expected_fingerprint:
            # A worker of another search: give it nothing. STOPPED ends its loop; the
            # search itself goes on (its end is decided by `exhausted`, not this).
            self.refused[name] = fingerprint
            return trial_module.Trial(self.get_space(), status=trial_module.TrialStatus.STOPPED)
        self.last_seen[tuner_id] = time.monotonic()
        if self._budget_spent() and tuner_id not in self.ongoing_trials:
            self.tuner_ids.add(tuner_id)  # as keras-tuner does, so that the STOPPED below lets it go
            trial = trial_module.Trial(self.get_space(), status=trial_module.TrialStatus.STOPPED)
        else:
            trial = super().create_trial(tuner_id)
        if trial.status == trial_module.TrialStatus.STOPPED:
            self.exhausted = True
            if any(other != tuner_id for other in self.ongoing_trials):
                # Others still train: keep this worker (it waits and asks again, see
                # distributed.worker) until their trials have ended.
                self.tuner_ids.add(tuner_id)
                return trial_module.Trial(self.get_space(), status=trial_module.TrialStatus.IDLE)
            self.tuner_ids.discard(tuner_id)
        return trial

    def _budget_spent(self) -> bool:
        return self.budget is not None and self.budget.exhausted()

    def _heard_from(self, trial_id: str) -> None:
        for tuner_id, trial in self.ongoing_trials.items():
            if trial.trial_id == trial_id:
                self.last_seen[tuner_id] = time.monotonic()

    def has_ended(self, trial_id: str) -> bool:
        return trial_id in self.end_order

    @guarded
    def get_trial(self, trial_id):
        self._heard_from(trial_id)  # a worker's heartbeat
        return super().get_trial(trial_id)

    @guarded
    def update_trial(self, trial_id, metrics, step=0):
        self._heard_from(trial_id)
        if self.has_ended(trial_id):
            # Ended already (a worker it was handed on to, or its first worker, finished it): its
            # figures stay those of that end; the ENDED status tells the caller to stop.
            return self.trials[trial_id]
        trial = super().update_trial(trial_id, metrics, step=step)
        if self.budget is not None and faults.spends("report"):
            self.budget.spend_all()
        if self._budget_spent():  # the trial ends at this epoch; the answer says so, the trial stays as it is
            return trial_module.Trial(trial.hyperparameters, trial_id=trial_id,
                                      status=trial_module.TrialStatus.STOPPED)
        return trial

    @guarded
    def end_trial(self, trial):
        self._heard_from(trial.trial_id)
        if not self.has_ended(trial.trial_id):
            super().end_trial(trial)
        # Whoever still holds it (it was handed on) is free, and it is not run again.
        for tuner_id, held in list(self.ongoing_trials.items()):
            if held.trial_id == trial.trial_id:
                self.ongoing_trials.pop(tuner_id)
        queue = retry_queue(self)
        if trial.trial_id in queue:
            queue[:] = [t for t in queue if t != trial.trial_id]
            self.save()

    @guarded
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
                retry_queue(self).append(trial.trial_id)
                requeued.append((worker_name(tuner_id), trial.trial_id))
        for tuner_id in sorted(self.tuner_ids - set(self.ongoing_trials)):
            if now - self.last_seen.setdefault(tuner_id, now) > timeout:
                self.tuner_ids.discard(tuner_id)
                requeued.append((worker_name(tuner_id), None))
        if any(trial_id is not None for _, trial_id in requeued):
            self.save()
        return requeued

    def finished(self) -> bool:
        """Nothing left to hand out (or the time budget spent) or running, and every worker has been told to stop.

        With the budget spent, trials waiting in the queue stay there: a larger budget runs them.
        """
        queue_done = not retry_queue(self) or self._budget_spent()
        return self.exhausted and not self.ongoing_trials and queue_done and not self.tuner_ids
