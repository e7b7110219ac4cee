"""Hit-list criteria, selection and ranking, rendering and publishing, on a small SQLite file."""

from __future__ import annotations

import copy
import csv
import io
import itertools
import os
import stat
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from hitlist import (
    BuiltHitList,
    CriteriaError,
    build_hit_list,
    load_criteria,
    publish_hit_list,
    render_csv,
    render_html,
    score,
    suppress_small,
)
from hitlist.criteria import BUNDLED_CRITERIA, Criteria, parse_criteria
from storage import AuditEvent, Database, Entity, HitList, Link, Record, ValidationRun, connect

TODAY = date(2026, 6, 1)
BUNDLED = Path(__file__).resolve().parents[2] / "hitlist" / "criteria.toml"
RAW_CRITERIA = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
TYPES = {"gemeente-a": "gemeente", "politie-b": "politie", "belasting-c": "belastingdienst"}
TOKEN = "f" * 32
BLOOM = "QkxPT01GSUxURVJCSVRT"


def criteria(**sections: dict[str, Any]) -> Criteria:
    """The bundled criteria with some settings replaced, e.g. ``selection={"min_partners": 3}``."""
    raw = copy.deepcopy(RAW_CRITERIA)
    for section, values in sections.items():
        target = raw
        for part in section.split("__"):
            target = target[part]
        target.update(values)
    return parse_criteria(raw)


# --- criteria ------------------------------------------------------------------------------


def test_bundled_criteria_load() -> None:
    loaded = load_criteria(BUNDLED)
    assert loaded.version == "2026.1"
    assert loaded.min_partners == 2
    assert loaded.entity_types == ("person", "company", "address", "vehicle")
    assert loaded.source == RAW_CRITERIA


def test_the_bundled_criteria_are_the_default() -> None:
    assert BUNDLED_CRITERIA.resolve() == BUNDLED
    assert load_criteria().version == "2026.1"


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("selection", {"min_partners": 1}, "min_partners"),
        ("selection", {"min_partners": True}, "min_partners"),
        ("selection", {"entity_types": ["person", "boat"]}, "entity_types"),
        ("selection", {"exclude_past_retention": "yes"}, "exclude_past_retention"),
        ("selection", {"min_partner": 2}, "unknown setting"),
        ("ranking__weights", {"recency": -1}, "recency"),
        ("output", {"max_rows": 0}, "max_rows"),
    ],
)
def test_bad_criteria_are_refused(section: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(CriteriaError, match=message):
        criteria(**{section: values})


def test_all_zero_weights_are_refused() -> None:
    zero = dict.fromkeys(RAW_CRITERIA["ranking"]["weights"], 0)
    with pytest.raises(CriteriaError, match="all be zero"):
        criteria(ranking__weights=zero)


def test_missing_version_is_refused() -> None:
    raw = copy.deepcopy(RAW_CRITERIA)
    del raw["version"]
    with pytest.raises(CriteriaError, match="version"):
        parse_criteria(raw)


def test_invalid_toml_is_a_criteria_error(tmp_path: Path) -> None:
    path = tmp_path / "criteria.toml"
    path.write_text("version = ", encoding="utf-8")
    with pytest.raises(CriteriaError, match="not valid TOML"):
        load_criteria(path)


# --- score ---------------------------------------------------------------------------------


def _score(**overrides: Any) -> float:
    arguments: dict[str, Any] = {
        "partner_count": 2,
        "theme_count": 1,
        "days_since_last_signal": 0,
        "mean_link_probability": 0.9,
        "criteria": criteria(),
    }
    arguments.update(overrides)
    return score(**arguments)


def test_more_partners_score_higher_up_to_the_cap() -> None:
    cap = criteria().partners_cap
    scores = [_score(partner_count=n) for n in range(2, cap + 3)]
    assert scores == sorted(scores)
    assert scores[cap - 2] == scores[-1]  # at and beyond the cap: no further credit


def test_recency_halves_the_component_per_half_life() -> None:
    only_recency = criteria(
        ranking__weights={
            "distinct_partners": 0,
            "distinct_themes": 0,
            "recency": 1,
            "mean_link_probability": 0,
        }
    )
    half_life = only_recency.recency_half_life_days
    assert _score(days_since_last_signal=0, criteria=only_recency) == 1.0
    assert _score(days_since_last_signal=half_life, criteria=only_recency) == 0.5


@given(
    partners=st.integers(2, 20),
    themes=st.integers(1, 10),
    days=st.integers(0, 5000),
    probability=st.one_of(st.none(), st.floats(0, 1)),
)
def test_score_stays_between_zero_and_one(
    partners: int, themes: int, days: int, probability: float | None
) -> None:
    value = _score(
        partner_count=partners,
        theme_count=themes,
        days_since_last_signal=days,
        mean_link_probability=probability,
    )
    assert 0.0 <= value <= 1.0


@given(count=st.integers(0, 10_000), threshold=st.integers(1, 50))
def test_small_counts_are_suppressed(count: int, threshold: int) -> None:
    shown = suppress_small(count, threshold)
    assert shown == (f"<{threshold}" if count < threshold else str(count))


# --- selection and ranking -----------------------------------------------------------------


class Landscape:
    """Builds records, entities, links and validation runs with little ceremony."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.offset = itertools.count(1)

    def entity(self, entity_id: str, entity_type: str = "person", active: bool = True) -> str:
        now = datetime.now(UTC)
        with self.db.session() as session:
            session.add(
                Entity(
                    entity_id=entity_id,
                    entity_type=entity_type,
                    created_at=now,
                    updated_at=now,
                    active=active,
                )
            )
        return entity_id

    def record(
        self,
        entity_id: str,
        partner: str,
        record_id: str,
        *,
        days_ago: int = 10,
        theme: str = "drugs",
        retention_days: int = 365,
        status: str = "active",
        batch_id: str = "b1",
        entity_type: str = "person",
        person_category: str | None = "betrokkene",
    ) -> int:
        signal_date = TODAY - timedelta(days=days_ago)
        now = datetime.now(UTC)
        with self.db.session() as session:
            record = Record(
                partner=partner,
                partner_type=TYPES[partner],
                partner_record_id=record_id,
                batch_id=batch_id,
                entity_type=entity_type,
                status=status,
                key_version="k1",
                tokens={"bsn": TOKEN},
                filters={"naam": BLOOM},
                relations=[],
                signal_code=f"{theme}_signaal",
                signal_theme=theme,
                signal_date=signal_date,
                person_category=person_category,
                legal_basis="wgs",
                retention_until=signal_date + timedelta(days=retention_days),
                message_id=f"{next(self.offset):032x}",
                produced_at=now,
                source_topic=f"riec.partner.{partner}",
                source_partition=0,
                source_offset=next(self.offset),
                received_at=now,
                entity_id=entity_id,
            )
            session.add(record)
            session.flush()
            return record.id

    def link(self, a: int, b: int, probability: float, **contributions: float) -> None:
        with self.db.session() as session:
            session.add(
                Link(
                    record_a=a,
                    record_b=b,
                    weight=sum(contributions.values()),
                    probability=probability,
                    contributions=contributions,
                    model_version="m1",
                    created_at=datetime.now(UTC),
                )
            )

    def validated(self, partner: str, batch_id: str = "b1", *, success: bool = True) -> None:
        with self.db.session() as session:
            session.add(
                ValidationRun(
                    run_at=datetime.now(UTC),
                    partner=partner,
                    batch_id=batch_id,
                    suite="partner_records",
                    success=success,
                    evaluated=1,
                    failed=0 if success else 1,
                    record_count=1,
                    results={},
                )
            )

    def build(self, used: Criteria | None = None) -> BuiltHitList:
        with self.db.session() as session:
            return build_hit_list(session, used or criteria(), today=TODAY)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = connect(f"sqlite:///{tmp_path / 'riec.db'}")
    yield database
    database.dispose()


@pytest.fixture
def land(db: Database) -> Landscape:
    landscape = Landscape(db)
    for partner in TYPES:
        landscape.validated(partner)
    return landscape


def _ids(built: BuiltHitList) -> list[str]:
    return [row.entity_id for row in built.rows]


def test_only_entities_with_signals_from_enough_partners(land: Landscape) -> None:
    two = land.entity("two")
    land.record(two, "gemeente-a", "A1")
    land.record(two, "politie-b", "B1")
    one = land.entity("one")
    land.record(one, "gemeente-a", "A2")
    land.record(one, "gemeente-a", "A3")
    assert _ids(land.build()) == ["two"]
    assert _ids(land.build(criteria(selection={"min_partners": 3}))) == []


@pytest.mark.parametrize(
    "second_record",
    [
        {"status": "retracted"},
        {"days_ago": 2000},  # outside the signal window
        {"days_ago": -3},  # dated after the build date
        {"days_ago": 400, "retention_days": 100},  # past retention
    ],
)
def test_ineligible_records_do_not_count_as_a_partner(
    land: Landscape, second_record: dict[str, Any]
) -> None:
    entity = land.entity("e")
    land.record(entity, "gemeente-a", "A1")
    land.record(entity, "politie-b", "B1", **second_record)
    assert _ids(land.build()) == []


def test_entity_type_and_inactive_entities_are_filtered(land: Landscape) -> None:
    company = land.entity("company", "company")
    land.record(company, "gemeente-a", "A1", entity_type="company")
    land.record(company, "politie-b", "B1", entity_type="company")
    retired = land.entity("retired", active=False)
    land.record(retired, "gemeente-a", "A2")
    land.record(retired, "politie-b", "B2")
    assert _ids(land.build()) == ["company"]
    assert _ids(land.build(criteria(selection={"entity_types": ["person"]}))) == []


def test_records_past_retention_count_when_the_criteria_allow(land: Landscape) -> None:
    entity = land.entity("e")
    land.record(entity, "gemeente-a", "A1")
    land.record(entity, "politie-b", "B1", days_ago=400, retention_days=100)
    assert _ids(land.build(criteria(selection={"exclude_past_retention": False}))) == ["e"]


def test_failed_or_unvalidated_batches_are_held_back(land: Landscape) -> None:
    entity = land.entity("e")
    land.record(entity, "gemeente-a", "A1")
    land.record(entity, "politie-b", "B1", batch_id="b2")  # never validated
    built = land.build()
    assert _ids(built) == []
    assert built.held_back_records == 1

    land.validated("politie-b", "b2", success=False)
    assert _ids(land.build()) == []
    land.validated("politie-b", "b2", success=True)  # the latest run decides
    assert _ids(land.build()) == ["e"]
    assert land.build().held_back_records == 0

    land.validated("politie-b", "b2", success=False)
    relaxed = criteria(selection={"require_passed_validation": False})
    assert _ids(land.build(relaxed)) == ["e"]


def test_ranking_prefers_partners_then_themes(land: Landscape) -> None:
    three = land.entity("three")
    for partner, record_id in [("gemeente-a", "A1"), ("politie-b", "B1"), ("belasting-c", "C1")]:
        land.record(three, partner, record_id)
    themes = land.entity("themes")
    land.record(themes, "gemeente-a", "A2", theme="drugs")
    land.record(themes, "politie-b", "B2", theme="witwassen")
    plain = land.entity("plain")
    land.record(plain, "gemeente-a", "A3")
    land.record(plain, "politie-b", "B3")
    built = land.build()
    assert _ids(built) == ["three", "themes", "plain"]
    assert [row.rank for row in built.rows] == [1, 2, 3]
    assert built.rows[0].score > built.rows[1].score > built.rows[2].score


def test_max_rows_cuts_the_list_but_not_the_counts(land: Landscape) -> None:
    for n in range(4):
        entity = land.entity(f"e{n}")
        land.record(entity, "gemeente-a", f"A{n}", days_ago=n)
        land.record(entity, "politie-b", f"B{n}", days_ago=n)
    built = land.build(criteria(output={"max_rows": 2}))
    assert _ids(built) == ["e0", "e1"]  # newer signals first
    assert built.qualifying_entities == 4
    assert built.theme_counts == {"drugs": 4}


def test_row_carries_what_an_analyst_needs(land: Landscape) -> None:
    entity = land.entity("e")
    a = land.record(entity, "gemeente-a", "A1", days_ago=30, retention_days=100)
    b = land.record(entity, "politie-b", "B1", days_ago=5, theme="witwassen", person_category=None)
    c = land.record(entity, "politie-b", "B2", days_ago=8)
    land.link(a, b, 0.9, bsn=10.0, naam=3.0)
    land.link(b, c, 0.7, bsn=10.0, geboortedatum=1.5)
    other = land.entity("other")
    land.record(other, "belasting-c", "C1")

    row = land.build().rows[0]
    assert row.partners == {"belasting-c": False, "gemeente-a": True, "politie-b": True}
    assert row.partner_count == 2
    assert row.themes == ("drugs", "witwassen")
    assert (row.first_signal_date, row.last_signal_date) == (
        TODAY - timedelta(days=30),
        TODAY - timedelta(days=5),
    )
    assert (row.link_count, row.link_probability_min, row.link_probability_mean) == (2, 0.7, 0.8)
    assert [(c.field, c.weight) for c in row.why_linked] == [
        ("bsn", 20.0),
        ("naam", 3.0),
        ("geboortedatum", 1.5),
    ]
    assert row.retention_deadline == TODAY - timedelta(days=30) + timedelta(days=100)
    assert [(r.partner, r.partner_record_id) for r in row.records] == [
        ("gemeente-a", "A1"),
        ("politie-b", "B2"),
        ("politie-b", "B1"),
    ]
    assert row.records[2].person_category is None
    assert row.requires_human_review is True


def test_links_to_retracted_records_do_not_count(land: Landscape) -> None:
    entity = land.entity("e")
    a = land.record(entity, "gemeente-a", "A1")
    b = land.record(entity, "politie-b", "B1")
    gone = land.record(entity, "politie-b", "B2", status="retracted")
    land.link(a, gone, 0.99, bsn=10.0)
    row = land.build().rows[0]
    assert row.link_count == 0
    assert row.link_probability_mean is None
    land.link(a, b, 0.6, naam=2.0)
    assert land.build().rows[0].link_probability_mean == 0.6


def test_rows_serialise_to_json_ready_dicts(land: Landscape) -> None:
    entity = land.entity("e")
    land.record(entity, "gemeente-a", "A1")
    land.record(entity, "politie-b", "B1")
    as_dict = land.build().rows[0].to_dict()
    assert as_dict["first_signal_date"] == (TODAY - timedelta(days=10)).isoformat()
    assert as_dict["records"][0]["signal_date"] == as_dict["first_signal_date"]
    assert "tokens" not in str(as_dict) and TOKEN not in str(as_dict)


# --- rendering -----------------------------------------------------------------------------


@pytest.fixture
def built(land: Landscape) -> BuiltHitList:
    entity = land.entity("ent-1")
    a = land.record(entity, "gemeente-a", "A-1", person_category=None)
    b = land.record(entity, "politie-b", "B-1", theme="witwassen")
    land.link(a, b, 0.95, bsn=12.0)
    return land.build().with_audit_ref(42)


def test_csv_has_one_line_per_entity_with_aligned_record_lists(built: BuiltHitList) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(built))))
    assert len(rows) == 1
    row = rows[0]
    assert row["entity_id"] == "ent-1"
    assert (row["partner:gemeente-a"], row["partner:politie-b"]) == ("yes", "yes")
    assert row["record_partners"] == "gemeente-a;politie-b"
    assert row["record_ids"] == "A-1;B-1"
    assert row["record_person_categories"] == "n/a;betrokkene"
    assert row["record_legal_bases"] == "wgs;wgs"
    assert row["why_linked"] == "bsn 12.00"
    assert row["requires_human_review"] == "yes"
    assert row["audit_ref"] == "42"
    assert row["criteria_version"] == "2026.1"


def test_csv_cells_cannot_start_a_formula(built: BuiltHitList) -> None:
    hostile = replace(built, rows=(replace(built.rows[0], entity_id="=HYPERLINK(1)"),))
    row = next(csv.DictReader(io.StringIO(render_csv(hostile))))
    assert row["entity_id"] == "'=HYPERLINK(1)"


def test_html_is_escaped_self_contained_and_suppresses_small_counts(built: BuiltHitList) -> None:
    raw = copy.deepcopy(RAW_CRITERIA)
    raw["description"] = "<script>alert(1)</script>"
    hostile = replace(built, criteria=parse_criteria(raw))
    html = render_html(hostile, created_at=datetime(2026, 6, 1, 8, 0, tzinfo=UTC), title="T")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "Hit/no-hit information only" in html
    assert "<details>" in html and "A-1" in html
    assert '<td class="num">&lt;5</td>' in html  # one entity per theme: suppressed
    assert "<code>42</code>" in html
    assert "src=" not in html and "href=" not in html and "@import" not in html
    assert TOKEN not in html and BLOOM not in html


def test_empty_list_renders(land: Landscape) -> None:
    empty = land.build().with_audit_ref(1)
    html = render_html(empty, created_at=datetime(2026, 6, 1, tzinfo=UTC), title="T")
    assert "No entity meets the criteria." in html
    assert render_csv(empty).count("\n") == 1


# --- publishing ----------------------------------------------------------------------------


def test_publish_writes_files_row_and_audit_event(
    db: Database, built: BuiltHitList, tmp_path: Path
) -> None:
    out = tmp_path / "hitlists"
    now = datetime(2026, 6, 1, 8, 30, 15, tzinfo=UTC)
    published = publish_hit_list(db, built, out_dir=out, actor="test", dag_run_id="run-1", now=now)

    assert published.csv_path == out / "hitlist-20260601T083015Z.csv"
    assert published.html_path == out / "hitlist-20260601T083015Z.html"
    assert (out / "latest.csv").read_text() == published.csv_path.read_text()
    assert (out / "latest.html").read_text() == published.html_path.read_text()
    if os.name != "nt":  # owner only (core/files.py)
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        for path in (published.csv_path, published.html_path, out / "latest.csv"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with db.session() as session:
        stored = session.scalars(select(HitList)).one()
        event = session.get(AuditEvent, published.audit_ref)
    assert stored.id == published.hit_list_id
    assert (stored.criteria_version, stored.row_count, stored.dag_run_id) == ("2026.1", 1, "run-1")
    assert stored.criteria == RAW_CRITERIA
    assert stored.rows[0]["audit_ref"] == published.audit_ref
    assert event is not None and event.action == "hitlist.created"
    assert event.details["entities"] == ["ent-1"]
    assert event.details["records"] == [["gemeente-a", "A-1"], ["politie-b", "B-1"]]


def test_publishing_twice_in_one_second_keeps_both(
    db: Database, built: BuiltHitList, tmp_path: Path
) -> None:
    now = datetime(2026, 6, 1, 8, 30, 15, tzinfo=UTC)
    first = publish_hit_list(db, built, out_dir=tmp_path, actor="test", now=now)
    second = publish_hit_list(db, built, out_dir=tmp_path, actor="test", now=now)
    assert first.csv_path != second.csv_path
    assert second.csv_path.name == "hitlist-20260601T083015Z-2.csv"
    assert first.csv_path.exists() and second.csv_path.exists()


def test_failed_publish_leaves_nothing_behind(
    db: Database, built: BuiltHitList, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hitlist.publish as publish

    def broken_html(*_args: Any, **_kwargs: Any) -> str:
        raise RuntimeError("template broke")

    monkeypatch.setattr(publish, "render_html", broken_html)
    with pytest.raises(RuntimeError, match="template broke"):
        publish_hit_list(db, built, out_dir=tmp_path, actor="test")
    assert list(tmp_path.glob("hitlist-*")) == []
    with db.session() as session:
        assert session.scalars(select(HitList)).all() == []
        assert session.scalars(select(AuditEvent)).all() == []
