"""A dry run against a real broker: the topic stays empty, and a real push agrees with it."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from core.settings import PartnerSettings, RiecSettings
from partner.push import PushOptions, PushReport
from partner.service import push_file
from riec.broker import LocalBroker
from riec.pipeline import create_topics

pytestmark = pytest.mark.integration

SECRET = bytes.fromhex("5f" * 32)
PARTNER = "gemeente-tilburg"
BASIS = "avg-6-1-e-uavg-convenant"
EXPORT = [
    ["Kenmerk", "bsn", "achternaam", "geboortedatum", "signaal_code", "thema", "signaal_datum"],
    [
        "TLB-1",
        "111222333",
        "Berg",
        "1980-05-17",
        "woonfraude_melding",
        "vastgoedfraude",
        "2026-02-01",
    ],
    ["TLB-2", "123456789", "Smit", "", "woonfraude_melding", "vastgoedfraude", "2026-02-01"],
    ["TLB-3", "", "Jansen", "1980-02-30", "woonfraude_melding", "vastgoedfraude", "2026-02-01"],
    ["TLB-4", "", "Visser", "", "", "drugs", "2026-02-01"],
]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def messages_on(settings: RiecSettings, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def test_dry_run_sends_nothing_and_agrees_with_the_real_push(
    broker: LocalBroker, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    settings = RiecSettings(
        data_dir=tmp_path / "var",
        bootstrap_servers=broker.bootstrap,
        topic_prefix=f"t{run}.partner.",
        dead_letter_topic=f"t{run}.deadletter",
    )
    create_topics(settings, [PARTNER])
    topic = settings.partner_topic(PARTNER)
    export = tmp_path / "meldingen.csv"
    with export.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=";").writerows(EXPORT)
    key = tmp_path / "riec.key"
    key.write_text(SECRET.hex(), encoding="utf-8")
    options = PushOptions(
        PARTNER, "gemeente", "person", batch_id="20260301T120000.000000Z", legal_basis=BASIS
    )

    def push(dry_run: bool, rejects: Path) -> PushReport:
        return push_file(
            export,
            options,
            settings=PartnerSettings(**settings.connection()),
            secret_file=key,
            mapping={"record_id": "Kenmerk"},
            rejects_path=rejects,
            dry_run=dry_run,
        )

    dry = push(True, tmp_path / "dry.rejects.csv")
    assert (dry.read, dry.would_send, dry.sent, dry.rejected) == (4, 2, 0, 2)
    assert messages_on(settings, topic) == 0

    real = push(False, tmp_path / "real.rejects.csv")
    assert real.sent == dry.would_send
    # The records, and after them the batch report (contract 1.1).
    assert messages_on(settings, topic) == real.sent + 1
    assert (real.read, real.rejected, real.reasons) == (dry.read, dry.rejected, dry.reasons)
    assert (real.dropped, real.dropped_reasons) == (dry.dropped, dry.dropped_reasons)
    assert (real.key_version, real.key_fingerprint) == (dry.key_version, dry.key_fingerprint)
    assert read_csv(tmp_path / "real.rejects.csv") == read_csv(tmp_path / "dry.rejects.csv")
    assert read_csv(tmp_path / "dry.rejects.csv") == [
        ["line", "record_id", "field", "reason", "action"],
        ["3", "TLB-2", "bsn", "fails the 11-check", "row_rejected"],
        ["4", "TLB-3", "geboortedatum", "is not a valid calendar date", "field_dropped"],
        ["5", "TLB-4", "signaal_code", "is required", "row_rejected"],
    ]
    assert real.preview is None and dry.preview is not None
