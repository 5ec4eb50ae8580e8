"""Every table, imported here so Alembic and SQLAlchemy see the whole metadata."""

from sqlmodel import SQLModel

from models.event import Event
from models.idempotency import IdempotencyRecord, IdempotencyStatus
from models.organization import ApiKey, Organization

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "Event",
    "IdempotencyRecord",
    "IdempotencyStatus",
    "Organization",
    "metadata",
]
