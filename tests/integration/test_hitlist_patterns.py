"""Relationships feed the hit list: many companies registered at one address."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select
from test_linking import P, company, land_all, person

from hitlist import build_hit_list, load_criteria
from hitlist.render import render_csv
from storage import Database, Record, connect

pytestmark = pytest.mark.integration

FLEX = "1012AB|1"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = connect(database_url)
    yield database
    database.dispose()


def address_record(partner: str, record_id: str) -> dict:
    envelope = person(partner, record_id, surname="x", given="x")
    envelope["entity_type"] = "address"
    envelope["attributes"] = {
        "tokens": {"postcode_huisnummer": P.token("postcode_huisnummer", FLEX)},
        "filters": {},
        "blocking": [],
    }
    return envelope


def test_flex_office_address_carries_its_pattern_on_the_hit_list(db: Database) -> None:
    companies = [
        company(partner, f"C{i}", f"1234567{i}", f"holding {i}", FLEX)
        for i, partner in enumerate(["gemeente-a", "politie-b", "uwv-c", "gemeente-a"])
    ]
    land_all(
        db, [*companies, address_record("gemeente-a", "A1"), address_record("politie-b", "A2")]
    )
    criteria = dataclasses.replace(load_criteria(), require_passed_validation=False)
    with db.session() as session:
        built = build_hit_list(session, criteria, today=date(2026, 1, 1))
        address = session.scalars(
            select(Record.entity_id).where(Record.partner_record_id == "A1")
        ).one()
    rows = {row.entity_id: row for row in built.rows}
    assert address in rows  # two partners have a signal on the address itself
    assert rows[address].patterns == ("address of 4 companies",)
    finding = next(f for f in built.patterns if f.pattern == "companies_at_address")
    assert finding.target_entity_id == address and finding.on_hit_list
    assert finding.partners == ("gemeente-a", "politie-b", "uwv-c")
    assert "address of 4 companies" in render_csv(built)
