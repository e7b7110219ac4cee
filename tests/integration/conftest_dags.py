"""Helpers for the DAG tests: a throw-away Airflow home and a seeded RIEC database.

Not a ``conftest.py``: test modules import it explicitly. Airflow reads its configuration once,
when it is first imported, so the test Airflow home must be in place before any test imports
``airflow``. The chosen home is kept in the environment, so every test module in the process
(whichever imports this helper first) shares it.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from riec.airflow_local import DAGS_FOLDER, migrate, use_airflow_home
from storage import Database, Entity, Link, Record

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = DAGS_FOLDER
_MARKER = "RIEC_TEST_AIRFLOW_HOME"


def use_test_airflow_home() -> Path:
    """Point Airflow at a temporary home with our dags/ folder; idempotent per process."""
    existing = os.environ.get(_MARKER)
    if existing:
        return Path(existing)
    home = Path(tempfile.mkdtemp(prefix="riec-airflow-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    use_airflow_home(home)
    os.environ[_MARKER] = str(home)
    return home


def migrate_airflow_db(home: Path) -> float:
    """Run ``airflow db migrate`` once for ``home``; return the seconds it took (0 if done)."""
    return migrate(home)


# --- seeded RIEC database -------------------------------------------------------------------

PARTNERS: dict[str, tuple[str, str]] = {
    # partner id: (partner type, legal basis its records are shared under)
    "gemeente-tilburg": ("gemeente", "avg-6-1-e-uavg-convenant"),
    "politie-zeeland": ("politie", "wpg-art20"),
    "belastingdienst": ("belastingdienst", "awr-art67-urawr-43c"),
    "uwv": ("uwv", "wet-suwi"),
}
BAD_BATCH = ("uwv", "uwv-2026-11")


@dataclass
class Seeded:
    """What the seed wrote, for assertions."""

    hit_entities: set[str]
    """Entities with eligible signals from two or more partners."""
    batches: set[tuple[str, str]]
    bad_batch: tuple[str, str]
    pseudonyms: list[str] = field(default_factory=list)
    """Every token and filter value written: none may appear in a hit list."""
    partner_record_ids: dict[str, set[str]] = field(default_factory=dict)


class _Seeder:
    def __init__(self, today: date) -> None:
        self.today = today
        self.offset = 0
        self.records: list[Record] = []
        self.entities: list[Entity] = []
        self.links: list[tuple[Record, Record, float, dict[str, float]]] = []
        self.pseudonyms: list[str] = []

    def entity(self, entity_id: str, entity_type: str) -> str:
        now = datetime.now(UTC)
        self.entities.append(
            Entity(entity_id=entity_id, entity_type=entity_type, created_at=now, updated_at=now)
        )
        return entity_id

    def record(
        self,
        entity_id: str,
        entity_type: str,
        partner: str,
        record_id: str,
        *,
        batch_id: str | None = None,
        days_ago: int = 30,
        theme: str = "drugs",
        code: str = "hennepkwekerij_ontmanteld",
        legal_basis: str | None = None,
        retention_days: int = 365,
        person_category: str | None = None,
        status: str = "active",
    ) -> Record:
        partner_type, default_basis = PARTNERS[partner]
        token = secrets.token_hex(16)
        bloom = secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")
        self.pseudonyms += [token, bloom]
        signal_date = self.today - timedelta(days=days_ago)
        self.offset += 1
        record = Record(
            partner=partner,
            partner_type=partner_type,
            partner_record_id=record_id,
            batch_id=batch_id or f"{partner}-b1",
            entity_type=entity_type,
            status=status,
            key_version="k1",
            tokens={"id": token},
            filters={"naam": bloom},
            relations=[],
            signal_code=code,
            signal_theme=theme,
            signal_date=signal_date,
            person_category=person_category,
            legal_basis=legal_basis or default_basis,
            retention_until=signal_date + timedelta(days=retention_days),
            message_id=secrets.token_hex(16),
            produced_at=datetime.now(UTC),
            source_topic=f"riec.partner.{partner}",
            source_partition=0,
            source_offset=self.offset,
            received_at=datetime.now(UTC) - timedelta(minutes=5),
            entity_id=entity_id,
        )
        self.records.append(record)
        return record

    def link(self, a: Record, b: Record, probability: float, **contributions: float) -> None:
        self.links.append((a, b, probability, contributions))


def seed_records(db: Database, today: date) -> Seeded:
    """Write a small landscape of records, entities and links (see the comments per entity)."""
    s = _Seeder(today)
    # Three partners on one person, two themes: the top of the list.
    e1 = s.entity("ent-person-0001", "person")
    r1 = s.record(e1, "person", "gemeente-tilburg", "GT-1001", person_category="betrokkene")
    r2 = s.record(
        e1,
        "person",
        "politie-zeeland",
        "PZ-77",
        theme="witwassen",
        code="contante_aankoop",
        person_category="verdachte",
        days_ago=10,
    )
    r3 = s.record(
        e1,
        "person",
        "belastingdienst",
        "BD-5",
        theme="witwassen",
        code="vermogen_onverklaard",
        person_category="verdachte",
        days_ago=100,
    )
    s.link(r1, r2, 0.97, bsn=11.5, naam=4.2)
    s.link(r2, r3, 0.91, bsn=11.5, geboortedatum=3.1)
    # Two partners on a company.
    e2 = s.entity("ent-company-0002", "company")
    r4 = s.record(
        e2, "company", "gemeente-tilburg", "GT-2002", theme="horeca", code="bibob_weigering"
    )
    r5 = s.record(
        e2,
        "company",
        "belastingdienst",
        "BD-9",
        theme="fraude",
        code="turbo_liquidatie",
        days_ago=200,
    )
    s.link(r4, r5, 0.88, kvk_nummer=9.0, handelsnaam=2.5)
    # One partner, two records: no cross-partner hit.
    e3 = s.entity("ent-address-0003", "address")
    r6 = s.record(e3, "address", "politie-zeeland", "PZ-300", code="woonoverlast")
    r7 = s.record(e3, "address", "politie-zeeland", "PZ-301", code="hennepkwekerij_ontmanteld")
    s.link(r6, r7, 0.99, bag_id=14.0)
    # One partner only.
    e4 = s.entity("ent-vehicle-0004", "vehicle")
    s.record(
        e4, "vehicle", "belastingdienst", "BD-40", theme="witwassen", code="auto_op_naam_stroman"
    )
    # Two partners, but the UWV record sits in a batch that fails validation (wrong legal basis
    # for UWV and a signal date in the future): held back, so not a hit.
    e5 = s.entity("ent-person-0005", "person")
    r8 = s.record(
        e5, "person", "gemeente-tilburg", "GT-5005", theme="arbeidsuitbuiting", code="overbewoning"
    )
    r9 = s.record(
        e5,
        "person",
        "uwv",
        "UWV-1",
        batch_id=BAD_BATCH[1],
        theme="arbeidsuitbuiting",
        code="uitkering_fraude",
        legal_basis="wpg-art20",
        person_category="betrokkene",
    )
    r10 = s.record(
        e5,
        "person",
        "uwv",
        "UWV-2",
        batch_id=BAD_BATCH[1],
        theme="arbeidsuitbuiting",
        code="uitkering_fraude",
        days_ago=-40,
    )
    s.link(r8, r9, 0.93, bsn=11.5)
    s.link(r9, r10, 0.95, bsn=11.5)
    # Two partners, but the municipal record is past its retention date.
    e6 = s.entity("ent-person-0006", "person")
    r11 = s.record(
        e6, "person", "politie-zeeland", "PZ-600", theme="mensenhandel", code="signaal_uitbuiting"
    )
    r12 = s.record(
        e6,
        "person",
        "gemeente-tilburg",
        "GT-6006",
        theme="mensenhandel",
        code="signaal_uitbuiting",
        days_ago=400,
        retention_days=300,
    )
    s.link(r11, r12, 0.9, naam=6.0, geboortedatum=3.0)
    # Two partners, but one record was retracted.
    e7 = s.entity("ent-company-0007", "company")
    r13 = s.record(
        e7, "company", "belastingdienst", "BD-70", theme="fraude", code="turbo_liquidatie"
    )
    r14 = s.record(
        e7,
        "company",
        "politie-zeeland",
        "PZ-700",
        theme="fraude",
        code="stroman",
        status="retracted",
    )
    s.link(r13, r14, 0.8, kvk_nummer=9.0)

    with db.session() as session:
        session.add_all(s.entities)
        session.flush()
        session.add_all(s.records)
        session.flush()
        now = datetime.now(UTC)
        for a, b, probability, contributions in s.links:
            session.add(
                Link(
                    record_a=a.id,
                    record_b=b.id,
                    weight=sum(contributions.values()),
                    probability=probability,
                    contributions=contributions,
                    model_version="test-1",
                    created_at=now,
                )
            )
        by_entity: dict[str, set[str]] = {}
        for record in s.records:
            by_entity.setdefault(record.entity_id or "", set()).add(record.partner)
        for entity in s.entities:
            members = [r for r in s.records if r.entity_id == entity.entity_id]
            entity.record_count = len(members)
            entity.partner_count = len(by_entity.get(entity.entity_id, set()))

    ids: dict[str, set[str]] = {}
    for record in s.records:
        ids.setdefault(record.entity_id or "", set()).add(record.partner_record_id)
    return Seeded(
        hit_entities={e1, e2},
        batches={(r.partner, r.batch_id) for r in s.records},
        bad_batch=BAD_BATCH,
        pseudonyms=s.pseudonyms,
        partner_record_ids=ids,
    )
