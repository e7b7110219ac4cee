"""The hash-chained audit trail on SQLite and PostgreSQL: appends, tampering, anchors, CLI.

Every tampering test changes the database the way someone with write access to it would
(plain SQL, around the application), then checks that ``verify`` and ``riec audit verify``
name the place. Concurrent appends run in separate processes, as the matching service, the
DAG tasks and the workspace do.
"""

from __future__ import annotations

import csv
import itertools
import json
import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

import storage.audit as audit
from core.errors import EXIT_AUDIT_TRAIL_BROKEN, UsageError
from riec.cli.common import acting_person
from riec.cli.main import app
from storage import AuditAnchor, AuditEvent, Database, connect
from storage.audit import GENESIS, Anchor, AuditFilter, event_hash, export_csv, verify
from storage.migrate import _config

pytestmark = pytest.mark.integration


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = connect(database_url)
    yield database
    database.dispose()


def fill(db: Database, n: int = 12) -> None:
    """A mix of events as the system writes them: persons, components, odd details."""
    for i in range(n):
        if i % 3 == 0:
            db.audit("dag:build_hit_list", "hitlist.created", f"hitlist-{i}", rows=i, ok=True)
        elif i % 3 == 1:
            db.audit(
                "A. Analist",
                "entity_explained",
                f"E-{i:04d}",
                note="zoë & co <b>",
                score=0.1 + i / 7,
                when=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
                nested={"b": [1, 2.5, None], "a": {"x": "y"}},
            )
        else:
            db.audit("C. Coördinator", "audit.listed", None, filters={}, shown=i)


def sql(database_url: str, *statements: str, **params: Any) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params)
    finally:
        engine.dispose()


def cli(database_url: str, *args: str) -> Any:
    env = {"RIEC_DATABASE_URL": database_url, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def first(db: Database, anchors: list[Anchor] | None = None) -> audit.Problem:
    result = verify(db, anchors or [])
    assert not result.intact
    problem = result.first_problem
    assert problem is not None
    return problem


# --- an untouched trail ----------------------------------------------------------------------


def test_an_untouched_trail_verifies(db: Database, database_url: str) -> None:
    fill(db)
    result = verify(db)
    assert result.intact, result.problems
    assert (result.events, result.last_position) == (12, 12)
    with db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.seq for e in events] == list(range(1, 13))
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert {e.actor: e.actor_kind for e in events} == {
        "dag:build_hit_list": "component",
        "A. Analist": "person",
        "C. Coördinator": "person",
    }
    ran = cli(database_url, "audit", "verify")
    assert ran.exit_code == 0, ran.output
    assert "result: intact" in ran.output and "12 events" in ran.output


def test_an_empty_trail_verifies(db: Database) -> None:
    assert verify(db).intact


def test_details_are_stored_as_hashed(db: Database) -> None:
    event_id = db.audit(
        "A. Analist",
        "entity_explained",
        "E-1",
        when=datetime(2026, 12, 1, tzinfo=UTC),
        path=Path("/tmp/x.csv"),
        ratio=float("nan"),
        keys={1: "one"},
        tags={"b", "a"},
    )
    with db.session() as session:
        event = session.get(AuditEvent, event_id)
        assert event is not None
        assert event.details == {
            "when": "2026-12-01T00:00:00+00:00",
            "path": "/tmp/x.csv",
            "ratio": "nan",
            "keys": {"1": "one"},
            "tags": ["a", "b"],
        }
        assert event_hash(event, event.prev_hash or "") == event.hash
    assert verify(db).intact


def test_a_long_subject_is_cut_and_kept_whole_in_the_details(db: Database) -> None:
    subject = "/data/exports/" + "x" * 300 + ".csv"
    event_id = db.audit("A. Analist", "entities_exported", subject, rows=1)
    with db.session() as session:
        event = session.get(AuditEvent, event_id)
        assert event is not None and event.subject is not None
        assert len(event.subject) == audit.MAX_SUBJECT
        assert event.details["subject"] == subject
    assert verify(db).intact


def test_an_event_rolls_back_with_its_action(db: Database) -> None:
    fill(db, 3)
    with pytest.raises(RuntimeError), db.session() as session:
        db.audit("A. Analist", "entity_explained", "E-9", session=session)
        raise RuntimeError("the action failed")
    db.audit("A. Analist", "entity_explained", "E-10")
    result = verify(db)
    assert result.intact and result.last_position == 4


# --- who acts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["cli", "system", "", "  ", "dag:", "a\nb"])
def test_a_tool_or_blank_is_never_an_actor(db: Database, actor: str) -> None:
    with pytest.raises(ValueError, match="audit actor"):
        db.audit(actor, "entity_explained", "E-1")
    assert verify(db).events == 0


@pytest.mark.parametrize("name", ["cli", "System", " ", "dag:build_hit_list", "service:matching"])
def test_the_cli_refuses_a_tool_or_component_as_the_person(name: str) -> None:
    with pytest.raises(UsageError):
        acting_person(name)


def test_the_cli_takes_the_operating_system_user_or_by() -> None:
    assert acting_person(" D. Dienst ") == "D. Dienst"
    assert acting_person(None)


# --- tampering -------------------------------------------------------------------------------


def test_a_changed_event_is_named(db: Database, database_url: str) -> None:
    fill(db)
    sql(database_url, "UPDATE audit_log SET actor = 'someone else' WHERE seq = 5")
    problem = first(db)
    assert (problem.kind, problem.position) == ("changed", 5)
    ran = cli(database_url, "audit", "verify")
    assert ran.exit_code == EXIT_AUDIT_TRAIL_BROKEN, ran.output
    assert "NOT intact" in ran.output and "position 5" in ran.output


@pytest.mark.parametrize(
    "change",
    [
        'UPDATE audit_log SET details = \'{"rows": 99, "ok": true}\' WHERE seq = 4',
        "UPDATE audit_log SET subject = NULL WHERE seq = 4",
        "UPDATE audit_log SET action = 'audit.listed' WHERE seq = 4",
        "UPDATE audit_log SET actor_kind = 'person' WHERE seq = 4",
        "UPDATE audit_log SET id = id + 1000 WHERE seq = 4",
    ],
)
def test_every_field_is_covered(db: Database, database_url: str, change: str) -> None:
    fill(db)
    sql(database_url, change)
    assert (first(db).kind, first(db).position) == ("changed", 4)


def test_a_changed_time_is_named(db: Database, database_url: str) -> None:
    fill(db)
    with db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.seq == 7)).one()
        earlier = event.at - timedelta(hours=3)
        event.at = earlier
    assert (first(db).kind, first(db).position) == ("changed", 7)


def test_a_deleted_event_is_named(db: Database, database_url: str) -> None:
    fill(db)
    sql(database_url, "DELETE FROM audit_log WHERE seq = 6")
    problem = first(db)
    assert (problem.kind, problem.position) == ("deleted", 6)
    ran = cli(database_url, "audit", "verify")
    assert ran.exit_code == EXIT_AUDIT_TRAIL_BROKEN
    assert "[deleted] position 6 is missing" in ran.output


def test_a_deletion_hidden_by_renumbering_is_named(db: Database, database_url: str) -> None:
    fill(db)
    sql(
        database_url,
        "DELETE FROM audit_log WHERE seq = 6",
        # In two steps: a unique position is checked row by row.
        "UPDATE audit_log SET seq = -seq WHERE seq > 6",
        "UPDATE audit_log SET seq = -seq - 1 WHERE seq < 0",
    )
    problem = first(db)
    assert (problem.kind, problem.position) == ("broken", 6)


def test_reordered_events_are_named(db: Database, database_url: str) -> None:
    fill(db)
    sql(
        database_url,
        "UPDATE audit_log SET seq = -1 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = -1",
    )
    problem = first(db)
    assert (problem.kind, problem.position) == ("reordered", 5)
    ran = cli(database_url, "audit", "verify")
    assert ran.exit_code == EXIT_AUDIT_TRAIL_BROKEN
    assert "out of order" in ran.output


def test_an_event_inserted_around_the_trail_is_named(db: Database, database_url: str) -> None:
    fill(db, 4)
    with db.session() as session:
        session.add(
            AuditEvent(at=datetime.now(UTC), actor="x", action="forged", subject=None, details={})
        )
    problem = first(db)
    assert problem.kind == "unchained"


def test_the_last_events_deleted_are_caught_by_an_anchor(db: Database, database_url: str) -> None:
    fill(db, 8)
    anchor = audit.record_anchor(db, "C. Coördinator")
    written_down = Anchor.parse(f"{anchor.seq}:{anchor.hash[:16]}")
    # Cutting the tail and the stored anchor leaves a chain that holds in itself ...
    sql(
        database_url,
        "DELETE FROM audit_log WHERE seq >= :cut",
        "DELETE FROM audit_anchors WHERE seq >= :cut",
        cut=7,
    )
    assert verify(db).intact
    # ... but not against the anchor that was written down.
    problem = first(db, [written_down])
    assert problem.kind == "deleted" and "ends at position 6" in problem.message


def test_the_stored_anchor_catches_a_cut_tail(db: Database, database_url: str) -> None:
    fill(db, 5)
    audit.record_anchor(db, "C. Coördinator")
    sql(database_url, "DELETE FROM audit_log WHERE seq >= 4")
    problem = first(db)
    assert problem.kind == "deleted"


def test_a_rewritten_chain_is_caught_only_by_a_written_down_anchor(
    db: Database, database_url: str
) -> None:
    fill(db, 10)
    anchor = audit.record_anchor(db, "C. Coördinator")
    written_down = Anchor(anchor.seq, anchor.hash)
    # Someone changes event 3 and recomputes every hash after it, stored anchors included.
    with db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        events[2].subject = "rewritten"
        prev = events[1].hash or ""
        for event in events[2:]:
            event.prev_hash = prev
            event.hash = prev = event_hash(event, prev)
        for stored in session.scalars(select(AuditAnchor)):
            stored.hash = next(e.hash for e in events if e.seq == stored.seq) or ""
    assert verify(db).intact
    problem = first(db, [written_down])
    assert problem.kind == "anchor" and "rewritten" in problem.message
    ran = cli(database_url, "audit", "verify", "--anchor", written_down.text())
    assert ran.exit_code == EXIT_AUDIT_TRAIL_BROKEN


# --- anchors ---------------------------------------------------------------------------------


def test_anchors_are_set_periodically_and_on_request(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(audit, "ANCHOR_EVERY", 5)
    fill(db, 11)
    with db.session() as session:
        stored = [(a.seq, a.reason) for a in audit.list_anchors(session)]
    # The first event of the day, then every fifth.
    assert stored == [(1, "daily"), (5, "interval"), (10, "interval")]

    shown = cli(database_url, "audit", "anchor", "--new", "--by", "C. Coördinator")
    assert shown.exit_code == 0, shown.output
    line = shown.stdout.strip().splitlines()[-1]
    assert line.startswith("12:") and len(line) == 3 + 64
    assert "write this line down" in shown.output
    with db.session() as session:
        latest = audit.latest_anchor(session)
        assert latest is not None
        assert (latest.reason, latest.recorded_by) == ("requested", "C. Coördinator")
        event = session.scalars(select(AuditEvent).where(AuditEvent.seq == 12)).one()
        assert (event.actor, event.action) == ("C. Coördinator", "audit.anchor_recorded")

    listed = cli(database_url, "audit", "anchor", "--all")
    assert listed.exit_code == 0
    anchors_file = tmp_path / "anchors.txt"
    anchors_file.write_text(listed.stdout, encoding="utf-8")
    ok = cli(database_url, "audit", "verify", "--anchors-file", str(anchors_file))
    assert ok.exit_code == 0, ok.output
    assert "4 stored, 4 given" in ok.output


def test_a_mistyped_anchor_is_one_clear_line(db: Database, database_url: str) -> None:
    fill(db, 2)
    for wrong in ("12", "x:abc", "3:abc", "3:" + "g" * 16):
        ran = cli(database_url, "audit", "verify", "--anchor", wrong)
        assert ran.exit_code == 2, ran.output
        assert "expected POSITION:HASH" in ran.output
        assert "Traceback" not in ran.output


# --- concurrent appends ----------------------------------------------------------------------


def _append_many(url: str, worker: int, count: int) -> None:
    database = connect(url)
    try:
        for i in range(count):
            if i % 10 == 9:
                # Some appends share a transaction with other work, as publishing does.
                with database.session() as session:
                    database.audit(f"worker {worker}", "test.batch", str(i), session=session)
                    database.audit(f"worker {worker}", "test.batch", f"{i}b", session=session)
            else:
                database.audit(f"service:w{worker}", "test.append", str(i), n=i)
    finally:
        database.dispose()


def test_concurrent_appenders_keep_one_line(db: Database, database_url: str) -> None:
    workers, each = 4, 40
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_append_many, args=(database_url, w, each)) for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0
    expected = workers * (each + each // 10)
    result = verify(db)
    assert result.intact, result.problems[:3]
    assert result.events == result.last_position == expected
    with db.session() as session:
        actors = set(session.scalars(select(AuditEvent.actor)))
    assert len(actors) == 2 * workers


# --- reading it back -------------------------------------------------------------------------


def test_list_filters_and_is_audited(db: Database, database_url: str) -> None:
    fill(db, 9)
    by = ("--by", "R. Revisor")
    ran = cli(database_url, "audit", "list", "--action", "hitlist.*", "--json", *by)
    assert ran.exit_code == 0, ran.output
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    assert [e["subject"] for e in lines] == ["hitlist-6", "hitlist-3", "hitlist-0"]
    persons = cli(database_url, "audit", "list", "--kind", "person", "--json", *by)
    assert {json.loads(line)["actor_kind"] for line in persons.stdout.splitlines()} == {"person"}
    with db.session() as session:
        listed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.listed", AuditEvent.seq > 9)
        ).all()
    assert [e.actor for e in listed] == ["R. Revisor", "R. Revisor"]
    assert listed[0].details["filters"] == {"action": "hitlist.*"}
    bad = cli(database_url, "audit", "list", "--since", "last week")
    assert bad.exit_code == 2 and "--since" in bad.output


def test_time_filters(db: Database) -> None:
    fill(db, 3)
    with db.session() as session:
        now = datetime.now(UTC)
        assert audit.count_events(session, AuditFilter(since=now - timedelta(minutes=5))) == 3
        assert audit.count_events(session, AuditFilter(until=now - timedelta(minutes=5))) == 0
        assert audit.count_events(session, AuditFilter(actor="A. Analist")) == 1


def test_export_names_the_exporter_and_neutralises_formulas(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    fill(db, 3)
    db.audit("A. Analist", "entities_exported", '=HYPERLINK("http://x")', rows=1)
    out = tmp_path / "audit.csv"
    ran = cli(database_url, "audit", "export", "--out", str(out), "--by", "R. Revisor")
    assert ran.exit_code == 0, ran.output
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5  # the export's own event included
    assert {r["exported_by"] for r in rows} == {"R. Revisor"}
    ref = rows[-1]["export_ref"]
    assert rows[-1]["event_id"] == ref and rows[-1]["action"] == "audit.exported"
    assert rows[3]["subject"] == '\'=HYPERLINK("http://x")'
    assert json.loads(rows[1]["details"])["note"] == "zoë & co <b>"
    wrong = cli(database_url, "audit", "export", "--out", str(tmp_path / "audit.xlsx"))
    assert wrong.exit_code == 2 and "CSV" in wrong.output


def test_export_function_for_the_workspace(db: Database, tmp_path: Path) -> None:
    fill(db, 6)
    result = export_csv(db, AuditFilter(actor="A. Analist"), tmp_path / "a.csv", actor="R. R")
    assert result.rows == 2 and result.exported_by == "R. R"
    assert verify(db).intact


# --- a database of the previous release ------------------------------------------------------


def test_events_of_the_previous_release_are_chained_at_the_upgrade(database_url: str) -> None:
    script = ScriptDirectory.from_config(_config()).get_revision("0001")
    assert script is not None and script.module is not None
    engine = create_engine(database_url)
    script.module.metadata.create_all(engine)
    table = script.module.metadata.tables["audit_log"]
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with engine.begin() as conn:
        for i, actor in enumerate(("cli", "dag:build_hit_list", "relink")):
            conn.execute(
                table.insert().values(
                    at=at + timedelta(minutes=i),
                    actor=actor,
                    action="old.action",
                    subject=f"s{i}",
                    details={"i": i, "f": 0.5},
                )
            )
    engine.dispose()

    db = connect(database_url)
    try:
        with db.session() as session:
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
            anchors = audit.list_anchors(session)
        assert [(e.seq, e.actor_kind) for e in events[:3]] == [
            (1, "unrecorded"),
            (2, "unrecorded"),
            (3, "unrecorded"),
        ]
        assert (events[3].action, events[3].actor, events[3].actor_kind) == (
            "audit.chain_started",
            "migration:0003",
            "component",
        )
        assert events[3].details["previous_events"] == 3
        assert [(a.seq, a.reason) for a in anchors] == [(4, "start")]
        db.audit("A. Analist", "entity_explained", "E-1")
        assert verify(db).intact
        sql(database_url, 'UPDATE audit_log SET details = \'{"i": 7, "f": 0.5}\' WHERE id = 2')
        assert (first(db).kind, first(db).position) == ("changed", 2)
    finally:
        db.dispose()
