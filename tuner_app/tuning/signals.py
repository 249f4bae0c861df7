"""Ctrl-C and SIGTERM during a search: stop cleanly after the current step; twice, at once.

Before a search's trials begin (`StopOnSignal`), SIGTERM is made a KeyboardInterrupt, as Ctrl-C
is (`sigterm_as_interrupt`): the command line says how to resume and exits with status 130.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def sigterm_as_interrupt(active: bool = True) -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt("SIGTERM") in the block (when `active`); the handler before is put back."""
    if not active or threading.current_thread() is not threading.main_thread():  # signals reach the main one
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class StopToken:
    """The user's request that a search stop: set by a signal (`StopOnSignal`), read by the trainer
    after each step, by the tuner's loop before each trial and by a worker waiting for its chief."""

    def __init__(self):
        self._event = threading.Event()

    def request(self) -> None:
        self._event.set()

    def requested(self) -> bool:
        return self._event.is_set()


class StopOnSignal:
    """First SIGINT/SIGTERM: request a stop after the current step (`token`). Second: leave at once."""

    def __init__(self, token: StopToken):
        self.token = token
        self.previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum, frame):
        if self.token.requested():
            # Every file is written atomically: leaving now loses only the unfinished epoch.
            print("\nStopped at once; the unfinished epoch is lost. Run the same command to resume.",
                  file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.token.request()
        print(
            f"\n{signal.Signals(signum).name}: stopping after the current training step "
            "(press Ctrl-C again to quit at once)...",
            file=sys.stderr, flush=True,
        )

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False
