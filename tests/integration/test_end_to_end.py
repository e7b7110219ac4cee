"""Partner CSV -> riec partner push -> real broker -> matching service -> database."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select

from core.settings import RiecSettings
from partner.columns import columns_for
from partner.pseudonymise import Pseudonymiser
from riec.export import export_entities
from riec.pipeline import PartnerFile, create_topics, match_until_caught_up, push_files
from storage import connect
from storage.models import Entity, Record

pytestmark = pytest.mark.integration

SECRET = bytes.fromhex("5f" * 32)


def write_csv(path: Path, entity_type: str, rows: list[dict[str, str]], sep: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns_for(entity_type), delimiter=sep)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def signal(code: str, theme: str, day: str) -> dict[str, str]:
    return {"signaal_code": code, "thema": theme, "signaal_datum": day}


@pytest.fixture
def partner_files(tmp_path: Path) -> list[PartnerFile]:
    gemeente = write_csv(
        tmp_path / "gemeente-tilburg" / "person.csv",
        "person",
        [
            {
                "record_id": "TLB-2026-000001",
                "bsn": "111222333",
                "voornamen": "Johannes Petrus",
                "tussenvoegsel": "van den",
                "achternaam": "Berg",
                "geboortedatum": "1980-05-17",
                "straat": "Dorpsstraat",
                "huisnummer": "12a",
                "postcode": "5038 AB",
                "woonplaats": "Tilburg",
                **signal("woonfraude_melding", "vastgoedfraude", "2026-02-01"),
                "grondslag": "avg-6-1-e-uavg-convenant",
            },
            {
                "record_id": "TLB-2026-000002",
                "voornamen": "Maria",
                "achternaam": "Jansen-de Vries",
                "geboortedatum": "02-01-1975",
                **signal("bibob_weigering", "horeca", "2026-03-01"),
                "grondslag": "avg-6-1-e-uavg-convenant",
            },
            {  # fails the 11-check: rejected at the partner, never sent
                "record_id": "TLB-2026-000003",
                "bsn": "123456789",
                "achternaam": "Smit",
                **signal("woonfraude_melding", "vastgoedfraude", "2026-02-01"),
                "grondslag": "avg-6-1-e-uavg-convenant",
            },
        ],
    )
    politie = write_csv(
        tmp_path / "politie-zwb" / "person.csv",
        "person",
        [
            {
                "record_id": "PZWB-24-5567",
                "naam": "Berg, J.P. van den",
                "geboortedatum": "17-05-1980",
                "straat": "Dorpsstr.",
                "huisnummer": "12 A",
                "postcode": "5038ab",
                "woonplaats": "TILBURG",
                **signal("hennepkwekerij_ontmanteld", "drugs", "2025-11-20"),
                "grondslag": "wpg-art20",
            },
            {
                "record_id": "PZWB-24-7001",
                "naam": "Vries, M. de",
                "geboortedatum": "1975-01-02",
                **signal("witwassen_melding", "witwassen", "2026-01-15"),
                "grondslag": "wpg-art20",
            },
        ],
        sep=";",
    )
    belasting = write_csv(
        tmp_path / "belastingdienst" / "person.csv",
        "person",
        [
            {
                "record_id": "BD-2026-00042",
                "bsn": "111222333",
                "voornamen": "Jan",
                "achternaam": "Vandenberg",
                "geboortedatum": "1980-05-17",
                **signal("onverklaard_vermogen", "witwassen", "2026-04-01"),
                "grondslag": "awr-art67-urawr-43c",
            }
        ],
    )
    return [
        PartnerFile("gemeente-tilburg", "gemeente", "person", gemeente),
        PartnerFile("politie-zwb", "politie", "person", politie),
        PartnerFile("belastingdienst", "belastingdienst", "person", belasting),
    ]


def test_one_person_from_three_partners_becomes_one_entity(
    settings: RiecSettings, partner_files: list[PartnerFile], tmp_path: Path
) -> None:
    create_topics(settings, [f.partner for f in partner_files])
    reports = push_files(settings, partner_files, Pseudonymiser(SECRET, "k1"))
    assert sum(r.sent for r in reports) == 5
    gemeente = reports[0]
    assert gemeente.rejected == 1 and gemeente.rejects_path is not None
    rejects = gemeente.rejects_path.read_text(encoding="utf-8")
    assert "TLB-2026-000003" in rejects and "bsn" in rejects
    assert "123456789" not in rejects  # the reason, never the value

    stats = match_until_caught_up(settings, max_seconds=120)
    assert stats.outcomes["stored"] == 5
    assert not stats.dead_letters

    db = connect(settings.resolved_database_url)
    with db.session() as session:
        by_key = {(r.partner, r.partner_record_id): r for r in session.scalars(select(Record))}
        jan = {
            by_key[k].entity_id
            for k in [
                ("gemeente-tilburg", "TLB-2026-000001"),
                ("politie-zwb", "PZWB-24-5567"),
                ("belastingdienst", "BD-2026-00042"),
            ]
        }
        assert len(jan) == 1
        entity = session.get(Entity, jan.pop())
        assert entity is not None and entity.partner_count == 3
        maria = by_key[("gemeente-tilburg", "TLB-2026-000002")]
        assert maria.entity_id == by_key[("politie-zwb", "PZWB-24-7001")].entity_id
        assert maria.legal_basis == "avg-6-1-e-uavg-convenant"

    export = tmp_path / "entities.csv"
    assert export_entities(db, export, actor="test") == 5
    with export.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["partner_record_id"] for r in rows} >= {"BD-2026-00042", "PZWB-24-5567"}


def test_replaying_the_topic_changes_nothing(
    settings: RiecSettings, partner_files: list[PartnerFile]
) -> None:
    create_topics(settings, [f.partner for f in partner_files])
    push_files(settings, partner_files, Pseudonymiser(SECRET, "k1"))
    match_until_caught_up(settings, max_seconds=120)
    db = connect(settings.resolved_database_url)
    with db.session() as session:
        before = sorted(session.execute(select(Record.partner_record_id, Record.entity_id)).all())
    replay = settings.model_copy(update={"consumer_group": settings.consumer_group + "-replay"})
    stats = match_until_caught_up(replay, max_seconds=120)
    assert stats.outcomes["replay"] == 5
    with db.session() as session:
        after = sorted(session.execute(select(Record.partner_record_id, Record.entity_id)).all())
    assert after == before


def test_bad_messages_go_to_the_dead_letter_topic(settings: RiecSettings) -> None:
    from kafka import KafkaProducer

    create_topics(settings, ["gemeente-x", "politie-y"])
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    good = json.loads(
        (Path(__file__).parent / "data" / "envelope_gemeente_x.json").read_text(encoding="utf-8")
    )
    wrong_partner = dict(good, partner="politie-y", partner_type="politie", legal_basis="wpg-art20")
    unknown_key = json.loads(json.dumps(good))
    unknown_key["pseudonymisation"]["key_version"] = "k9"
    leaky = json.loads(json.dumps(good))
    leaky["partner_record_id"] = "BSN-111222333"
    topic = settings.partner_topic("gemeente-x")
    for value in (
        b"{broken",
        json.dumps({"schema_version": "1"}).encode(),
        b"x" * (settings.max_message_bytes + 1),
        json.dumps(wrong_partner).encode(),
        json.dumps(unknown_key).encode(),
        json.dumps(leaky).encode(),
        json.dumps(good).encode(),
    ):
        producer.send(topic, value=value)
    producer.flush()
    producer.close()

    stats = match_until_caught_up(settings, max_seconds=120)
    assert stats.outcomes["stored"] == 1
    assert dict(stats.dead_letters) == {
        "bad_json": 1,
        "schema_violation": 1,
        "oversized": 1,
        "wrong_partner_for_topic": 1,
        "unknown_key_version": 1,
        "plaintext_identifier": 1,
    }
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    consumer.assign([TopicPartition(settings.dead_letter_topic, p) for p in range(3)])
    consumer.seek_to_beginning()
    dead = list(consumer)
    consumer.close()
    assert len(dead) == 6
    for message in dead:
        headers = dict(message.headers)
        assert headers["riec.source.topic"] == topic.encode()
        assert int(headers["riec.source.offset"]) >= 0
        assert headers["riec.error.reason"]
        if headers["riec.error.reason"] == b"plaintext_identifier":
            assert message.value == b""  # never copy the leak onward
            assert b"111222333" not in b"".join(v for _, v in message.headers)


def test_partner_push_command_reports_rejected_rows_and_dropped_fields(
    settings: RiecSettings, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from riec.cli import app

    create_topics(settings, ["gemeente-tilburg"])
    source = write_csv(
        tmp_path / "export.csv",
        "person",
        [
            {
                "record_id": "TLB-1",
                "achternaam": "Bakker",
                "geboortedatum": "1980-02-30",
                **signal("woonfraude_melding", "vastgoedfraude", "2026-02-01"),
                "grondslag": "avg-6-1-e-uavg-convenant",
            },
            {
                "record_id": "TLB-2",
                "bsn": "123456789",
                "achternaam": "Smit",
                **signal("woonfraude_melding", "vastgoedfraude", "2026-02-01"),
                "grondslag": "avg-6-1-e-uavg-convenant",
            },
        ],
    )
    key = tmp_path / "partner.key"
    key.write_text("5f" * 32, encoding="utf-8")
    env = {
        "RIEC_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "RIEC_TOPIC_PREFIX": settings.topic_prefix,
    }
    result = CliRunner().invoke(
        app,
        [
            "partner",
            "push",
            str(source),
            "--partner",
            "gemeente-tilburg",
            "--entity-type",
            "person",
            "--secret-file",
            str(key),
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output and "rejected 1" in result.output
    assert "fields left out of sent rows" in result.output
    rejects = (tmp_path / "export.rejects.csv").read_text(encoding="utf-8")
    assert "row_rejected" in rejects and "field_dropped" in rejects
    assert "1980-02-30" not in rejects and "123456789" not in rejects
