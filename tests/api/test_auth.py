"""The authenticator's key lookups: revocation is seen at once, dead connections are retried."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from api.auth import Authenticator
from services.infra.database import Database
from services.organizations import api_keys
from tests.conftest import make_org


async def test_revoked_key_is_refused_on_the_next_lookup(private_database_url: str) -> None:
    db = Database(private_database_url)
    authenticate = Authenticator(db)
    try:
        org = await make_org(db)
        viewer = await authenticate(org.test_key)
        assert viewer is not None and viewer.organization_id == org.id
        async with db.transaction() as session:
            await api_keys.revoke_key(session, org.test_key)
        assert await authenticate(org.test_key) is None
        assert await authenticate(org.live_key) is not None
    finally:
        await authenticate.dispose()
        await db.dispose()


@pytest.mark.postgres_only
async def test_lookup_survives_connections_killed_by_the_server(private_database_url: str) -> None:
    db = Database(private_database_url)
    authenticate = Authenticator(db)
    try:
        org = await make_org(db)
        for _ in range(5):
            await asyncio.gather(*(authenticate(org.test_key) for _ in range(4)))
            async with db.transaction() as session:
                killed = (
                    await session.execute(
                        sa.text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )
                ).scalar_one()
            assert killed >= 1
            viewer = await authenticate(org.test_key)
            assert viewer is not None and viewer.organization_id == org.id
    finally:
        await authenticate.dispose()
        await db.dispose()
