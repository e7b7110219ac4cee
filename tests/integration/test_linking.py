"""Clustering on a real database: constraints, order independence, retractions, history.

These tests land envelopes directly (no broker) to exercise the linker in isolation;
the broker path is covered by test_end_to_end.py.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from consumers.landing import Source, land
from matching.defaults import default_params
from matching.explain import explain_entity
from matching.frequencies import with_frequencies
from matching.linker import Linker, LinkerConfig
from partner.pseudonymise import Pseudonymiser
from storage import Database, connect
from storage.models import EntityEvent, Link, Record

pytestmark = pytest.mark.integration

P = Pseudonymiser(bytes(range(32)), "k1")
_clock = datetime(2026, 1, 1, tzinfo=UTC)


def person(
    partner: str,
    record_id: str,
    *,
    surname: str,
    given: str,
    birth: str | None = "1980-05-17",
    bsn: str | None = None,
    address: str | None = None,
    operation: str = "upsert",
    produced: datetime | None = None,
) -> dict[str, Any]:
    tokens: dict[str, str] = {}
    filters = {"surname": P.bloom("surname", surname), "given_names": P.bloom("given_names", given)}
    blocking = [P.blocking_key("person", f"sn|{surname[:3]}")]
    if bsn:
        tokens["bsn"] = P.token("bsn", bsn)
        blocking.append(P.blocking_key("bsn", bsn))
    if birth:
        tokens["birth_date"] = P.token("birth_date", birth)
        filters["birth_date"] = P.bloom("birth_date", birth.replace("-", ""))
    if address:
        tokens["postcode_huisnummer"] = P.token("postcode_huisnummer", address)
    partner_type = partner.split("-")[0]
    basis = {"gemeente": "avg-6-1-e-uavg-convenant", "politie": "wpg-art20", "uwv": "wet-suwi"}
    return {
        "schema_version": "1",
        "message_id": uuid.uuid4().hex,
        "partner": partner,
        "partner_type": partner_type,
        "partner_record_id": record_id,
        "batch_id": "b1",
        "operation": operation,
        "entity_type": "person",
        "produced_at": (produced or _clock).isoformat(),
        "pseudonymisation": {"scheme": "riec-pseudo-v1", "key_version": "k1"},
        "attributes": {"tokens": tokens, "filters": filters, "blocking": sorted(blocking)},
        "signal": {"code": "signaal", "theme": "drugs", "date": "2025-06-01"},
        "legal_basis": basis[partner_type],
        "retention_until": "2030-06-01",
    }


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = connect(database_url)
    yield database
    database.dispose()


def land_all(db: Database, envelopes: list[dict[str, Any]], linker: Linker | None = None) -> None:
    linker = linker or Linker()
    for offset, envelope in enumerate(envelopes):
        with db.session() as session:
            land(session, linker, envelope, Source("t", 0, offset))


def partition(db: Database) -> set[frozenset[tuple[str, str]]]:
    """Entities as sets of partner record keys (ids aside)."""
    groups: dict[str, set[tuple[str, str]]] = {}
    with db.session() as session:
        for rec in session.scalars(select(Record).where(Record.status == "active")):
            groups.setdefault(rec.entity_id, set()).add((rec.partner, rec.partner_record_id))
    return {frozenset(g) for g in groups.values()}


def entity_of(db: Database, partner: str, record_id: str) -> str | None:
    with db.session() as session:
        return session.scalars(
            select(Record.entity_id).where(
                Record.partner == partner, Record.partner_record_id == record_id
            )
        ).one()


def scenario() -> list[dict[str, Any]]:
    return [
        person("gemeente-a", "G1", surname="vandenberg", given="johannes", bsn="111222333"),
        person("politie-b", "P1", surname="vandenburg", given="johannes", address="5611AB|12"),
        person("uwv-c", "U1", surname="vandenberg", given="johannes", bsn="111222333"),
        person("gemeente-a", "G2", surname="jansen", given="maria", birth="1975-01-02"),
        person("politie-b", "P2", surname="janssen", given="maria", birth="1975-01-02"),
        person("uwv-c", "U2", surname="jansen", given="maria", birth="1975-02-01"),
        person("gemeente-a", "G3", surname="dijkstra", given="pieter", birth="1990-09-09"),
        person("politie-b", "P3", surname="bakker", given="kees", birth="1960-03-03"),
    ]


def test_records_of_one_person_from_three_partners_form_one_entity(db: Database) -> None:
    land_all(db, scenario())
    entity = entity_of(db, "gemeente-a", "G1")
    assert entity == entity_of(db, "politie-b", "P1") == entity_of(db, "uwv-c", "U1")
    assert entity_of(db, "gemeente-a", "G2") == entity_of(db, "politie-b", "P2")
    assert entity_of(db, "gemeente-a", "G3") != entity_of(db, "politie-b", "P3")


def test_order_and_replay_do_not_change_the_entities(db: Database, database_url: str) -> None:
    envelopes = scenario()
    land_all(db, envelopes)
    expected = partition(db)
    shuffled = envelopes[:]
    random.Random(3).shuffle(shuffled)
    other = connect(database_url.replace("riec.db", "riec-shuffled.db"))
    if other.engine.dialect.name != "sqlite":
        pytest.skip("a second PostgreSQL database per test is not set up; SQLite covers it")
    land_all(other, shuffled)
    land_all(other, shuffled)  # replay: same message ids, nothing changes
    assert partition(other) == expected
    with other.session() as session:
        assert len(session.scalars(select(Record)).all()) == len(envelopes)


@pytest.mark.parametrize("seed", range(5))
def test_conflicting_bsns_never_share_an_entity_in_any_order(db: Database, seed: int) -> None:
    # B has no BSN and links to both A and C, whose BSNs differ: only one may take it.
    envelopes = [
        person("gemeente-a", "A", surname="devries", given="anna", bsn="111222333"),
        person("politie-b", "B", surname="devries", given="anna"),
        person("uwv-c", "C", surname="devries", given="anna", bsn="123456782"),
    ]
    random.Random(seed).shuffle(envelopes)
    land_all(db, envelopes)
    assert entity_of(db, "gemeente-a", "A") != entity_of(db, "uwv-c", "C")
    groups = partition(db)
    assert len(groups) == 2
    # Ties are broken by record keys, not arrival: B goes with A (smaller key) every time.
    assert frozenset({("gemeente-a", "A"), ("politie-b", "B")}) in groups


def test_giant_cluster_guard_caps_entity_size(db: Database) -> None:
    linker = Linker(LinkerConfig(max_entity_size=3))
    envelopes = [person(f"gemeente-p{i}", f"R{i}", surname="smit", given="jan") for i in range(7)]
    land_all(db, envelopes, linker)
    assert max(len(g) for g in partition(db)) <= 3
    assert sum(len(g) for g in partition(db)) == 7


def test_retraction_splits_an_entity_held_together_by_one_record(db: Database) -> None:
    # P links G (same name and birth date) and U (same address), which share nothing.
    later = _clock + timedelta(hours=1)
    envelopes = [
        person("gemeente-a", "G", surname="demir", given="mehmet", address=None),
        person("politie-b", "P", surname="demir", given="mehmet", address="1234AB|1"),
        person("uwv-c", "U", surname="demirr", given="mehmet", birth=None, address="1234AB|1"),
    ]
    land_all(db, envelopes)
    before = entity_of(db, "politie-b", "P")
    assert entity_of(db, "gemeente-a", "G") == before == entity_of(db, "uwv-c", "U")
    retract = person("politie-b", "P", surname="x", given="x", operation="retract", produced=later)
    for key in ("attributes", "signal", "legal_basis", "retention_until"):
        retract.pop(key)
    land_all(db, [retract])
    g, u = entity_of(db, "gemeente-a", "G"), entity_of(db, "uwv-c", "U")
    assert g != u
    assert before in {g, u}  # the part with the oldest record keeps the id
    with db.session() as session:
        events = {e.event for e in session.scalars(select(EntityEvent))}
    assert {"created", "record_joined", "record_left"} <= events


def test_stale_upserts_cannot_resurrect_a_retracted_record(db: Database) -> None:
    first = person("gemeente-a", "G", surname="kok", given="theo")
    retract = person(
        "gemeente-a",
        "G",
        surname="kok",
        given="theo",
        operation="retract",
        produced=_clock + timedelta(hours=2),
    )
    stale = person(
        "gemeente-a", "G", surname="kok", given="theo", produced=_clock + timedelta(hours=1)
    )
    land_all(db, [first, retract, stale])
    with db.session() as session:
        record = session.scalars(select(Record)).one()
        assert record.status == "retracted"
        assert record.entity_id is None


def test_explanation_lists_field_contributions(db: Database) -> None:
    land_all(db, scenario()[:3])
    entity = entity_of(db, "gemeente-a", "G1")
    assert entity is not None
    explanation = explain_entity(db, entity, actor="A. Analist")
    assert len(explanation.records) == 3
    assert explanation.links, "linked records must have stored links"
    totals = explanation.field_totals()
    assert "bsn" in totals and totals["bsn"] > 10
    for link in explanation.links:
        assert all({"level", "weight"} <= set(part) for part in link["contributions"].values())


def company(partner: str, record_id: str, kvk: str, name: str, address: str) -> dict[str, Any]:
    envelope = person(partner, record_id, surname="x", given="x")
    envelope.update(entity_type="company")
    envelope["attributes"] = {
        "tokens": {"kvk": P.token("kvk", kvk)},
        "filters": {"company_name": P.bloom("company_name", name)},
        "blocking": [P.blocking_key("kvk", kvk)],
    }
    envelope["relations"] = [
        {
            "kind": "located_at",
            "entity_type": "address",
            "tokens": {"postcode_huisnummer": P.token("postcode_huisnummer", address)},
        }
    ]
    return envelope


def test_relationships_resolve_to_entities_and_reveal_concentrations(db: Database) -> None:
    from matching.relationships import concentrations, entity_relationships

    flex = "1012AB|1"
    envelopes = [
        company("gemeente-a", f"C{i}", f"1234567{i}", f"holding {i}", flex) for i in range(4)
    ]
    envelopes.append(company("politie-b", "C9", "12345670", "holding 0", flex))  # same as C0
    envelopes.append(company("uwv-c", "C5", "87654321", "bakkerij", "9999ZZ|5"))
    address = person("gemeente-a", "ADR1", surname="x", given="x")
    address.update(entity_type="address")
    address["attributes"] = {
        "tokens": {"postcode_huisnummer": P.token("postcode_huisnummer", flex)},
        "filters": {},
        "blocking": [],
    }
    land_all(db, [*envelopes, address])
    with db.session() as session:
        relationships = entity_relationships(session)
        address_entity = session.scalars(
            select(Record.entity_id).where(Record.partner_record_id == "ADR1")
        ).one()
    assert len(relationships) == 6
    found = concentrations(relationships, "located_at", "company", minimum=3)
    assert len(found) == 1
    assert found[0].count == 4  # C0 and C9 are one company
    assert found[0].target_entity_id == address_entity
    assert found[0].partners == ("gemeente-a", "politie-b")


def test_explain_and_model_commands(db: Database, database_url: str) -> None:
    import json

    from typer.testing import CliRunner

    from riec.cli import app

    land_all(db, scenario()[:3])
    entity = entity_of(db, "gemeente-a", "G1")
    env = {"RIEC_DATABASE_URL": database_url}
    result = CliRunner().invoke(app, ["explain", str(entity), "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert {r["partner_record_id"] for r in shown["records"]} == {"G1", "P1", "U1"}
    assert CliRunner().invoke(app, ["explain", "E-nonexistent"], env=env).exit_code == 2
    table = CliRunner().invoke(app, ["model", "show", "person"], env=env)
    assert table.exit_code == 0 and "birth_date" in table.output


def trained(db: Database, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The models with the term frequencies of what is stored now, as training sets them."""
    with db.session() as session:
        return {
            t: with_frequencies(session, p)
            for t, p in (params or {t: default_params(t) for t in TYPES}).items()
        }


TYPES = ("person", "company", "address", "vehicle")


def test_common_surnames_count_for_less_and_never_make_candidates(db: Database) -> None:
    # Twenty unrelated Jansens, counted into the model; then one Maria Jansen and one
    # Maria Zwanikken at two partners each, alike in everything but how common their
    # surname is.
    crowd = [
        person(
            "uwv-c",
            f"J{i}",
            surname="jansen",
            given=f"kind{i}",
            birth=f"19{40 + i}-03-0{1 + i % 9}",
        )
        for i in range(20)
    ]
    pairs = [
        person(partner, f"{name}-{partner}", surname=name, given="maria", birth="1975-01-02")
        for name in ("jansen", "zwanikken")
        for partner in ("gemeente-a", "politie-b")
    ]
    land_all(db, crowd)
    land_all(db, pairs, Linker(LinkerConfig(min_records_for_tf=2), params=trained(db)))
    with db.session() as session:
        weights = {
            session.get(Record, link.record_a).partner_record_id.split("-")[0]: link.contributions[
                "surname"
            ]["weight"]
            for link in session.scalars(select(Link))
        }
    assert weights["jansen"] < weights["zwanikken"]

    # Records that share only their names, no blocking key or token, are never compared:
    # with a threshold that links every compared pair, they still stay apart.
    eager = {t: default_params(t) for t in TYPES}
    eager["person"].threshold = 1e-9
    loners = [
        person(f"gemeente-l{i}", f"L{i}", surname="zwanikken", given="maria", birth=None)
        for i in range(2)
    ]
    for i, envelope in enumerate(loners):
        envelope["attributes"]["blocking"] = [P.blocking_key("person", f"only-{i}")]
    land_all(db, loners, Linker(LinkerConfig(min_records_for_tf=2), params=eager))
    assert entity_of(db, "gemeente-l0", "L0") != entity_of(db, "gemeente-l1", "L1")


def test_oversized_blocks_make_no_pairs_but_still_count(db: Database) -> None:
    eager = {t: default_params(t) for t in TYPES}
    eager["person"].threshold = 1e-9  # every compared pair links
    config = LinkerConfig(max_block_size=3, min_records_for_tf=2)

    def alone(
        record_id: str, blocking: str, bsn: str | None = None, birth: str = "1980-05-17"
    ) -> dict[str, Any]:
        envelope = person(
            f"gemeente-{record_id}", record_id, surname="x", given="y", birth=birth, bsn=bsn
        )
        envelope["attributes"]["blocking"] = [P.blocking_key("person", blocking)]
        return envelope

    # Three people with different BSNs share a date of birth (compared, never linked);
    # then the date's block holds four records, over the limit of three: X, sharing only
    # the date, is compared with nobody. The model is then trained on these four. A and B
    # also share a small block: they are compared, and their equal date counts as a value
    # four records held.
    land_all(
        db,
        [alone(r, f"only-{r}", bsn) for r, bsn in zip("cde", BSNS, strict=True)]
        + [alone("x", "only-x")],
        Linker(config, params=eager),
    )
    land_all(db, [alone(r, "small") for r in "ab"], Linker(config, params=trained(db, eager)))
    groups = partition(db)
    assert frozenset({("gemeente-a", "a"), ("gemeente-b", "b")}) in groups
    assert frozenset({("gemeente-x", "x")}) in groups
    assert len(groups) == 5
    with db.session() as session:
        links = session.scalars(select(Link)).all()
        (pair,) = [link for link in links if "bsn" not in link.contributions]
    birth = eager["person"].comparisons["birth_date"]
    expected = math.log2(birth.m[0] / ((2 + 1) / (4 + 1 / birth.u[0])))
    assert pair.contributions["birth_date"]["weight"] == pytest.approx(expected, abs=1e-3)


BSNS = ("100000009", "200000007", "300000005")
