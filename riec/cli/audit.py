"""``riec audit``: verify the hash-chained audit trail, its anchors, and read it back.

``verify`` walks the whole chain and exits with 5 when any event was changed, deleted,
inserted or re-ordered, or when an anchor written down earlier no longer matches.
``anchor`` prints the latest anchor as ``POSITION:HASH``, the line a coordinator writes
down outside the system. ``list`` and ``export`` are for auditors; both are audited.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import EXIT_AUDIT_TRAIL_BROKEN, InputFileError, UsageError
from riec.cli.common import acting_person, console, out, riec_settings

if TYPE_CHECKING:
    from storage.audit import Anchor, AuditFilter

app = typer.Typer(no_args_is_help=True, help="The audit trail: verify, anchors, list, export.")

BY = typer.Option("--by", help="Who is acting. Default: the operating-system user.")
SINCE = typer.Option(help="From this date or time (ISO, UTC unless it says otherwise).")
UNTIL = typer.Option(help="Up to this time; a date alone includes that whole day.")
ACTOR = typer.Option(help="Only events by this actor (a person, or e.g. dag:build_hit_list).")
KIND = typer.Option("--kind", help="Only actors of this kind: person, component, unrecorded.")
ACTION = typer.Option(help="Only this action; end with * for a prefix (hitlist.*).")
SUBJECT = typer.Option(help="Only events about this subject (an entity id, a file, ...).")


@app.command("verify")
def verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            help="A written-down anchor, POSITION:HASH (16+ hex characters); repeatable.",
        ),
    ] = None,
    anchors_file: Annotated[
        Path | None,
        typer.Option(help="A file of written-down anchors, one POSITION:HASH per line."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Check every event of the chain, the stored anchors and the anchors given here.

    Exits 0 when the trail is intact, 5 when it is not (the first problem comes first).
    Reads only; it may run against a copy of the database.
    """
    from storage import connect
    from storage.audit import verify as verify_chain

    given = [*_parse_anchors(anchor or []), *_anchors_from(anchors_file)]
    db = connect(riec_settings().resolved_database_url)
    try:
        result = verify_chain(db, given)
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        span = f"positions 1-{result.last_position}" if result.last_position else "no events"
        out.print(f"audit trail: {result.events} events, {span}", markup=False)
        out.print(f"last hash: {result.last_hash}", markup=False)
        out.print(
            f"anchors checked: {result.stored_anchors} stored, {result.given_anchors} given",
            markup=False,
        )
        if result.intact:
            out.print("result: intact", markup=False)
        else:
            out.print(
                f"result: NOT intact, {len(result.problems)} problem(s); the first:", markup=False
            )
            for problem in result.problems[:20]:
                out.print(f"  [{problem.kind}] {problem.message}", markup=False)
            if len(result.problems) > 20:
                out.print(f"  ... and {len(result.problems) - 20} more (--json lists all)")
    if not result.intact:
        raise typer.Exit(EXIT_AUDIT_TRAIL_BROKEN)


@app.command("anchor")
def anchor(
    new: Annotated[
        bool,
        typer.Option(
            "--new", help="Anchor the end of the chain now (recorded as your action) first."
        ),
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every stored anchor, one per line (an anchors file).")
    ] = False,
    by: Annotated[str | None, BY] = None,
) -> None:
    """Print the latest anchor as POSITION:HASH, the line to write down outside the system.

    Check it later with `riec audit verify --anchor POSITION:HASH`: that fails if the chain
    up to that position was changed, even when every hash was recomputed.
    """
    from storage import connect
    from storage.audit import latest_anchor, list_anchors, record_anchor, utc_text

    actor = acting_person(by) if new else None
    db = connect(riec_settings().resolved_database_url)
    try:
        if actor is not None:
            record_anchor(db, actor)
        with db.session() as session:
            anchors = list_anchors(session) if show_all else []
            latest = latest_anchor(session)
    finally:
        db.dispose()
    if show_all:
        # One anchor per line, the anchor first: the output is itself an --anchors-file.
        for a in anchors:
            who = f" by {a.recorded_by}" if a.recorded_by else ""
            typer.echo(
                f"{a.seq}:{a.hash}  # event {a.event_id}, {utc_text(a.event_at)[:19]} UTC, "
                f"{_reason(a.reason)}{who}"
            )
        return
    if latest is None:
        raise UsageError("the audit trail has no anchor yet: it has no events")
    console.print(
        f"latest anchor: position {latest.seq}, event id {latest.event_id}, "
        f"{utc_text(latest.event_at)[:19]} UTC ({_reason(latest.reason)})",
        markup=False,
    )
    typer.echo(f"{latest.seq}:{latest.hash}")
    console.print(
        f"write this line down; check later with: riec audit verify --anchor "
        f"{latest.seq}:{latest.hash[:16]}",
        markup=False,
    )


@app.command("list")
def list_(
    since: Annotated[str | None, SINCE] = None,
    until: Annotated[str | None, UNTIL] = None,
    actor: Annotated[str | None, ACTOR] = None,
    kind: Annotated[str | None, KIND] = None,
    action: Annotated[str | None, ACTION] = None,
    subject: Annotated[str | None, SUBJECT] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    by: Annotated[str | None, BY] = None,
) -> None:
    """Show audit events, newest first, with filters. Looking is itself recorded."""
    from rich.markup import escape
    from rich.table import Table

    from storage import connect
    from storage.audit import count_events, list_events, utc_text

    where = _filter(since, until, actor, kind, action, subject)
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    person = acting_person(by)
    db = connect(riec_settings().resolved_database_url)
    try:
        with db.session() as session:
            total = count_events(session, where)
            events = list_events(session, where, limit=limit)
            db.audit(
                person,
                "audit.listed",
                None,
                session=session,
                filters=where.to_dict(),
                shown=len(events),
                matching=total,
            )
    finally:
        db.dispose()
    if as_json:
        for e in events:
            typer.echo(
                json.dumps(
                    {
                        "position": e.seq,
                        "event_id": e.id,
                        "at": utc_text(e.at),
                        "actor": e.actor,
                        "actor_kind": e.actor_kind,
                        "action": e.action,
                        "subject": e.subject,
                        "details": e.details,
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table(title=f"Audit events: {len(events)} of {total} shown, newest first")
    for column in ("position", "at (UTC)", "actor", "kind", "action", "subject", "details"):
        table.add_column(column, overflow="fold")
    for e in events:
        details = json.dumps(e.details, ensure_ascii=False, sort_keys=True)
        # Actors, subjects and details may hold text users typed: never read as markup.
        table.add_row(
            *(
                escape(cell)
                for cell in (
                    "" if e.seq is None else str(e.seq),
                    utc_text(e.at)[:19],
                    e.actor,
                    e.actor_kind or "",
                    e.action,
                    e.subject or "",
                    details if len(details) <= 120 else details[:117] + "...",
                )
            )
        )
    out.print(table)


@app.command("export")
def export(
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    since: Annotated[str | None, SINCE] = None,
    until: Annotated[str | None, UNTIL] = None,
    actor: Annotated[str | None, ACTOR] = None,
    kind: Annotated[str | None, KIND] = None,
    action: Annotated[str | None, ACTION] = None,
    subject: Annotated[str | None, SUBJECT] = None,
    by: Annotated[str | None, BY] = None,
) -> None:
    """Write audit events to CSV for auditors, oldest first; the export is audited.

    Every line names who exported it and the export's own audit event (``export_ref``).
    Cells a spreadsheet would run as a formula are prefixed with an apostrophe.
    """
    from storage import connect
    from storage.audit import export_csv

    where = _filter(since, until, actor, kind, action, subject)
    if out_file.suffix.lower() not in (".csv", ".txt"):
        raise UsageError(f"--out {out_file.name}: the export is CSV; name the file *.csv")
    person = acting_person(by)
    db = connect(riec_settings().resolved_database_url)
    try:
        result = export_csv(db, where, out_file, actor=person)
    finally:
        db.dispose()
    console.print(
        f"wrote {result.rows} events to {out_file} (export recorded as event {result.audit_ref})",
        markup=False,
    )


def _reason(reason: str) -> str:
    return {
        "interval": "set every 1000 events",
        "daily": "first event of the day",
        "requested": "asked for with --new",
        "start": "start of the chain after the upgrade",
    }.get(reason, reason)


def _parse_anchors(values: list[str]) -> list[Anchor]:
    from storage.audit import Anchor

    return [Anchor.parse(value) for value in values]


def _anchors_from(path: Path | None) -> list[Anchor]:
    """Anchors in a file: the first word of every line; blank lines and ``#`` comments skipped."""
    if path is None:
        return []
    from storage.audit import Anchor

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not a text file of anchors") from None
    anchors = []
    for number, line in enumerate(lines, start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            anchors.append(Anchor.parse(words[0]))
        except UsageError as exc:
            raise InputFileError(f"{path}, line {number}: {exc}") from None
    return anchors


def _filter(
    since: str | None,
    until: str | None,
    actor: str | None,
    kind: str | None,
    action: str | None,
    subject: str | None,
) -> AuditFilter:
    from storage.audit import AuditFilter

    return AuditFilter(
        since=_moment(since, "--since"),
        until=_moment(until, "--until", end_of_day=True),
        actor=actor,
        actor_kind=kind,
        action=action,
        subject=subject,
    )


def _moment(value: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value.strip()) == 10:
            day = date.fromisoformat(value.strip())
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"{option} {value[:40]!r}: expected a date (2026-12-01) or a time "
            "(2026-12-01T09:30, UTC unless it gives an offset)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
