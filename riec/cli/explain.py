"""``riec explain``: why an entity holds its records."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from core.errors import UsageError
from riec.cli.common import acting_person, out, riec_settings

RECORD_COLUMNS = (
    "partner",
    "partner_record_id",
    "theme",
    "signal",
    "signal_date",
    "legal_basis",
    "person_category",
    "retention_until",
)


def explain(
    entity_id: Annotated[str, typer.Argument(help="Pseudonymous entity id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who is asking. Default: the operating-system user.")
    ] = None,
) -> None:
    """Why an entity holds its records: members, field contributions per link, history."""
    from rich.markup import escape
    from rich.table import Table

    from matching.explain import explain_entity
    from storage import connect

    actor = acting_person(by)
    db = connect(riec_settings().resolved_database_url)
    try:
        explanation = explain_entity(db, entity_id, actor=actor)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(explanation.__dict__, indent=2, default=str))
        return
    state = "active" if explanation.active else "inactive"
    out.print(f"[bold]{explanation.entity_id}[/bold] ({explanation.entity_type}, {state})")
    records = Table(title="Records")
    for column in RECORD_COLUMNS:
        records.add_column(column)
    for r in explanation.records:
        # Values come from partners' envelopes: shown as text, never as markup.
        records.add_row(*(escape(str(r[c] or "")) for c in RECORD_COLUMNS))
    out.print(records)
    totals = Table(title="Why linked: summed match weight per field (log2 Bayes factor)")
    totals.add_column("field")
    totals.add_column("total weight", justify="right")
    for name, weight in explanation.field_totals().items():
        totals.add_row(name, f"{weight:+.2f}")
    out.print(totals)
    links = Table(title="Links")
    for column in ("record", "record", "probability", "weight", "fields"):
        links.add_column(column)
    for link in explanation.links:
        parts = ", ".join(
            f"{k} {v['level']} ({v['weight']:+.1f})" for k, v in link["contributions"].items()
        )
        links.add_row(
            link["a"], link["b"], f"{link['probability']:.4f}", f"{link['weight']:.1f}", parts
        )
    out.print(links)
    history = Table(title="History")
    for column in ("at", "entity", "event", "other entity"):
        history.add_column(column)
    for e in explanation.history:
        history.add_row(e["at"][:19], e["entity_id"], e["event"], e["other_entity_id"] or "")
    out.print(history)
