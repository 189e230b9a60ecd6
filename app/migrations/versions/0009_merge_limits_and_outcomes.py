"""Join the two 0008 revisions (amount guard rails; request outcomes) into one head.

No schema change of its own: both revisions touch different tables and columns.

Revision ID: 0009_merge_limits_and_outcomes
Revises: 0008_h13c, 0008_request_outcomes
Create Date: 2026-12-03 17:15:00
"""

from collections.abc import Sequence

revision: str = "0009_merge_limits_and_outcomes"
down_revision: str | Sequence[str] | None = ("0008_h13c", "0008_request_outcomes")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
