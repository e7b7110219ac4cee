"""``riec broker``: the bundled Kafka-protocol broker, for local work and demos."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from riec.cli.common import console

app = typer.Typer(no_args_is_help=True, help="A local Kafka-protocol broker.")


@app.command("run")
def run(port: Annotated[int, typer.Option(help="Port to listen on.")] = 19092) -> None:
    """Run the bundled Tansu broker in the foreground (memory only; for demos and tests).

    Ctrl-C or SIGTERM stops the broker and its child process.
    """
    from riec.broker import LocalBroker

    stopped = threading.Event()

    def stop(_signum: int, _frame: object) -> None:
        stopped.set()

    # SIGTERM (docker stop, systemd, kill) must stop the broker child as Ctrl-C does,
    # or it outlives this command holding the port.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with LocalBroker(port=port) as broker:
        console.print(f"broker listening on {broker.bootstrap}; Ctrl-C stops it")
        while not stopped.wait(1.0):
            pass
    console.print("broker stopped")
