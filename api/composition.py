"""The composition root: settings → ``AppServices``; every wiring decision in one place."""

from __future__ import annotations

from api.jobs import payout_policy
from api.providers import build_registry
from api.settings import Settings
from services.app_services import AppServices
from services.infra.database import Database
from services.infra.faults import FaultPoint, Faults


def build_services(settings: Settings, db: Database) -> AppServices:
    return AppServices(
        database=db,
        providers=build_registry(settings, db),
        secret_key=settings.secret_key,
        payout_policy=payout_policy(settings),
        faults=Faults(
            frozenset({FaultPoint.AFTER_PAYOUT_COMMIT})
            if settings.fault_kill_after_payout_commit
            else frozenset()
        ),
    )
