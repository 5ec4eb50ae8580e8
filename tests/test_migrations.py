from __future__ import annotations

from alembic import command

from api import migrations


def test_models_match_migrations(database_url: str) -> None:
    """`alembic check` on this run's database (SQLite or PostgreSQL): no drift."""
    command.check(migrations.alembic_config(database_url))
