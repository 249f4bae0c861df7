"""Reading a space file: finding it, bounding it, and YAML without its silent traps.

`--space` takes a path or the name of a file shipped in `search_spaces/`. Before
YAML sees the text, the file must be a regular file (a folder or a FIFO is named
as such; a FIFO would block a read forever) of at most `MAX_BYTES`: space files
are a few hundred bytes, and a huge one would cost seconds and gigabytes before
any check could refuse it. YAML itself lets a repeated key silently replace the
first; here it is refused, naming both lines.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from tuner_app.errors import SpaceError

#: Folder of the search spaces shipped with the project; `--space deep.yaml`
#: is looked up here when it is not a path to an existing file.
SEARCH_SPACES_DIR = Path(__file__).resolve().parent.parent.parent / "search_spaces"
#: The largest space file read (the shipped ones are under 3 KB).
MAX_BYTES = 64 * 1024


def resolve_space_path(space: str) -> Path:
    """Finds a space file: the path as given, else by name in `search_spaces/`."""
    candidates = [Path(space)]
    if not Path(space).is_absolute() and len(Path(space).parts) == 1:
        candidates.append(SEARCH_SPACES_DIR / space)
        if not space.endswith((".yaml", ".yml")):
            candidates.append(SEARCH_SPACES_DIR / f"{space}.yaml")
    for candidate in candidates:
        if candidate.exists():
            kind = _not_a_file(candidate)
            if kind:
                raise SpaceError(f"--space: '{space}' is {kind}, not a YAML file; give the path of the space file.")
            shown = os.path.relpath(candidate)
            return Path(shown) if not shown.startswith("..") else candidate
    shipped = ", ".join(sorted(p.name for p in SEARCH_SPACES_DIR.glob("*.yaml"))) or "none"
    raise SpaceError(
        f"--space: no such file: '{space}'; give a path to a YAML file or the name of "
        f"one in {SEARCH_SPACES_DIR} ({shipped})."
    )


def _not_a_file(path: Path) -> str | None:
    mode = path.stat().st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    return "not a regular file"


def read_space_file(path: Path) -> str:
    """The text of a space file, checked to be UTF-8 and of a space file's size."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpaceError(f"{path}: is {size / 1024:.0f} KB; a space file is a few hundred bytes (at most "
                             f"{MAX_BYTES // 1024} KB are read); give the YAML space file, not a data file.")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"{path}: cannot be read as a UTF-8 text file ({exc}).") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise _DuplicateKey(f"key '{key}' is given twice, on lines {seen[key]} and {line}; keep one")
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    pass


def load_yaml(text: str, where: str) -> Any:
    """Parses a space file's YAML; any problem is one `SpaceError` sentence naming `where`."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as exc:
        raise SpaceError(f"{where}: {exc}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpaceError(f"{where}: is not valid YAML{at}: {problem}.") from None
