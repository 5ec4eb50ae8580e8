"""``payouts verify-ledger``: exit 0 when every ledger invariant holds, 1 otherwise."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from api.cli import run_db
from api.settings import Settings
from services.infra.database import Database
from services.ledger.audit import Violation, verify


def verify_ledger(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database) -> list[Violation]:
        async with db.read() as session, session.begin():
            return await verify(session)

    violations: list[Violation] = run_db(settings, work)
    report = {"ok": not violations, "violations": [dataclasses.asdict(v) for v in violations]}
    sys.stdout.write(json.dumps(report) + "\n")
    return 1 if violations else 0
