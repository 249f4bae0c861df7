"""Ctrl-C and SIGTERM during a search: stop cleanly after the current step; twice, at once."""

from __future__ import annotations

import os
import signal
import sys


class StopOnSignal:
    """First SIGINT/SIGTERM: ask `trainer` to stop after the current step. Second: leave at once."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum, frame):
        if self.trainer.stop_requested():
            # Every file is written atomically: leaving now loses only the unfinished epoch.
            print("\nStopped at once; the unfinished epoch is lost. Run the same command to resume.",
                  file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.trainer.request_stop()
        print(
            f"\n{signal.Signals(signum).name}: stopping after the current training step "
            "(press Ctrl-C again to quit at once)...",
            file=sys.stderr, flush=True,
        )

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False
