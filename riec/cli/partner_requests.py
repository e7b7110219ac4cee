"""``riec partner requests``: read and answer the RIEC's requests for the data behind records.

Runs at the partner, with the partner toolkit only. The answer says whether the data was
provided through the partner's own lawful channel; the data itself never travels here.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from riec.cli.common import acting_person, console, out, partner_settings

app = typer.Typer(no_args_is_help=True, help="Requests from the RIEC: list and answer them.")

PARTNER = typer.Option(help="Your partner id, e.g. gemeente-tilburg.")


@app.command("list")
def list_(
    partner: Annotated[str, PARTNER],
    all_: Annotated[bool, typer.Option("--all", help="Also show answered requests.")] = False,
) -> None:
    """Requests addressed to you: record id, purpose, legal basis, case, due date."""
    from rich.table import Table

    from partner.request_service import list_requests

    settings = partner_settings()
    requests, bad = list_requests(settings, partner)
    today = date.today()
    shown = [r for r in requests if all_ or r.answer is None]
    table = Table(title=f"Requests to {partner} ({settings.request_topic(partner)})")
    for column in (
        "request",
        "your record id",
        "purpose",
        "legal basis",
        "case",
        "approved by",
        "due",
        "answer",
    ):
        table.add_column(column)
    for item in shown:
        request = item.request
        due = request["due_on"] + (" OVERDUE" if item.overdue(today) else "")
        answer = (
            f"{item.answer['status']} by {item.answer['answered_by']}" if item.answer else "open"
        )
        table.add_row(
            request["request_id"],
            request["partner_record_id"],
            request["purpose"],
            request["legal_basis"],
            request["case_reference"],
            request["approved_by"],
            due,
            answer,
        )
    # Everything in the table came over the topic: printed as text, never as markup.
    out.print(table, markup=False)
    open_count = sum(1 for r in requests if r.answer is None)
    console.print(f"{open_count} open, {len(requests) - open_count} answered", markup=False)
    if bad:
        console.print(
            f"[yellow]{bad} message(s) on the topic were not valid requests to {partner} and "
            "were left out[/yellow]"
        )


@app.command("answer")
def answer(
    request_id: Annotated[str, typer.Argument(help="The request id, e.g. RQ-1A2B3C4D5E6F.")],
    partner: Annotated[str, PARTNER],
    status: Annotated[str, typer.Option(help="provided, declined or not-found.")],
    note: Annotated[
        str, typer.Option(help="Short note, no personal data (e.g. the channel or the reason).")
    ] = "",
    by: Annotated[
        str | None, typer.Option("--by", help="Who answers. Default: the operating-system user.")
    ] = None,
) -> None:
    """Answer a request: whether the data was provided through your own lawful channel."""
    from partner.request_service import answer_request

    actor = acting_person(by)
    message = answer_request(
        partner_settings(), partner, request_id, status=status, note=note, by=actor
    )
    console.print(
        f"answered {message['request_id']}: {message['status']} (by {actor})", markup=False
    )
