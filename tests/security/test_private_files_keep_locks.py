"""Making a database private never disturbs SQLite's locks on it.

Closing any descriptor of a file drops every POSIX lock the process holds on
it. Each new pooled connection makes its database private first, so opening
the file there would release the write lock a live connection holds, and
another process could write beside it (seen as ``disk I/O error``).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from app.files import private_sqlite_file

TRY_WRITE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0)
try:
    conn.execute("BEGIN IMMEDIATE")
except sqlite3.OperationalError as e:
    print("locked" if "locked" in str(e) else f"error: {e}")
else:
    print("got the write lock")
"""


def other_process_tries_to_write(db: Path) -> str:
    out = subprocess.run([sys.executable, "-c", TRY_WRITE, str(db)], capture_output=True, text=True,
                         timeout=30, check=True)
    return out.stdout.strip()


def test_a_held_write_lock_survives_making_the_file_private(tmp_path: Path) -> None:
    db = tmp_path / "consultpay.db"
    private_sqlite_file(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")  # rollback journal: the write lock is on the file itself
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    assert other_process_tries_to_write(db) == "locked"
    # What a new pooled connection does before it opens the database.
    private_sqlite_file(db)
    assert other_process_tries_to_write(db) == "locked"
    holder.execute("COMMIT")
    assert other_process_tries_to_write(db) == "got the write lock"
    assert db.stat().st_mode & 0o777 == 0o600
