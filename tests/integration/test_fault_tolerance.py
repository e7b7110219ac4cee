"""The matching service under faults: kill -9, poison messages, database outages, SIGTERM.

Everything runs against the real broker and a real database. Traffic is made of envelopes
derived from ``data/envelope_gemeente_x.json``, so no partner-side code is needed: each
subject is pushed by three partners that share its BSN token, so the expected entities are
known in advance.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import SecretStr
from sqlalchemy import create_engine, func, make_url, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from consumers.landing import Outcome, Source, land_batch
from consumers.logs import JsonFormatter
from consumers.matching_service import MatchingService, RunStats
from core.settings import RiecSettings
from matching.linker import Linker
from riec.broker import ensure_topics, free_port
from riec.cli import app
from storage import connect
from storage.database import scratch_schema
from storage.models import Record

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads(
    (Path(__file__).parent / "data" / "envelope_gemeente_x.json").read_text(encoding="utf-8")
)
# partner id -> (partner type, legal basis it shares under)
PARTNERS = {
    "gemeente-x": ("gemeente", "avg-6-1-e-uavg-convenant"),
    "politie-y": ("politie", "wpg-art20"),
    "belastingdienst": ("belastingdienst", "awr-art67-urawr-43c"),
}
PLAINTEXT_BSN = "111222333"
PLAINTEXT_NAME = "Jansen"

RecordKey = tuple[str, str]


# -- traffic ---------------------------------------------------------------------------


def bloom(rng: random.Random, bits: int = 40) -> list[int]:
    return sorted(rng.sample(range(1024), bits))


def encode_bloom(positions: Sequence[int]) -> str:
    raw = bytearray(128)
    for position in positions:
        raw[position // 8] |= 1 << (position % 8)
    return base64.b64encode(bytes(raw)).decode()


def envelope(partner: str, record_id: str, rng: random.Random, **changes: Any) -> dict[str, Any]:
    """A valid envelope of ``partner``; ``changes`` replace top-level fields."""
    partner_type, legal_basis = PARTNERS.get(partner, PARTNERS["gemeente-x"])
    value = copy.deepcopy(TEMPLATE)
    value.update(
        partner=partner,
        partner_type=partner_type,
        legal_basis=legal_basis,
        partner_record_id=record_id,
        message_id=f"{rng.getrandbits(128):032x}",
        batch_id="load-2026",
    )
    value.update(changes)
    return value


def subjects(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` subjects, each pushed by every partner with the subject's BSN token.

    Neighbouring subjects share a blocking key, so the linker compares records of
    different subjects too (and must keep them apart: their BSN tokens differ).
    """
    rng = random.Random(seed)
    out = []
    blocks = [f"{rng.getrandbits(128):032x}" for _ in range(count // 2 + 1)]
    for number in range(count):
        bsn = f"{rng.getrandbits(128):032x}"
        surname = bloom(rng)
        for index, partner in enumerate(PARTNERS):
            # Each partner spells the name a little differently: a few bits differ.
            noisy = sorted(set(surname[2:]) | set(rng.sample(range(1024), 2)))
            value = envelope(partner, f"R{index}-{number:05d}", rng)
            value["attributes"] = {
                "tokens": {"bsn": bsn},
                "filters": {"surname": encode_bloom(noisy)},
                "blocking": [blocks[number // 2]],
            }
            out.append(value)
    rng.shuffle(out)
    return out


def create_topics(settings: RiecSettings, partners: Sequence[str] = tuple(PARTNERS)) -> None:
    topics = [settings.partner_topic(p) for p in partners]
    ensure_topics(settings.bootstrap_servers, [*topics, settings.dead_letter_topic])


def produce(settings: RiecSettings, messages: Sequence[tuple[str, bytes | None]]) -> list[Any]:
    """Send ``(topic, value)`` pairs in order; returns each message's metadata."""
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)
    try:
        futures = [
            producer.send(topic, key=_key(value, n), value=value)
            for n, (topic, value) in enumerate(messages)
        ]
        producer.flush()
        return [f.get(timeout=30) for f in futures]
    finally:
        producer.close()


def _key(value: bytes | None, n: int) -> bytes:
    """The partner record id, as partners key their messages; a counter for junk."""
    try:
        return str(json.loads(value or b"")["partner_record_id"]).encode()
    except (ValueError, KeyError, TypeError):
        return f"message-{n}".encode()


def produce_envelopes(settings: RiecSettings, envelopes: Sequence[dict[str, Any]]) -> list[Any]:
    return produce(
        settings,
        [(settings.partner_topic(e["partner"]), json.dumps(e).encode()) for e in envelopes],
    )


def assert_committed_to_the_end(settings: RiecSettings, sent: Sequence[Any]) -> None:
    """Every partition's committed offset is past the last message sent to it."""
    ends: dict[TopicPartition, int] = {}
    for meta in sent:
        tp = TopicPartition(meta.topic, meta.partition)
        ends[tp] = max(ends.get(tp, 0), meta.offset + 1)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    try:
        assert {tp: consumer.committed(tp) for tp in ends} == ends
    finally:
        consumer.close()


# -- the service -----------------------------------------------------------------------


def cli_env(settings: RiecSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIEC_")}
    env.update(settings.environment())
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_cli(settings: RiecSettings, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``riec match run`` as its own process, configured through RIEC_* variables only."""
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "riec.cli", "match", "run", *args],
            cwd=REPO,
            env=cli_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def run_service(settings: RiecSettings, **kwargs: Any) -> RunStats:
    return MatchingService(settings, **kwargs).run(until_caught_up=True, max_seconds=90)


# -- the database ----------------------------------------------------------------------


def query(url: str, statement: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return list(session.execute(statement).all())
    finally:
        engine.dispose()


def count_records(url: str) -> int:
    return int(query(url, select(func.count()).select_from(Record))[0][0])


def create_tables(url: str) -> str:
    """Create the schema up front, so the test can watch the count from the start."""
    connect(url).dispose()
    return url


def entity_partition(url: str) -> set[frozenset[RecordKey]]:
    """The entities as a partition of record keys, whatever their ids."""
    groups: dict[str, set[RecordKey]] = {}
    for partner, record_id, entity_id in query(
        url, select(Record.partner, Record.partner_record_id, Record.entity_id)
    ):
        assert entity_id is not None, f"{partner}/{record_id} has no entity"
        groups.setdefault(entity_id, set()).add((partner, record_id))
    return {frozenset(g) for g in groups.values()}


@pytest.fixture
def settings(settings: RiecSettings) -> RiecSettings:
    """The shared settings with a shorter session: the test broker holds every group join
    for up to the session timeout, and after a kill -9 the dead member is only dropped
    when its session runs out."""
    return settings.model_copy(update={"session_timeout_ms": 3_000, "heartbeat_interval_ms": 500})


@pytest.fixture
def second_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Another fresh database on the same backend, for a reference run."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'reference.db'}"
        return
    with scratch_schema(database_url) as url:
        yield url


def wait_for(condition: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def read_topic(settings: RiecSettings, topic: str, seconds: float = 15) -> list[Any]:
    """Every message on ``topic``, read up to its end without a consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        messages: list[Any] = []
        pending = {tp for tp in partitions if ends.get(tp)}
        deadline = time.monotonic() + seconds
        while pending and time.monotonic() < deadline:
            for tp, batch in consumer.poll(timeout_ms=200).items():
                messages.extend(batch)
                # The test broker reports end offsets short of the high watermark.
                if consumer.position(tp) >= max(ends[tp], consumer.highwater(tp) or 0):
                    pending.discard(tp)
        return messages
    finally:
        consumer.close()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The ``riec.*`` log events of an in-process service, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("riec")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def events(lines: str, name: str | None = None) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in lines.splitlines() if line.strip()]
    return [e for e in parsed if name is None or e["event"] == name]


# -- kill -9 ---------------------------------------------------------------------------


def test_kill_9_during_a_load_stores_every_record_exactly_once(
    settings: RiecSettings, second_database_url: str, tmp_path: Path
) -> None:
    s = settings.model_copy(update={"poll_max_records": 100})
    create_topics(s)
    load = subjects(1000, seed=11)
    produce_envelopes(s, load)
    url = create_tables(s.resolved_database_url)

    # The uninterrupted run into a fresh database, beside the interrupted one.
    reference = s.model_copy(
        update={
            "database_url": SecretStr(second_database_url),
            "consumer_group": s.consumer_group + "-ref",
        }
    )
    reference_stats: list[RunStats] = []
    reference_run = threading.Thread(
        target=lambda: reference_stats.append(run_service(reference)), daemon=True
    )
    reference_run.start()

    # Kill points by progress, so that they fall inside the load on any machine, plus a
    # random delay of up to about one batch, so that they hit every phase of a batch:
    # polling, landing, between the database commit and the offset commit.
    rng = random.Random(20260601)
    targets = sorted(rng.sample(range(150, 2400), 3))
    log = tmp_path / "service.log"
    for target in targets:
        process = start_cli(s, log, "--until-caught-up", "-v")
        reached = wait_for(
            lambda p=process, n=target: p.poll() is not None or count_records(url) >= n, 60, 0.01
        )
        assert reached and process.poll() is None, "the service stopped or stalled before a kill"
        time.sleep(rng.uniform(0.0, 0.15))
        process.kill()
        process.wait(timeout=10)
    assert count_records(url) < len(load), "the load finished before the last kill"

    final = start_cli(s, log, "--until-caught-up", "-v")
    assert final.wait(timeout=120) == 0, log.read_text()[-3000:]

    keys = query(url, select(Record.partner, Record.partner_record_id))
    assert len(keys) == len(load)
    assert len(set(keys)) == len(load)
    reference_run.join(timeout=120)
    assert reference_stats and reference_stats[0].outcomes["stored"] == len(load)
    interrupted = entity_partition(url)
    assert interrupted == entity_partition(second_database_url)
    assert len(interrupted) == 1000
    assert {len(e) for e in interrupted} == {3}


class Crash(BaseException):
    """Stands for the process dying: nothing in the service catches it."""


class DiesBeforeTheOffsetCommit(MatchingService):
    """Dies in the narrowest window a kill -9 can hit: batch in the database, offsets not."""

    def __init__(self, settings: RiecSettings, die_at_batch: int) -> None:
        super().__init__(settings)
        self.die_at_batch = die_at_batch

    def _commit(self, batch: Any) -> None:
        if self.stats.batches + 1 == self.die_at_batch:
            raise Crash
        super()._commit(batch)


def test_dying_between_the_database_commit_and_the_offset_commit_replays_without_duplicates(
    settings: RiecSettings,
) -> None:
    s = settings.model_copy(update={"poll_max_records": 100})
    create_topics(s)
    load = subjects(100, seed=41)
    produce_envelopes(s, load)

    with pytest.raises(Crash):
        DiesBeforeTheOffsetCommit(s, die_at_batch=2).run(until_caught_up=True, max_seconds=60)
    landed = count_records(s.resolved_database_url)
    assert 100 < landed < len(load)

    rest = run_service(s)
    assert rest.outcomes["replay"] > 0  # the batch whose offsets were never committed
    assert rest.outcomes["replay"] + rest.outcomes["stored"] == len(load) - 100
    keys = query(s.resolved_database_url, select(Record.partner, Record.partner_record_id))
    assert len(keys) == len(set(keys)) == len(load)


# -- poison and malformed messages ----------------------------------------------------


def test_poison_messages_are_dead_lettered_with_their_coordinates_and_kept_out_of_the_logs(
    settings: RiecSettings, tmp_path: Path
) -> None:
    create_topics(settings, ["gemeente-x", "politie-y"])
    rng = random.Random(5)
    gx, py = settings.partner_topic("gemeente-x"), settings.partner_topic("politie-y")
    unknown_key = envelope("politie-y", "PY-BAD-01", rng)
    unknown_key["pseudonymisation"] = {"scheme": "riec-pseudo-v1", "key_version": "k9"}
    plaintext_token = envelope("politie-y", "PY-BAD-03", rng)
    plaintext_token["attributes"]["tokens"] = {"bsn": PLAINTEXT_BSN}
    bad: list[tuple[str, bytes | None, str]] = [
        (gx, b"{broken", "bad_json"),
        (gx, b"\xff\xfe not UTF-8", "bad_json"),
        (gx, None, "bad_json"),
        (gx, json.dumps({"schema_version": "1"}).encode(), "schema_violation"),
        (gx, b"x" * (settings.max_message_bytes + 1), "oversized"),
        (
            gx,
            json.dumps(envelope("politie-y", "PY-BAD-02", rng)).encode(),
            "wrong_partner_for_topic",
        ),
        (py, json.dumps(unknown_key).encode(), "unknown_key_version"),
        (
            py,
            json.dumps(
                envelope("politie-y", "PY-BAD-04", rng, legal_basis="avg-6-1-e-uavg-convenant")
            ).encode(),
            "legal_basis_not_allowed",
        ),
        (py, json.dumps(plaintext_token).encode(), "schema_violation"),
        (
            gx,
            json.dumps(envelope("gemeente-x", f"BSN-{PLAINTEXT_BSN}", rng)).encode(),
            "plaintext_identifier",
        ),
        (
            gx,
            json.dumps(
                envelope("gemeente-x", "GX-BAD-05", rng, batch_id=f"{PLAINTEXT_NAME}-de-Vries")
            ).encode(),
            "plaintext_identifier",
        ),
    ]
    good = [envelope("gemeente-x", f"GX-OK-{n:02d}", rng) for n in range(8)] + [
        envelope("politie-y", f"PY-OK-{n:02d}", rng) for n in range(4)
    ]
    traffic: list[tuple[str, bytes | None, str | None]] = []
    for n in range(max(len(bad), len(good))):
        if n < len(good):
            traffic.append(
                (settings.partner_topic(good[n]["partner"]), json.dumps(good[n]).encode(), None)
            )
        if n < len(bad):
            traffic.append(bad[n])
    sent = produce(settings, [(topic, value) for topic, value, _ in traffic])
    expected = Counter(
        (meta.topic, meta.partition, meta.offset, reason)
        for meta, (_, _, reason) in zip(sent, traffic, strict=True)
        if reason is not None
    )

    log = tmp_path / "service.log"
    process = start_cli(settings, log, "--until-caught-up", "-v")
    assert process.wait(timeout=90) == 0, log.read_text()[-3000:]

    stored = query(settings.resolved_database_url, select(Record.partner_record_id))
    assert sorted(r for (r,) in stored) == sorted(e["partner_record_id"] for e in good)

    dead = read_topic(settings, settings.dead_letter_topic)
    found = Counter()
    for message in dead:
        headers = {k: v.decode() for k, v in message.headers}
        assert headers["riec.error.detail"] and headers["riec.failed_at"]
        found[
            (
                headers["riec.source.topic"],
                int(headers["riec.source.partition"]),
                int(headers["riec.source.offset"]),
                headers["riec.error.reason"],
            )
        ] += 1
        if headers["riec.error.reason"] == "plaintext_identifier":
            assert message.value == b""
        assert PLAINTEXT_BSN.encode() not in b"".join(v for _, v in message.headers)
    assert found == expected

    # Structured logs: JSON lines only, every dead letter by coordinates, no plaintext.
    written = log.read_text(encoding="utf-8")
    lines = events(written)
    assert lines and all({"time", "level", "logger", "event"} <= line.keys() for line in lines)
    logged = Counter(
        (e["topic"], e["partition"], e["offset"], e["reason"])
        for e in lines
        if e["event"] == "dead_lettered"
    )
    assert logged == expected
    assert PLAINTEXT_BSN not in written
    assert PLAINTEXT_NAME.lower() not in written.lower()

    # Everything was committed: another run finds nothing to do.
    assert run_service(settings).messages == 0

    # The operator's view of the topic: coordinates and reasons, never a value.
    result = CliRunner().invoke(app, ["deadletters", "list", "--json"], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    listed = Counter((r["source"], r["reason"]) for r in rows)
    assert listed == Counter((f"{t}[{p}]@{o}", r) for t, p, o, r in expected)
    assert PLAINTEXT_BSN not in result.output


class Faulty:
    """Landing that breaks on one record, as an invariant violation inside the linker would."""

    def __init__(self, poison: str) -> None:
        self.poison = poison
        self.failures = 0

    def __call__(
        self, session: Session, linker: Linker, items: Sequence[tuple[dict[str, Any], Source]]
    ) -> list[Outcome]:
        if any(e["partner_record_id"] == self.poison for e, _ in items):
            self.failures += 1
            raise RuntimeError(f"invariant broken by {self.poison}")
        return land_batch(session, linker, items)


def test_a_message_that_breaks_landing_is_dead_lettered_as_processing_error(
    settings: RiecSettings, json_logs: io.StringIO
) -> None:
    ensure_topics(
        settings.bootstrap_servers,
        [settings.partner_topic("gemeente-x"), settings.dead_letter_topic],
        partitions=1,
    )
    rng = random.Random(9)
    load = [envelope("gemeente-x", f"GX-OK-{n:02d}", rng) for n in range(6)]
    load.insert(3, envelope("gemeente-x", "GX-POISON-1", rng))
    sent = produce_envelopes(settings, load)

    faulty = Faulty("GX-POISON-1")
    service = MatchingService(settings, lander=faulty)
    stats = service.run(until_caught_up=True, max_seconds=60)

    assert dict(stats.dead_letters) == {"processing_error": 1}
    assert stats.outcomes["stored"] == 6
    # Once in the batch, then each of its own tries.
    assert faulty.failures == 1 + settings.processing_attempts
    value = service.metrics.registry.get_sample_value(
        "riec_matching_dead_letters_total", {"reason": "processing_error"}
    )
    assert value == 1
    [dead] = read_topic(settings, settings.dead_letter_topic)
    headers = dict(dead.headers)
    assert headers["riec.error.reason"] == b"processing_error"
    assert headers["riec.source.offset"] == b"3"
    assert b"RuntimeError" in headers["riec.error.detail"]
    assert json.loads(dead.value)["partner_record_id"] == "GX-POISON-1"  # kept for a replay
    [event] = events(json_logs.getvalue(), "processing_error")
    assert event["offset"] == 3 and event["error"] == "RuntimeError" and event["trace"]
    assert "invariant broken" not in json_logs.getvalue()  # exception messages stay out
    assert_committed_to_the_end(settings, sent)  # no crash loop: it went past the poison


def test_a_far_future_timestamp_is_dead_lettered_not_stored(settings: RiecSettings) -> None:
    """A produced_at past the year 9999 in UTC would overflow PostgreSQL's timestamps and,
    stored, win every later "newest message" comparison, so a retraction could never apply.
    The contract refuses it; the service carries on with the rest."""
    create_topics(settings, ["gemeente-x"])
    rng = random.Random(3)
    far = envelope("gemeente-x", "GX-FAR-1", rng, produced_at="9999-12-31T23:59:59-01:00")
    load = [envelope("gemeente-x", f"GX-OK-{n:02d}", rng) for n in range(4)]
    sent = produce_envelopes(settings, [*load[:2], far, *load[2:]])
    stats = run_service(settings)

    assert dict(stats.dead_letters) == {"schema_violation": 1}
    assert dict(stats.outcomes) == {"stored": 4}
    assert_committed_to_the_end(settings, sent)


# -- database outage -------------------------------------------------------------------


class TcpProxy:
    """Forwards a local port to ``target``; ``stop`` drops every connection and the port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for connection in self._connections:
                _close(connection)
            self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._connections |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()


def http_get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_database_outage_is_waited_out_without_losing_or_skipping_anything(
    settings: RiecSettings, json_logs: io.StringIO
) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("needs a database behind a network connection")
    direct = make_url(settings.resolved_database_url)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 5432)).start()
    try:
        through_proxy = direct.set(host="127.0.0.1", port=proxy.port)
        s = settings.model_copy(
            update={
                "database_url": SecretStr(through_proxy.render_as_string(hide_password=False)),
                "poll_max_records": 100,
                "db_retry_initial_seconds": 0.25,
                "db_retry_max_seconds": 2.0,
                # Shorter than the outage: a consumer that only slept would be dropped.
                "max_poll_interval_ms": 4_000,
                "metrics_port": free_port(),
            }
        )
        create_topics(s)
        load = subjects(1000, seed=21)
        produce_envelopes(s, load)
        url = settings.resolved_database_url  # straight to PostgreSQL, past the proxy
        service = MatchingService(s)
        service.health.probe_interval = 0.2
        healthz = f"http://127.0.0.1:{s.metrics_port}/healthz"
        stats: list[RunStats] = []
        runner = threading.Thread(
            target=lambda: stats.append(service.run(until_caught_up=True, max_seconds=120)),
            daemon=True,
        )
        runner.start()

        assert wait_for(lambda: count_records(url) > 0, 60)
        assert http_get(healthz)[0] == 200
        proxy.stop()
        outage_started = time.monotonic()
        assert wait_for(lambda: http_get(healthz)[0] == 503, 5, 0.1)
        assert "database unreachable" in http_get(healthz)[1]["reason"]
        time.sleep(1)
        during = count_records(url)
        time.sleep(max(0.0, 10 - (time.monotonic() - outage_started)))
        assert count_records(url) == during < len(load)
        proxy.start()
        assert wait_for(lambda: http_get(healthz)[0] == 200 or not runner.is_alive(), 30, 0.1)
        assert runner.is_alive(), "the load finished before health could be seen to recover"
        runner.join(timeout=120)
    finally:
        proxy.stop()

    assert stats, "the service did not finish"
    keys = query(url, select(Record.partner, Record.partner_record_id))
    assert len(keys) == len(set(keys)) == len(load)
    assert stats[0].outcomes["stored"] + stats[0].outcomes["replay"] >= len(load)
    assert service.assignments == 1, "the consumer left the group while it waited"
    retries = service.metrics.registry.get_sample_value("riec_matching_database_retries_total")
    waits = [e["retry_in_seconds"] for e in events(json_logs.getvalue(), "database_unavailable")]
    assert retries == len(waits) >= 5
    assert waits[0] <= 0.25 and max(waits) <= 2.0
    assert waits[:3] == sorted(waits[:3])  # doubling up to the cap
    assert events(json_logs.getvalue(), "database_recovered")


# -- SIGTERM ---------------------------------------------------------------------------


def test_sigterm_finishes_the_batch_commits_and_leaves_the_group(
    settings: RiecSettings, tmp_path: Path
) -> None:
    s = settings.model_copy(update={"poll_max_records": 200})
    create_topics(s)
    load = subjects(1000, seed=31)
    produce_envelopes(s, load)
    url = create_tables(s.resolved_database_url)
    log = tmp_path / "service.log"

    process = start_cli(s, log, "-v")  # long-running, as in production
    assert wait_for(lambda: count_records(url) > 0 or process.poll() is not None, 60, 0.02)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0, log.read_text()[-3000:]
    assert time.monotonic() - signalled < 10
    stored = query(
        url,
        select(Record.source_topic, Record.source_partition, func.count()).group_by(
            Record.source_topic, Record.source_partition
        ),
    )
    assert 0 < sum(n for _, _, n in stored) < len(load), "SIGTERM did not land mid-load"

    # The committed offset of each partition is exactly what landed from it.
    consumer = KafkaConsumer(
        bootstrap_servers=s.bootstrap_servers, group_id=s.consumer_group, enable_auto_commit=False
    )
    try:
        committed = {
            (topic, p): consumer.committed(TopicPartition(topic, p)) or 0
            for topic in (s.partner_topic(p) for p in PARTNERS)
            for p in range(3)
        }
    finally:
        consumer.close()
    assert {k: v for k, v in committed.items() if v} == {(t, p): n for t, p, n in stored}

    written = log.read_text(encoding="utf-8")
    assert events(written, "left_group")
    assert events(written, "service_stopped")[-1]["reason"] == "stop requested"

    rest = run_service(s)
    assert dict(rest.outcomes) == {"stored": len(load) - sum(n for _, _, n in stored)}
    assert count_records(url) == len(load)


# -- failure at startup ----------------------------------------------------------------


def test_a_database_missing_at_startup_exits_4_with_one_json_line_and_no_secrets() -> None:
    root, riec = logging.getLogger(), logging.getLogger("riec")
    saved = (root.handlers[:], root.level, riec.level)
    env = {
        "RIEC_DATABASE_URL": "postgresql+psycopg://riec:hunter2@127.0.0.1:1/riec",
        "RIEC_METRICS_PORT": "0",
    }
    try:
        result = CliRunner().invoke(app, ["match", "run", "--until-caught-up"], env=env)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        riec.setLevel(saved[2])
        logging.captureWarnings(False)
    # 4: a service that could not be reached; a supervisor may try again later.
    assert result.exit_code == 4
    [failure] = events(result.output, "service_failed")
    assert failure["level"] == "critical"
    assert "did not answer" in failure["error"] and "RIEC_DATABASE_URL" in failure["error"]
    assert failure["retriable"] is True
    assert "hunter2" not in result.output and "Traceback" not in result.output
