"""Files that hold personal data or secrets are readable by their owner only.

The rule is shared with the sandboxes' state files, so it lives below the app
in integrations/files.py (integrations never import the app); the database
set-up reads it from here.
"""

from integrations.files import PRIVATE, SQLITE_COMPANIONS, private_sqlite_file

__all__ = ["PRIVATE", "SQLITE_COMPANIONS", "private_sqlite_file"]
