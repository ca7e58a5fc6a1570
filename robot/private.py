"""Files that may hold personal data (the database, recordings, logs, rendered prompts) are
for the robot's own user alone: folders it creates are 0700 and files 0600, whatever the
process umask."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Create `path` and any missing parents as 0700 folders (existing ones are left alone)."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another worker made it just now
            os.mkdir(folder, DIRECTORY_MODE)
            os.chmod(folder, DIRECTORY_MODE)  # not widened by the umask; narrowed if the umask is stricter
    return path


def private_file(path: str | Path, *, truncate: bool = False) -> Path:
    """Make sure `path` exists as a 0600 file before a library opens it by name (SQLite,
    pjmedia's WAV writer), so it is never created readable by others."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
    os.close(os.open(path, flags, FILE_MODE))
    tighten(path)
    return path


def tighten(path: str | Path) -> None:
    """Take away group and other access from an existing file (one made by an older release)."""
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & ~0o077)


def open_private_append(path: str | Path) -> int:
    """A file descriptor to append to `path`, created 0600 if missing (a log file)."""
    private_dir(Path(path).parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    tighten(path)
    return fd
