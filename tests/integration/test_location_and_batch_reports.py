"""Contract 1.1 end to end: the gemeentecode and the batch report, through the real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaProducer
from sqlalchemy import select
from test_end_to_end import SECRET, signal, write_csv

from core.settings import RiecSettings
from partner.gemeente import load_postcode_gemeenten
from partner.pseudonymise import Pseudonymiser
from riec.pipeline import PartnerFile, create_topics, match_until_caught_up, push_files
from storage import connect
from storage.models import BatchReport, Record

pytestmark = pytest.mark.integration

MAPPING = Path(__file__).parent / "data" / "postcode_gemeente.csv"
BASIS = {"grondslag": "avg-6-1-e-uavg-convenant"}


def test_gemeentecodes_and_batch_reports_land(settings: RiecSettings, tmp_path: Path) -> None:
    rows = [
        {  # the column wins
            "record_id": "TLB-1",
            "straat": "Haagweg",
            "huisnummer": "3",
            "postcode": "5038 AB",
            "gemeentecode": "0758",
            **signal("woonfraude_melding", "vastgoedfraude", "2026-02-01"),
            **BASIS,
        },
        {  # the postcode mapping
            "record_id": "TLB-2",
            "straat": "Piusstraat",
            "huisnummer": "10",
            "postcode": "5038 AB",
            **signal("woonfraude_melding", "vastgoedfraude", "2026-02-02"),
            **BASIS,
        },
        {  # neither: the gemeente's own code
            "record_id": "TLB-3",
            "bag_id": "0855010000012345",
            **signal("woonfraude_melding", "vastgoedfraude", "2026-02-03"),
            **BASIS,
        },
        {  # a postcode that fails its check: rejected at the partner, counted in the report
            "record_id": "TLB-4",
            "straat": "Piusstraat",
            "huisnummer": "11",
            "postcode": "0038 AB",
            **signal("woonfraude_melding", "vastgoedfraude", "2026-02-03"),
            **BASIS,
        },
        {  # a gemeente column that is no code: sent without it, reported as dropped
            "record_id": "TLB-5",
            "bag_id": "0855010000054321",
            "gemeente": "Tilburg",
            **signal("woonfraude_melding", "vastgoedfraude", "2026-02-03"),
            **BASIS,
        },
    ]
    source = write_csv(tmp_path / "address.csv", "address", rows)
    create_topics(settings, ["gemeente-tilburg"])
    files = [PartnerFile("gemeente-tilburg", "gemeente", "address", source, None, "GM0855")]
    [report] = push_files(
        settings,
        files,
        Pseudonymiser(SECRET, "k1"),
        postcode_gemeenten=load_postcode_gemeenten(MAPPING),
    )
    assert (report.sent, report.rejected, report.dropped) == (4, 1, 1)

    stats = match_until_caught_up(settings, max_seconds=120)
    assert stats.outcomes["stored"] == 4 and stats.outcomes["reported"] == 1
    assert not stats.dead_letters
    db = connect(settings.resolved_database_url)
    with db.session() as session:
        codes = dict(session.execute(select(Record.partner_record_id, Record.gemeentecode)).all())
        stored = session.scalars(select(BatchReport)).one()
    assert codes == {"TLB-1": "GM0758", "TLB-2": "GM0855", "TLB-3": "GM0855", "TLB-5": None}
    assert (stored.partner, stored.batch_id, stored.entity_type) == (
        "gemeente-tilburg",
        report.batch_id,
        "address",
    )
    assert (stored.rows_read, stored.rows_sent, stored.rows_rejected) == (5, 4, 1)
    assert stored.rejected_by_reason == {"postcode": 1}
    assert stored.dropped_by_reason == {"gemeentecode": 1}

    # Replayed, the report changes nothing; a newer report of the batch replaces it.
    replay = settings.model_copy(update={"consumer_group": settings.consumer_group + "-replay"})
    match_until_caught_up(replay, max_seconds=120)
    with db.session() as session:
        assert session.scalars(select(BatchReport)).one().message_id == stored.message_id
    db.dispose()


def test_a_version_1_envelope_without_a_gemeente_still_lands(settings: RiecSettings) -> None:
    create_topics(settings, ["gemeente-x"])
    good = json.loads(
        (Path(__file__).parent / "data" / "envelope_gemeente_x.json").read_text(encoding="utf-8")
    )
    assert good["schema_version"] == "1" and "gemeentecode" not in good
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    producer.send(settings.partner_topic("gemeente-x"), value=json.dumps(good).encode())
    producer.flush()
    producer.close()
    assert match_until_caught_up(settings, max_seconds=120).outcomes["stored"] == 1
    db = connect(settings.resolved_database_url)
    with db.session() as session:
        assert session.scalars(select(Record.gemeentecode)).one() is None
    db.dispose()
