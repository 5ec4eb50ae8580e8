"""The real app (settings, database, event bus, lifespan) serving the throwaway live schema of
``tests/support/live_schema.py`` on ``/graphql``, run as its own uvicorn process: what several
server processes look like before the product schema has subscription fields."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from api.app import AppState, create_app
from api.auth import Authenticator
from api.graphql_view import PayoutsGraphQL
from tests.support.live_schema import SCHEMA
from tests.support.live_server import (
    ROOT,
    LiveServer,
    free_port,
    server_env,
    stop,
    wait_until_ready,
)


def create_live_test_app() -> Starlette:
    app = create_app()
    state: AppState = app.state.payouts
    view = PayoutsGraphQL(
        SCHEMA,
        settings=state.settings,
        db=state.db,
        authenticator=Authenticator(state.db),
        services=state.services,
    )
    others = [r for r in app.router.routes if getattr(r, "path", None) != "/graphql"]
    app.router.routes[:] = [
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),
        *others,
    ]
    return app


@contextmanager
def start_live_test_server(database_url: str, log_path: Path) -> Iterator[LiveServer]:
    port = free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.support.live_app:create_live_test_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=server_env(database_url, port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path)
    try:
        wait_until_ready(live)
        yield live
    finally:
        stop(process)
