"""The project's own error classes.

The command line catches only `TunerAppError`: it prints the message as one line
to stderr and exits with the error's `exit_code` (2 for bad input, 1 for a run
that failed). Any other exception is a bug and shows its traceback.
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


class SearchError(TunerAppError):
    """A search ran but could not produce a result (for example no trial completed)."""

    exit_code = 1
