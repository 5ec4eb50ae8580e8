"""The payouts command line: serve, migrate, create-org, revoke-key, export-schema, ..."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from api import migrations
from api.bus import build_event_bus
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
    p.add_argument(
        "--host", default=None, help="address to listen on (default: PAYOUTS_HOST, 127.0.0.1)"
    )
    p.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: PAYOUTS_PORT, 8000)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (default 1); several do not migrate: run `payouts migrate` first",
    )
    p.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not apply migrations first (the database must already be migrated)",
    )
    p.add_argument(
        "--allow-in-process-bus",
        action="store_true",
        help="allow --workers N with the in-process event bus: live updates then reach only "
        "subscribers on the worker that published them (benchmarks, metrics tests)",
    )


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    host = args.host or settings.host
    port = args.port or settings.port
    # Workers re-read settings from the environment: pass the address on that way.
    os.environ["PAYOUTS_HOST"] = host
    os.environ["PAYOUTS_PORT"] = str(port)
    settings = Settings()
    if args.workers > 1 and settings.event_bus_kind == "memory" and not args.allow_in_process_bus:
        print(
            f"payouts serve: --workers {args.workers} needs an event bus that reaches every "
            "worker, and this configuration uses the in-process one (PAYOUTS_EVENT_BUS=memory, "
            "the default on SQLite): live updates would silently miss events published by "
            "other workers. Run one worker, or use PostgreSQL (PAYOUTS_DATABASE_URL=postgresql"
            "+asyncpg://..., whose default bus is LISTEN/NOTIFY). --allow-in-process-bus overrides this.",
            file=sys.stderr,
        )
        return 2
    problem = startup_problem(settings)
    if problem is not None:
        print(f"payouts: cannot start: {problem}", file=sys.stderr)
        return 2
    # Several workers never migrate by themselves: deployments migrate once per release.
    if not args.no_migrate and (settings.is_sqlite or args.workers == 1):
        migrations.upgrade(settings.database_url)
    behind = _migration_gap(settings)
    if behind is not None:
        print(f"payouts serve: {behind}; run `.venv/bin/payouts migrate` first.", file=sys.stderr)
        return 2
    try:
        listener = _listen(host, port)
    except OSError as error:
        print(
            f"payouts serve: cannot listen on {host}:{port} ({error.strerror}). Another server "
            "may be running there; choose another port with --port PORT or PAYOUTS_PORT=PORT.",
            file=sys.stderr,
        )
        return 2
    configure_logging(
        settings.log_level,
        fmt=settings.log_format,
        secrets=[settings.secret_key, settings.sandbox_webhook_secret],
    )
    _announce(settings, host, port)
    config = uvicorn.Config(
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
    if args.workers > 1:
        Multiprocess(config, sockets=[listener]).run()
        return 0
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])
    return 0 if server.started else 3  # as uvicorn.run: the app failed to start


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced (as uvicorn binds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def _migration_gap(settings: Settings) -> str | None:
    """Why the database is not at the newest migration, or None when it is."""

    async def current(db: Database) -> str | None:
        async with db.read() as session:
            try:
                result = await session.execute(sa.text("SELECT version_num FROM alembic_version"))
            except (sa.exc.ProgrammingError, sa.exc.OperationalError) as error:
                if "alembic_version" not in str(error):
                    raise
                return None
            return result.scalar_one_or_none()

    revision = run_db(settings, current)
    head = migrations.head_revision()
    if revision == head:
        return None
    if revision is None:
        return "the database has no tables yet (never migrated)"
    return f"the database is at migration {revision}, not the newest ({head})"


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
        print('Then follow "Try it in GraphiQL" in README.md.', flush=True)
    else:
        print(
            "Use an existing key, or make one with: .venv/bin/payouts create-org --name NAME",
            flush=True,
        )


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    migrations.upgrade(settings.database_url)
    print(json.dumps({"migrated": True, "head": migrations.head_revision()}))
    return 0


def _create_org_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="the organization's name (1 to 200 characters)")
    p.add_argument(
        "--country", default="US", help="its ISO 3166-1 alpha-2 country code (default US)"
    )


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
        bus = None
        if settings.event_bus_kind == "postgres":
            # The revocation event is announced (NOTIFY) after the commit: every server
            # process closes the key's open WebSockets at once (else within their periodic
            # check). Stopping the bus sends what it still holds before the command exits.
            db.bus = bus = build_event_bus(settings)
        try:
            async with db.transaction() as session:
                return (await api_keys.revoke_key(session, args.key)).id
        finally:
            if bus is not None:
                await bus.stop()

    print(json.dumps({"revoked": run_db(settings, work)}))
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output", default=None, help="write the SDL to this file instead of standard output"
    )


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
    parser = argparse.ArgumentParser(
        prog="payouts",
        description="The payouts GraphQL API server and its maintenance commands.",
        epilog="Installed in the virtualenv by `make install`: run it as .venv/bin/payouts. "
        "Settings come from PAYOUTS_* environment variables (docs/configuration.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, arguments, help_text) in commands().items():
        arguments(sub.add_parser(name, help=help_text, description=help_text))
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
