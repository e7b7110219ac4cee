"""``riec web``: the RIEC workspace in the browser (hit lists, reviews, requests, audit)."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from core.errors import UsageError
from riec.cli.common import console, riec_settings


def web(
    host: Annotated[str | None, typer.Option(help="Address to listen on (RIEC_WEB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (RIEC_WEB_PORT).")] = None,
    sync: Annotated[
        bool,
        typer.Option(
            help="Publish approved requests and read partners' answers in the "
            "background (every RIEC_WEB_SYNC_SECONDS)."
        ),
    ] = True,
) -> None:
    """Serve the workspace. Sign in with an account made by `riec users add` or `riec demo`."""
    import logging

    import uvicorn

    from storage import connect
    from workspace.app import create_app
    from workspace.oidc import oidc_client
    from workspace.sync import RequestSync

    settings = riec_settings()
    host = host or settings.web_host
    port = port if port is not None else settings.web_port
    _check_port(host, port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # kafka-python reports every connection at INFO; the workspace's own lines say enough.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    db = connect(settings.resolved_database_url, migrate=settings.db_auto_migrate)
    app = create_app(db, settings, oidc=oidc_client(settings))
    runner = None
    if sync and settings.web_sync_seconds > 0:
        runner = RequestSync(db, settings)
        app.state.publisher = runner.nudge
        runner.start()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"RIEC workspace on http://{shown}:{port}/ (Ctrl-C stops it)", markup=False)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            proxy_headers=True,
            forwarded_allow_ips=settings.web_forwarded_allow_ips,
            log_level="warning",
            server_header=False,
        )
    finally:
        if runner is not None:
            runner.stop()
        db.dispose()


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: a port is 1-65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror}): is the workspace already "
                "running? Choose another with --port or RIEC_WEB_PORT"
            ) from None
