"""Files that hold personal data or secrets are readable by their owner only.

The databases hold names, national ids and password hashes; SQLite creates a
new file with the process's umask (usually 0644, readable by every local
user). So the file is created 0600 before SQLite opens it, whatever the
umask, and SQLite gives its ``-wal``, ``-shm`` and ``-journal`` files the
database file's own mode. Files left by an earlier version are tightened.

The app's database and the sandboxes' state files share the rule, so it
lives here, below both.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE = 0o600
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_sqlite_file(database: str | os.PathLike[str]) -> None:
    """Create the SQLite file ``database`` 0600 if missing; make it and its companions 0600."""
    name = os.fspath(database)
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    # Only a file that is not there yet is opened, and only to create it: closing
    # any descriptor of a database file drops every POSIX lock this process holds
    # on it, so opening the database of a live connection would undo SQLite's
    # locking (and another process would then write beside it).
    if not path.exists():
        # A missing folder: SQLite says so itself; created meanwhile by another process: theirs.
        with contextlib.suppress(FileNotFoundError, FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        # Not ours to change (another user's file): SQLite opens it as it is.
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if companion.stat().st_mode & 0o077:
                companion.chmod(PRIVATE)
