"""Seed data through the project's own services (so rows look exactly like real ones)."""

from __future__ import annotations

from dataclasses import dataclass

from services import api_keys
from services.database import Database


@dataclass(frozen=True)
class SeededOrg:
    organization_id: str
    test_key: str
    live_key: str


async def organizations(url: str, count: int, *, name: str = "Bench") -> list[SeededOrg]:
    db = Database(url)
    try:
        seeded = []
        async with db.transaction() as session:
            for index in range(count):
                created = await api_keys.create_organization(session, name=f"{name} {index}")
                seeded.append(
                    SeededOrg(created.organization.id, created.test_key, created.live_key)
                )
        return seeded
    finally:
        await db.dispose()
