"""``payouts`` command line: serve, migrate, create-org, revoke-key, export-schema, ..."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from api import migrations
from api.graphiql import missing_assets
from api.logging import configure_logging
from api.settings import Settings
from services.errors import DomainError
from services.infra.database import Database
from services.organizations import api_keys

Command = Callable[[argparse.Namespace, Settings], int]
Arguments = Callable[[argparse.ArgumentParser], None]


def _no_args(p: argparse.ArgumentParser) -> None:
    return None


def run_db(settings: Settings, work: Callable[[Database], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    host = args.host or settings.host
    port = args.port or settings.port
    # Workers re-read settings from the environment: pass the address on that way.
    os.environ["PAYOUTS_HOST"] = host
    os.environ["PAYOUTS_PORT"] = str(port)
    settings = Settings()
    problem = startup_problem(settings)
    if problem is not None:
        print(f"payouts: cannot start: {problem}", file=sys.stderr)
        return 2
    if not args.no_migrate and (settings.is_sqlite or args.workers == 1):
        migrations.upgrade(settings.database_url)
    _announce(settings, host, port)
    configure_logging(
        settings.log_level,
        fmt=settings.log_format,
        secrets=[settings.secret_key, settings.sandbox_webhook_secret],
    )
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        ws_max_size=settings.ws_max_message_bytes,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        log_config=None,  # our JSON handler (api.logging) formats and redacts uvicorn's lines
        access_log=False,  # replaced by api.metrics.RequestObserver (no query strings logged)
        proxy_headers=False,
    )
    return 0


def startup_problem(settings: Settings) -> str | None:
    """What would stop every worker from starting (a bad trusted document, a development
    secret in production shape), said once and clearly before any worker starts."""
    from api.app import ConfigurationError, build_graphql_schema, check_production_secrets
    from api.trusted_documents import ManifestError

    try:
        check_production_secrets(settings)
        build_graphql_schema(settings)
    except (ConfigurationError, ManifestError) as error:
        return str(error)
    return None


def _announce(settings: Settings, host: str, port: int) -> None:
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host}:{port}/graphql"

    async def ensure_demo(db: Database) -> str | None:
        async with db.transaction() as session:
            if not settings.demo_org_on_start or await api_keys.organization_count(session) > 0:
                return None
            created = await api_keys.create_organization(session, name="Demo Organization")
            return created.test_key

    test_key = run_db(settings, ensure_demo)
    print(f"Payouts GraphQL API: {url}", flush=True)
    if settings.graphiql:
        print(f"GraphiQL:            open {url} in a browser", flush=True)
        missing = missing_assets()
        if missing:
            print(f"GraphiQL assets missing ({', '.join(missing)}): run `npm install`", flush=True)
    if test_key:
        print("Created 'Demo Organization'. Its test key (shown once, keep it):", flush=True)
        print(f"    {test_key}", flush=True)
        print(f'In GraphiQL set the header: {{"x-api-key": "{test_key}"}}', flush=True)
    else:
        print("Use an existing key, or make one with: payouts create-org --name NAME", flush=True)


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    migrations.upgrade(settings.database_url)
    print(json.dumps({"migrated": True, "head": migrations.head_revision()}))
    return 0


def _create_org_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True)
    p.add_argument("--country", default="US")


def create_org(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database) -> api_keys.NewOrganization:
        async with db.transaction() as session:
            return await api_keys.create_organization(session, name=args.name, country=args.country)

    created = run_db(settings, work)
    print(
        json.dumps(
            {
                "organizationId": created.organization.id,
                "testKey": created.test_key,
                "liveKey": created.live_key,
            }
        )
    )
    return 0


def _revoke_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", help="the API key itself, or its id (key_...)")


def revoke_key(args: argparse.Namespace, settings: Settings) -> int:
    async def work(db: Database) -> str:
        async with db.transaction() as session:
            return (await api_keys.revoke_key(session, args.key)).id

    print(json.dumps({"revoked": run_db(settings, work)}))
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default=None)


def export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from api.schema import export_sdl

    sdl = export_sdl()
    if args.output:
        Path(args.output).write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def commands() -> dict[str, tuple[Command, Arguments, str]]:
    """Every command of ``payouts``: name → (function, its arguments, help)."""
    # Imported here: the command modules use ``run_db`` from this one.
    from api.cli_ledger import verify_ledger
    from api.cli_listen import listen, listen_args

    return {
        "serve": (serve, _serve_args, "run the HTTP/WebSocket server"),
        "migrate": (migrate, _no_args, "apply database migrations"),
        "create-org": (
            create_org,
            _create_org_args,
            "create an organization and print its keys as JSON",
        ),
        "revoke-key": (revoke_key, _revoke_args, "revoke an API key"),
        "export-schema": (
            export_schema,
            _export_args,
            "print the GraphQL SDL (or write it with --output)",
        ),
        "verify-ledger": (
            verify_ledger,
            _no_args,
            "check every ledger invariant; exit non-zero on any violation",
        ),
        "listen": (
            listen,
            listen_args,
            "forward the organization's webhook events to a local URL (development)",
        ),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payouts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, arguments, help_text) in commands().items():
        arguments(sub.add_parser(name, help=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        return commands()[args.command][0](args, settings)
    except DomainError as error:
        print(json.dumps({"error": error.code, "message": error.message}), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
