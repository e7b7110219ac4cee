"""Prometheus metrics and the ``/metrics`` and ``/healthz`` endpoint of the matching service.

Each service instance has its own registry rather than the process-wide default one, so
that several services (tests, a replay next to the live consumer) can share a process
without mixing their numbers. Records per second is not exported: Prometheus derives it
from the counters, e.g. ``sum(rate(riec_matching_records_total[5m]))``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from consumers.logs import describe_error, log_event

log = logging.getLogger("riec.metrics")

OUTCOMES = ("stored", "replay", "stale", "retracted", "unchanged")
# Reasons known in advance are exported at zero from the start, so that an alert on
# increase() fires on the first dead letter instead of on the second.
DEAD_LETTER_REASONS = (
    "bad_json",
    "oversized",
    "schema_violation",
    "legal_basis_not_allowed",
    "wrong_partner_for_topic",
    "unknown_key_version",
    "plaintext_identifier",
    "processing_error",
)
# From a local commit a few milliseconds after the partner's push, up to a minute and more
# for a backlog after an outage; everything slower falls into +Inf.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)


class ServiceMetrics:
    """The matching service's metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.records = Counter(
            "riec_matching_records",
            "Records landed from the partner topics, by landing outcome.",
            ["outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "riec_matching_dead_letters",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.batches = Counter(
            "riec_matching_batches", "Poll batches landed and committed.", registry=r
        )
        self.lag = Gauge(
            "riec_matching_consumer_lag",
            "Messages on the partition after the consumer's position.",
            ["topic", "partition"],
            registry=r,
        )
        self.link_latency = Histogram(
            "riec_matching_link_latency_seconds",
            "Seconds from an envelope's produced_at to the database commit that linked it.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.db_retries = Counter(
            "riec_matching_database_retries",
            "Database operations retried after an outage-type error.",
            registry=r,
        )
        self.up = Gauge(
            "riec_matching_up", "1 while the consumer loop runs, 0 otherwise.", registry=r
        )
        self.last_batch = Gauge(
            "riec_matching_last_batch_timestamp_seconds",
            "Unix time of the last batch that was landed and committed.",
            registry=r,
        )
        for outcome in OUTCOMES:
            self.records.labels(outcome=outcome)
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason=reason)
        self._lag_labels: set[tuple[str, str]] = set()

    def count_outcomes(self, outcomes: Mapping[str, int]) -> None:
        for outcome, n in outcomes.items():
            if n:
                self.records.labels(outcome=outcome).inc(n)

    def count_dead_letter(self, reason: str) -> None:
        self.dead_letters.labels(reason=reason).inc()

    def batch_committed(self, at: float | None = None) -> None:
        self.batches.inc()
        self.last_batch.set(time.time() if at is None else at)

    def observe_latencies(self, seconds: Iterable[float]) -> None:
        for value in seconds:
            # Clocks of partner and RIEC differ a little; a negative latency means "at once".
            self.link_latency.observe(max(value, 0.0))

    def set_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Lag of each assigned partition; partitions no longer assigned disappear."""
        current = {(topic, str(partition)) for topic, partition in lags}
        for topic, partition in self._lag_labels - current:
            self.lag.remove(topic, partition)
        for (topic, partition), value in lags.items():
            self.lag.labels(topic=topic, partition=str(partition)).set(value)
        self._lag_labels = current

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Health:
    """Whether the service does its job: loop running, polling recently, database reachable.

    The database probe is cached for ``probe_interval`` seconds so that frequent health
    checks do not add load to a database that is struggling already.
    """

    def __init__(
        self,
        database_probe: Callable[[], None],
        max_poll_age: float = 60.0,
        probe_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database_probe = database_probe
        self.max_poll_age = max_poll_age
        self.probe_interval = probe_interval
        self.clock = clock
        self.loop_alive = False
        self.last_poll: float | None = None
        self._lock = threading.Lock()
        self._probed_at: float | None = None
        self._probe_error: str | None = None

    def loop_started(self) -> None:
        self.loop_alive = True
        self.last_poll = self.clock()

    def loop_stopped(self) -> None:
        self.loop_alive = False

    def polled(self) -> None:
        self.last_poll = self.clock()

    def _database_error(self) -> str | None:
        with self._lock:
            now = self.clock()
            if self._probed_at is None or now - self._probed_at >= self.probe_interval:
                try:
                    self.database_probe()
                    self._probe_error = None
                except Exception as exc:  # any failure means "not reachable"
                    self._probe_error = describe_error(exc)
                self._probed_at = now
            return self._probe_error

    def report(self) -> tuple[bool, dict[str, Any]]:
        """``(healthy, body)``; the body says why when not healthy."""
        body: dict[str, Any] = {"status": "ok"}
        reasons: list[str] = []
        if not self.loop_alive:
            reasons.append("consumer loop is not running")
        age = None if self.last_poll is None else self.clock() - self.last_poll
        if age is not None:
            body["last_poll_seconds_ago"] = round(age, 3)
        if self.loop_alive and (age is None or age > self.max_poll_age):
            reasons.append(f"no poll for more than {self.max_poll_age:g}s")
        database_error = self._database_error()
        body["database"] = "ok" if database_error is None else "unreachable"
        if database_error is not None:
            reasons.append(f"database unreachable ({database_error})")
        if reasons:
            body["status"] = "unavailable"
            body["reason"] = "; ".join(reasons)
        return not reasons, body


class MetricsServer:
    """``GET /metrics`` and ``GET /healthz`` on a daemon thread."""

    def __init__(self, metrics: ServiceMetrics, health: Health, host: str, port: int) -> None:
        self.metrics = metrics
        self.health = health
        self._httpd = ThreadingHTTPServer((host, port), _handler(metrics, health))
        # A short poll interval lets ``stop`` return quickly at shutdown.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.1,), name="riec-metrics", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> MetricsServer:
        self._thread.start()
        host, port = self.address
        log_event(log, "metrics_server_started", host=host, port=port)
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _handler(metrics: ServiceMetrics, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "riec-matching"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics.exposition())
            elif path == "/healthz":
                healthy, body = health.report()
                payload = (json.dumps(body) + "\n").encode()
                self._send(200 if healthy else 503, "application/json", payload)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            # Scrapes every few seconds would drown the service's own events.
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
