"""Kafka over TLS: the matching service and the clients, configured by RIEC_KAFKA_* only.

The bundled Tansu broker accepts ``--cert``/``--key`` but still speaks plain TCP (0.6.0), so
a TLS-terminating proxy stands in front of it, and the broker advertises the proxy's address:
the metadata sends every client, after bootstrap too, through TLS. The proxy uses Python's
own TLS server, with certificates made here by a throwaway CA.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from pydantic import SecretStr

from consumers.matching_service import MatchingService
from core.kafka import client_options
from core.settings import RiecSettings
from riec.broker import LocalBroker, ensure_topics

pytestmark = pytest.mark.integration

ENVELOPE = Path(__file__).parent / "data" / "envelope_gemeente_x.json"
KEY_PASSWORD = "client-key-pw-5b1c"
# Refused connections are retried until this runs out; the broker is local, so a good
# connection needs a fraction of it.
REFUSED_AFTER_MS = 3_000


# -- certificates -----------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, common_name: str) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            _builder(_name(common_name), _name(common_name), key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )
        return cls(key, builder.sign(key, hashes.SHA256()))

    def issue(
        self, common_name: str, names: list[x509.GeneralName], usage: x509.ObjectIdentifier
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            _builder(_name(common_name), self.certificate.subject, key)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        return key, builder.sign(self.key, hashes.SHA256())


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _write_certificate(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, password: str | None = None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


@dataclass
class Pki:
    ca_file: Path
    #: Server certificate and key for 127.0.0.1, the address the clients connect to.
    server: tuple[Path, Path]
    #: Server certificate and key that name another host only.
    other_host: tuple[Path, Path]
    #: Client certificate and its key, encrypted with KEY_PASSWORD.
    client: tuple[Path, Path]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = Authority.create("RIEC test CA")
    server_auth, client_auth = (
        x509.ExtendedKeyUsageOID.SERVER_AUTH,
        x509.ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    server_key, server = ca.issue(
        "broker", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], server_auth
    )
    other_key, other = ca.issue(
        "kafka.riec.example", [x509.DNSName("kafka.riec.example")], server_auth
    )
    client_key, client = ca.issue("gemeente-x", [x509.DNSName("gemeente-x")], client_auth)
    return Pki(
        ca_file=_write_certificate(directory / "ca.pem", ca.certificate),
        server=(
            _write_certificate(directory / "server.pem", server),
            _write_key(directory / "server.key", server_key),
        ),
        other_host=(
            _write_certificate(directory / "other.pem", other),
            _write_key(directory / "other.key", other_key),
        ),
        client=(
            _write_certificate(directory / "client.pem", client),
            _write_key(directory / "client.key", client_key, KEY_PASSWORD),
        ),
    )


# -- the TLS endpoint ---------------------------------------------------------------------


class TlsProxy:
    """Accepts TLS on a free local port and passes the plain bytes on to ``upstream_port``."""

    def __init__(self, upstream_port: int, context: ssl.SSLContext) -> None:
        self.upstream_port = upstream_port
        self.context = context
        #: Connections whose TLS handshake succeeded.
        self.accepted = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> TlsProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context), self._loop
        ).result(timeout=10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        async def shut_down() -> None:
            assert self._server is not None
            self._server.close()
            current = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not current:
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shut_down(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _serve(self, from_client: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        # Called once the handshake is done; failed handshakes never get here.
        self.accepted += 1
        try:
            from_broker, broker = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client.close()
            return
        await asyncio.gather(_pipe(from_client, broker), _pipe(from_broker, client))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@dataclass
class TlsBroker:
    proxy: TlsProxy

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.proxy.port}"


def _server_context(
    certificate: tuple[Path, Path], client_ca: Path | None = None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


@pytest.fixture
def tls_broker(
    tmp_path: Path,
) -> Iterator[Callable[[ssl.SSLContext], TlsBroker]]:
    """Starts a broker behind a TLS proxy with the given server context."""
    started: list[tuple[LocalBroker, TlsProxy]] = []

    def start(context: ssl.SSLContext) -> TlsBroker:
        broker = LocalBroker(log_path=tmp_path / f"broker-{len(started)}.log")
        proxy = TlsProxy(broker.port, context).start()
        broker.advertised = f"127.0.0.1:{proxy.port}"
        started.append((broker, proxy))
        broker.start()
        return TlsBroker(proxy)

    yield start
    for broker, proxy in started:
        broker.stop()
        proxy.stop()


def _security_from_env(monkeypatch: pytest.MonkeyPatch, **variables: str | Path) -> RiecSettings:
    """RiecSettings whose Kafka security comes from RIEC_KAFKA_* variables, as in a deployment."""
    for name in list(os.environ):
        if name.startswith("RIEC_KAFKA_"):
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(f"RIEC_KAFKA_{name.upper()}", str(value))
    return RiecSettings()


def _tls_settings(
    endpoint: TlsBroker, pki: Pki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> RiecSettings:
    """RiecSettings of one test against ``endpoint``, with TLS from RIEC_KAFKA_* variables."""
    security = _security_from_env(monkeypatch, security_protocol="SSL", ssl_cafile=pki.ca_file)
    run = uuid.uuid4().hex[:8]
    return security.model_copy(
        update={
            "data_dir": tmp_path / "var",
            "database_url": SecretStr(f"sqlite:///{tmp_path / 'riec.db'}"),
            "bootstrap_servers": endpoint.bootstrap,
            "topic_prefix": f"t{run}.partner.",
            "dead_letter_topic": f"t{run}.deadletter",
            "consumer_group": f"t{run}-matching",
            "session_timeout_ms": 6_000,
            "heartbeat_interval_ms": 1_000,
            "metrics_port": 0,
        }
    )


def _read(consumer: KafkaConsumer, expected: int, timeout: float = 30.0) -> list[Any]:
    """Messages until ``expected`` have come, then whatever else arrives within a moment."""
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            messages.extend(batch)
    for batch in consumer.poll(timeout_ms=500).values():
        messages.extend(batch)
    consumer.close()
    return messages


def _round_trip(bootstrap: str, options: dict[str, Any]) -> list[bytes]:
    """Create a topic, produce one message and read it back, all with ``options``."""
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [topic], partitions=1, **options)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    producer.send(topic, b"over tls").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,
    )
    consumer.assign([TopicPartition(topic, 0)])
    return [message.value for message in _read(consumer, expected=1)]


def _refused(bootstrap: str, options: dict[str, Any]) -> None:
    with pytest.raises(KafkaError):
        KafkaProducer(
            bootstrap_servers=bootstrap, **{**options, "bootstrap_timeout_ms": REFUSED_AFTER_MS}
        )


# -- tests ----------------------------------------------------------------------------------


def test_matching_service_consumes_and_dead_letters_over_tls(
    tls_broker: Callable[[ssl.SSLContext], TlsBroker],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    endpoint = tls_broker(_server_context(pki.server))
    settings = _tls_settings(endpoint, pki, monkeypatch, tmp_path)
    options = client_options(settings)
    topic = settings.partner_topic("gemeente-x")
    ensure_topics(settings.bootstrap_servers, [topic, settings.dead_letter_topic], **options)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", **options)
    producer.send(topic, value=ENVELOPE.read_bytes())
    producer.send(topic, value=b"{broken")
    producer.flush()
    producer.close()
    connections_before = endpoint.proxy.accepted

    stats = MatchingService(settings).run(until_caught_up=True, max_seconds=90)

    assert stats.outcomes["stored"] == 1
    assert dict(stats.dead_letters) == {"bad_json": 1}
    # The consumer and the dead-letter producer each came through the TLS proxy.
    assert endpoint.proxy.accepted >= connections_before + 2
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,
    )
    consumer.assign([TopicPartition(settings.dead_letter_topic, p) for p in range(3)])
    dead = _read(consumer, expected=1)
    assert [dict(m.headers)["riec.error.reason"] for m in dead] == [b"bad_json"]


def test_clients_without_the_ca_or_without_tls_are_refused(
    tls_broker: Callable[[ssl.SSLContext], TlsBroker],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = tls_broker(_server_context(pki.server))
    caplog.set_level("WARNING", logger="kafka")

    _refused(endpoint.bootstrap, client_options(_security_from_env(monkeypatch)))
    _refused(
        endpoint.bootstrap,
        client_options(_security_from_env(monkeypatch, security_protocol="SSL")),
    )
    # The system's CAs do not know the broker's: the log says so, not only "no broker".
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert endpoint.proxy.accepted == 0

    trusted = _security_from_env(monkeypatch, security_protocol="SSL", ssl_cafile=pki.ca_file)
    assert _round_trip(endpoint.bootstrap, client_options(trusted)) == [b"over tls"]


def test_mutual_tls_with_an_encrypted_client_key(
    tls_broker: Callable[[ssl.SSLContext], TlsBroker],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = tls_broker(_server_context(pki.server, client_ca=pki.ca_file))
    anonymous = _security_from_env(monkeypatch, security_protocol="SSL", ssl_cafile=pki.ca_file)
    _refused(endpoint.bootstrap, client_options(anonymous))

    certified = _security_from_env(
        monkeypatch,
        security_protocol="SSL",
        ssl_cafile=pki.ca_file,
        ssl_certfile=pki.client[0],
        ssl_keyfile=pki.client[1],
        ssl_key_password=KEY_PASSWORD,
    )
    assert _round_trip(endpoint.bootstrap, client_options(certified)) == [b"over tls"]


def test_hostname_check_refuses_a_certificate_for_another_host_unless_turned_off(
    tls_broker: Callable[[ssl.SSLContext], TlsBroker],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = tls_broker(_server_context(pki.other_host))
    caplog.set_level("WARNING", logger="kafka")
    checked = _security_from_env(monkeypatch, security_protocol="SSL", ssl_cafile=pki.ca_file)
    _refused(endpoint.bootstrap, client_options(checked))
    assert "mismatch" in caplog.text

    unchecked = _security_from_env(
        monkeypatch, security_protocol="SSL", ssl_cafile=pki.ca_file, ssl_check_hostname="false"
    )
    assert _round_trip(endpoint.bootstrap, client_options(unchecked)) == [b"over tls"]


def test_topic_setup_and_a_partner_push_go_over_tls(
    tls_broker: Callable[[ssl.SSLContext], TlsBroker],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from contract import is_batch_report
    from partner.pseudonymise import Pseudonymiser
    from partner.push import PushOptions
    from partner.service import push_file
    from riec.pipeline import create_topics

    endpoint = tls_broker(_server_context(pki.server))
    settings = _tls_settings(endpoint, pki, monkeypatch, tmp_path)
    create_topics(settings, ["gemeente-x"], partitions=1)
    export = tmp_path / "meldingen.csv"
    export.write_text(
        "record_id;voornamen;achternaam;geboortedatum;signaal_code;thema;signaal_datum;grondslag\n"
        "GX-1;Maria;Jansen;1975-01-02;woonfraude_melding;vastgoedfraude;2026-02-01;"
        "avg-6-1-e-uavg-convenant\n",
        encoding="utf-8",
    )
    options = PushOptions(
        partner="gemeente-x", partner_type="gemeente", entity_type="person", batch_id="b1"
    )
    report = push_file(
        export, options, settings=settings, pseudonymiser=Pseudonymiser(bytes(32), "k1")
    )
    assert (report.sent, report.rejected) == (1, 0)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_options(settings),
    )
    consumer.assign([TopicPartition(settings.partner_topic("gemeente-x"), 0)])
    # The record, then the batch report that tells the RIEC what the push read and refused.
    values = [json.loads(m.value) for m in _read(consumer, expected=2)]
    assert [is_batch_report(v) for v in values] == [False, True]
