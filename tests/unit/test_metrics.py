"""Metrics, health endpoint and JSON logs of the matching service, without broker or database."""

from __future__ import annotations

import io
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from consumers.logs import JsonFormatter, configure, describe_error, log_event, screen
from consumers.metrics import Health, MetricsServer, ServiceMetrics
from contract.plaintext import eleven_check
from core.settings import RiecSettings
from riec.broker import free_port

# -- metrics ---------------------------------------------------------------------------


def sample(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_each_service_counts_in_a_registry_of_its_own() -> None:
    first, second = ServiceMetrics(), ServiceMetrics()
    first.count_outcomes({"stored": 3, "replay": 1})
    first.count_dead_letter("bad_json")
    assert sample(first, "riec_matching_records_total", outcome="stored") == 3
    assert sample(second, "riec_matching_records_total", outcome="stored") == 0
    assert sample(second, "riec_matching_dead_letters_total", reason="bad_json") == 0


def test_known_outcomes_and_reasons_are_exported_at_zero_from_the_start() -> None:
    text = ServiceMetrics().exposition().decode()
    for outcome in ("stored", "replay", "stale", "retracted", "unchanged"):
        assert f'riec_matching_records_total{{outcome="{outcome}"}} 0.0' in text
    assert 'riec_matching_dead_letters_total{reason="processing_error"} 0.0' in text
    assert "riec_matching_database_retries_total 0.0" in text
    assert "riec_matching_up 0.0" in text


def test_a_batch_sets_the_counter_and_the_timestamp() -> None:
    metrics = ServiceMetrics()
    metrics.batch_committed(at=1_780_000_000.0)
    assert sample(metrics, "riec_matching_batches_total") == 1
    assert sample(metrics, "riec_matching_last_batch_timestamp_seconds") == 1_780_000_000.0


def test_lag_of_partitions_that_moved_away_disappears() -> None:
    metrics = ServiceMetrics()
    metrics.set_lag({("riec.partner.a", 0): 5, ("riec.partner.a", 1): 0})
    assert sample(metrics, "riec_matching_consumer_lag", topic="riec.partner.a", partition="0") == 5
    metrics.set_lag({("riec.partner.a", 1): 2})
    assert (
        sample(metrics, "riec_matching_consumer_lag", topic="riec.partner.a", partition="0") is None
    )
    assert sample(metrics, "riec_matching_consumer_lag", topic="riec.partner.a", partition="1") == 2


def test_link_latency_has_buckets_from_ten_milliseconds_to_a_minute() -> None:
    metrics = ServiceMetrics()
    metrics.observe_latencies([0.005, 0.3, 45.0, -2.0])  # clock skew counts as immediate
    bucket = "riec_matching_link_latency_seconds_bucket"
    assert sample(metrics, bucket, le="0.01") == 2
    assert sample(metrics, bucket, le="0.5") == 3
    assert sample(metrics, bucket, le="60.0") == 4
    assert sample(metrics, "riec_matching_link_latency_seconds_count") == 4


# -- health ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Database:
    def __init__(self) -> None:
        self.calls = 0
        self.error: Exception | None = None

    def __call__(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


def outage() -> OperationalError:
    # The driver's message names host and user: the health body must not repeat it.
    return OperationalError("select 1", {}, ConnectionRefusedError("db.internal:5432 user riec"))


def test_healthy_when_the_loop_polls_and_the_database_answers() -> None:
    clock, database = Clock(), Database()
    health = Health(database, max_poll_age=30, clock=clock)
    health.loop_started()
    clock.now += 5
    healthy, body = health.report()
    assert healthy
    assert body == {"status": "ok", "last_poll_seconds_ago": 5.0, "database": "ok"}


def test_unhealthy_with_the_reason_when_the_loop_is_not_running() -> None:
    health = Health(Database(), clock=Clock())
    healthy, body = health.report()
    assert not healthy
    assert body["status"] == "unavailable"
    assert body["reason"] == "consumer loop is not running"


def test_unhealthy_when_the_last_poll_is_too_old() -> None:
    clock = Clock()
    health = Health(Database(), max_poll_age=30, clock=clock)
    health.loop_started()
    clock.now += 31
    assert health.report() == (
        False,
        {
            "status": "unavailable",
            "last_poll_seconds_ago": 31.0,
            "database": "ok",
            "reason": "no poll for more than 30s",
        },
    )
    health.polled()
    assert health.report()[0]


def test_unhealthy_when_the_database_is_unreachable_without_quoting_the_driver() -> None:
    clock, database = Clock(), Database()
    health = Health(database, clock=clock, probe_interval=2)
    health.loop_started()
    database.error = outage()
    healthy, body = health.report()
    assert not healthy
    assert body["database"] == "unreachable"
    assert (
        body["reason"] == "database unreachable (OperationalError(builtins.ConnectionRefusedError))"
    )
    assert "db.internal" not in json.dumps(body)


def test_the_database_probe_is_cached_for_the_probe_interval() -> None:
    clock, database = Clock(), Database()
    health = Health(database, clock=clock, probe_interval=2)
    health.loop_started()
    for _ in range(5):
        health.report()
    assert database.calls == 1
    database.error = outage()
    assert health.report()[0]  # still the cached answer
    clock.now += 2
    assert not health.report()[0]
    assert database.calls == 2


# -- the endpoint ----------------------------------------------------------------------


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.fixture
def served() -> Iterator[tuple[str, ServiceMetrics, Health, Database]]:
    metrics, database = ServiceMetrics(), Database()
    health = Health(database, probe_interval=0)
    server = MetricsServer(metrics, health, "127.0.0.1", free_port()).start()
    host, port = server.address
    yield f"http://{host}:{port}", metrics, health, database
    server.stop()


def test_metrics_are_served_in_the_prometheus_text_format(
    served: tuple[str, ServiceMetrics, Health, Database],
) -> None:
    base, metrics, _, _ = served
    metrics.count_outcomes({"stored": 7})
    status, content_type, body = get(f"{base}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain") and "version=" in content_type
    assert 'riec_matching_records_total{outcome="stored"} 7.0' in body.decode()
    assert "# TYPE riec_matching_link_latency_seconds histogram" in body.decode()


def test_healthz_answers_200_or_503_with_a_small_json_body(
    served: tuple[str, ServiceMetrics, Health, Database],
) -> None:
    base, _, health, database = served
    status, content_type, body = get(f"{base}/healthz")
    assert (status, content_type) == (503, "application/json")
    assert json.loads(body)["reason"] == "consumer loop is not running"
    health.loop_started()
    status, _, body = get(f"{base}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    database.error = outage()
    status, _, body = get(f"{base}/healthz")
    assert status == 503 and json.loads(body)["database"] == "unreachable"
    assert get(f"{base}/other")[0] == 404


def test_the_endpoint_binds_to_loopback_unless_configured_otherwise() -> None:
    assert RiecSettings().metrics_host == "127.0.0.1"


# -- structured logs -------------------------------------------------------------------


def formatted(record_logger: str, emit: Any) -> dict[str, Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(record_logger)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    [line] = stream.getvalue().splitlines()
    return json.loads(line)


def test_an_event_is_one_json_object_with_its_fields() -> None:
    line = formatted(
        "riec.test",
        lambda log: log_event(
            log,
            "dead_lettered",
            logging.WARNING,
            topic="riec.partner.gemeente-x",
            partition=2,
            offset=41,
            reason="bad_json",
            counts={"stored": 3},
        ),
    )
    assert set(line) == {
        "time",
        "level",
        "logger",
        "event",
        "topic",
        "partition",
        "offset",
        "reason",
        "counts",
    }
    assert line["level"] == "warning" and line["logger"] == "riec.test"
    assert line["event"] == "dead_lettered" and line["offset"] == 41
    assert line["counts"] == {"stored": 3}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_plain_messages_from_libraries_are_json_too() -> None:
    line = formatted("kafka.test", lambda log: log.warning("broker %s went away", "kafka:9092"))
    assert line["event"] == "broker kafka:9092 went away"


def test_exceptions_are_logged_by_type_and_frames_without_their_message() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("value 111222333 is not allowed")
        except ValueError as exc:
            log_event(log, "processing_error", logging.ERROR, exc=exc, offset=3)

    line = formatted("riec.test", emit)
    assert line["error"] == "ValueError"
    assert line["trace"] and "test_metrics.py" in line["trace"][-1]
    assert "111222333" not in json.dumps(line)


def test_describe_error_names_the_driver_error_and_sqlstate_only() -> None:
    class DriverError(Exception):
        sqlstate = "08006"

    error = OperationalError("insert ...", {"bsn": "x"}, DriverError("connection to 10.0.0.5 lost"))
    assert describe_error(error) == (
        f"OperationalError({DriverError.__module__}.DriverError, sqlstate=08006)"
    )
    assert describe_error(KeyError("secret")) == "KeyError"


@st.composite
def bsns(draw: st.DrawFn) -> str:
    digits = draw(st.lists(st.integers(0, 9), min_size=8, max_size=8))
    total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
    last = total % 11
    number = "".join(map(str, digits)) + str(last)
    if last == 10 or not eleven_check(number):
        return "111222333"
    return number


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ ", max_size=20)


@given(bsn=bsns(), before=words, after=words)
def test_a_bsn_never_reaches_a_log_line_in_a_field_or_a_message(
    bsn: str, before: str, after: str
) -> None:
    text = f"{before} {bsn} {after}"
    assert bsn not in json.dumps(screen({"detail": text, "items": [text]}))
    line = JsonFormatter().format(
        logging.LogRecord("riec.x", logging.INFO, __file__, 1, "got %s", (text,), None)
    )
    assert bsn not in line and "[redacted: bsn]" in line


def test_screen_keeps_codes_and_numbers() -> None:
    fields = {"topic": "riec.partner.gemeente-x", "offset": 123456789, "ok": True, "n": None}
    assert screen(fields) == fields


def test_configure_sends_everything_as_json_lines() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("riec").level)
    try:
        configure(logging.INFO, stream)
        logging.getLogger("riec.matching").info("batch")
        logging.getLogger("kafka.conn").info("chatter")  # below the library level
        logging.getLogger("kafka.conn").warning("reconnecting")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("riec").setLevel(saved[2])
        logging.captureWarnings(False)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["logger"], line["event"]) for line in lines] == [
        ("riec.matching", "batch"),
        ("kafka.conn", "reconnecting"),
    ]


# -- the operations guide --------------------------------------------------------------


def test_the_operations_guide_documents_every_setting() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [n for n in RiecSettings.model_fields if f"RIEC_{n.upper()}" not in guide]
    assert not missing, f"docs/operations.md does not mention: {missing}"


def test_only_the_arguments_of_a_plain_message_are_screened() -> None:
    def emit(template: str, *args: Any) -> str:
        record = logging.LogRecord("kafka.x", logging.WARNING, __file__, 1, template, args, None)
        return json.loads(JsonFormatter().format(record))["event"]

    assert emit("retrying in %d ms", 1000) == "retrying in 1000 ms"
    assert emit("rejected %s", "bsn 111222333") == "rejected [redacted: bsn]"
    assert emit("broken %d", "x") == "broken %d"
