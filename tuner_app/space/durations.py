"""Durations as people write them: `90s`, `30m`, `2h`, `1h30m`, `1.5h`, or a number of seconds."""

from __future__ import annotations

import re

from tuner_app.errors import SpaceError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
#: The longest time budget taken: a year (anything longer is a typo).
MAX_SECONDS = 366 * 86_400.0


def parse_duration(value: object, where: str) -> float:
    """Seconds in `value`: a positive number of seconds, or text such as `45m`, `2h`, `1h30m`.

    Raises:
        SpaceError: one sentence naming `where`, what is taken and what was given.
    """
    seconds = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif text and re.fullmatch(f"(?:{_PART.pattern})+", text):
            seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))
    if seconds is None or not 0 < seconds <= MAX_SECONDS:
        raise SpaceError(f"{where} must be a duration such as 90s, 30m, 2h or 1h30m (or seconds, more than 0 and at "
                         f"most a year); got {value!r}.")
    return seconds


def format_duration(seconds: float) -> str:
    """`1h05m`, `12m30s`, `45s`."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
