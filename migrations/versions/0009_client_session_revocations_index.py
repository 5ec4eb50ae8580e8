"""a partial index for client-session revocations in the event log

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REVOCATIONS_ONLY = sa.text("type = 'client_sessions.revoked'")


def upgrade() -> None:
    op.create_index(
        "ix_events_client_session_revocations",
        "events",
        ["organization_id", "livemode", "occurred_at"],
        postgresql_where=_REVOCATIONS_ONLY,
        sqlite_where=_REVOCATIONS_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ix_events_client_session_revocations", table_name="events")
