"""The one way services read tenant data: every query is scoped to ``(organization_id,
livemode)``, and a row about to change is read under ``locked()``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import col


class Tenant(Protocol):
    """Who is asking, and in which mode (an organization's test and live data never mix):
    a ``Viewer``, a published event, or a ``TenantId``."""

    @property
    def organization_id(self) -> str: ...

    @property
    def livemode(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class TenantId:
    organization_id: str
    livemode: bool


def in_scope(model: Any, tenant: Tenant) -> sa.ColumnElement[bool]:
    """The tenant condition for a table with ``organization_id`` and ``livemode`` columns."""
    return sa.and_(
        col(model.organization_id) == tenant.organization_id,
        col(model.livemode) == tenant.livemode,
    )


def scoped(model: Any, tenant: Tenant, *where: Any) -> sa.Select[Any]:
    """``SELECT model`` limited to the tenant's rows (and any further conditions)."""
    return sa.select(model).where(in_scope(model, tenant), *where)


def locked(stmt: sa.Select[Any], *, skip_locked: bool = False) -> sa.Select[Any]:
    """The statement with a row lock (``FOR UPDATE [SKIP LOCKED]``) on PostgreSQL.

    SQLAlchemy's SQLite compiler leaves the clause out; there every write transaction holds
    the database's one write lock from ``BEGIN IMMEDIATE`` (see ``services.infra.database``).
    """
    return stmt.with_for_update(skip_locked=skip_locked)
