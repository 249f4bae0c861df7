"""Every error class of the project.

The command line catches only `TunerAppError`: it prints the message as one line
to stderr and exits with the error's `exit_code` (2 for bad input, 1 for a run
that failed, 130 for a search the user stopped). Any other exception is a bug and
shows its traceback.

`TrialFailed`, `TrialEndedElsewhere` and `StopRequested` are not for the user: they
carry a trial's end from the trainer to the tuner, which records it. The one error class that is not
here is `tuning.tuner.SearchStopped`: it must be keras-tuner's own `FatalError` to
get through keras-tuner's loop, and this module never imports keras-tuner.
"""

from __future__ import annotations


class TunerAppError(Exception):
    """Base class: a message meant for the user, and an exit status."""

    exit_code = 1


class SpaceError(TunerAppError):
    """The search space file (or a command-line override of it) is invalid."""

    exit_code = 2


class DataError(TunerAppError):
    """The data source cannot be read or is not in a supported format."""

    exit_code = 2


class ResultsError(TunerAppError):
    """A results file or search directory is not what this tool wrote."""

    exit_code = 2


class SearchMismatch(TunerAppError):
    """Resuming with a changed space or different data."""

    exit_code = 2


class SearchLocked(TunerAppError):
    """Another process is running this search."""

    exit_code = 2


class DistributeError(TunerAppError):
    """A distributed role is misconfigured, or its chief is unreachable or runs another search."""

    exit_code = 2


class SearchError(TunerAppError):
    """A search ran but could not produce a result (for example no trial completed)."""

    exit_code = 1


class DiskFull(TunerAppError):
    """A write failed for want of space: the search stops, and resumes once space is freed."""

    exit_code = 1


class Interrupted(TunerAppError):
    """The user stopped a command (Ctrl-C, SIGTERM); what it had finished is kept."""

    exit_code = 130


class SearchInterrupted(Interrupted):
    """The user stopped the search; it can be resumed."""


class TrialFailed(Exception):
    """The trial cannot produce a result (NaN loss, no validated epoch, repeated deaths)."""


class TrialEndedElsewhere(Exception):
    """Another process ended the trial this one was running (a distributed trial handed on while its
    worker was frozen): this one stops without writing, and the first end stands."""


class StopRequested(Exception):
    """Training stopped because the user asked the search to stop."""
