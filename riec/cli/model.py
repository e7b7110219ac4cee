"""``riec model``: train, validate, approve, roll back and inspect the linkage model.

A trained model is a candidate until a named person approves it after reading its
validation report; every decision is stored with the version and in the audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from riec.cli.common import acting_person, console, out, riec_settings

if TYPE_CHECKING:
    from matching.gate import GatePolicy
    from storage import Database

app = typer.Typer(no_args_is_help=True, help="The linkage model: train, approve, roll back.")

BY = typer.Option("--by", help="Who decides (name or user id); recorded with the version.")
ACTING = typer.Option("--by", help="Who is acting. Default: the operating-system user.")
REASON = typer.Option("--reason", help="Why; recorded with the version and in the audit log.")
NO_RELINK = typer.Option(
    "--no-relink",
    help="Skip the trial relink (weights and flags only; faster on big data). The approval "
    "gate then cannot tell what a candidate would change, and blocks it.",
)
OVERRIDE_GATE = typer.Option(
    "--override-gate",
    help="Approve a candidate the approval gate blocks; this reason goes to the audit trail.",
)
GATE_HINT = (
    "Read the report with `riec model report ENTITY_TYPE VERSION`; to approve it all the "
    "same, add --override-gate REASON."
)


def gate_policy() -> GatePolicy:
    """When the approval gate blocks, from the settings."""
    from matching.gate import GatePolicy

    settings = riec_settings()
    return GatePolicy(
        max_lost_links=settings.gate_max_lost_links, max_lost_hits=settings.gate_max_lost_hits
    )


@contextmanager
def model_database() -> Iterator[Database]:
    """The database for a model command, closed afterwards."""
    from storage import connect

    db = connect(riec_settings().resolved_database_url)
    try:
        yield db
    finally:
        db.dispose()


@app.command("train")
def train(
    activate: Annotated[
        bool,
        typer.Option(help="Approve and activate the new versions at once (needs --by, --reason)."),
    ] = False,
    by: Annotated[str | None, BY] = None,
    reason: Annotated[str | None, REASON] = None,
    no_relink: Annotated[bool, NO_RELINK] = False,
    override_gate: Annotated[str | None, OVERRIDE_GATE] = None,
) -> None:
    """Estimate m and u from the landed records (EM, no labels); store and validate candidates.

    A candidate scores nothing until approved with `riec model approve`. With --activate,
    each candidate the approval gate lets through is approved at once; a blocked one stays
    a candidate (exit code 2), unless --override-gate gives a reason.
    """
    from rich.markup import escape

    from core.errors import RefusedError
    from matching.params_store import Approval, GateBlocked, approve_version
    from matching.training import train_all
    from matching.validation import headline_text, validate_candidates

    approval = Approval.required(by, reason, override_gate) if activate else None
    actor = acting_person(by)
    with model_database() as db:
        reports = train_all(db, actor=actor)
        trained = [(r.entity_type, r.version) for r in reports if not r.skipped and r.version]
        validated = validate_candidates(
            db, trained, actor=actor, relink=not no_relink, policy=gate_policy()
        )
        for report in reports:
            if report.skipped or not report.version:
                console.print(f"{report.entity_type}: skipped, {report.skipped}")
                continue
            console.print(
                f"{report.entity_type}: {report.version} from {report.blocked_pairs} blocked "
                f"pairs, {report.iterations} EM iterations, prior {report.prior:.4g}; "
                f"{headline_text(validated[(report.entity_type, report.version)])}"
            )
        blocked = []
        for entity_type, version in trained:
            if approval is not None:
                try:
                    approve_version(db, entity_type, version, approval)
                except GateBlocked as exc:
                    console.print(f"{escape(str(exc))}; it stays a candidate", highlight=False)
                    blocked.append(f"{entity_type} {version}")
                    continue
                console.print(f"{entity_type}: {version} approved by {approval.by}, now active")
            else:
                console.print(
                    f"{entity_type}: {version} is a candidate; read `riec model report "
                    f"{entity_type} {version}`, then `riec model approve {entity_type} "
                    f"{version} --by NAME --reason TEXT`"
                )
    if blocked:
        raise RefusedError(f"the approval gate blocked {', '.join(blocked)}. {GATE_HINT}")


@app.command("validate")
def validate(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="A stored version, see `riec model show`.")],
    no_relink: Annotated[bool, NO_RELINK] = False,
    by: Annotated[str | None, ACTING] = None,
) -> None:
    """(Re)compute a version's validation report against the model active now."""
    from matching.validation import headline_text, validate_version

    actor = acting_person(by)
    with model_database() as db:
        report = validate_version(
            db, entity_type, version, actor=actor, relink=not no_relink, policy=gate_policy()
        )
    console.print(f"{entity_type} {version} against {report['against']}: {headline_text(report)}")


@app.command("approve")
def approve(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="A stored version, or the built-in default.")],
    by: Annotated[str, BY],
    reason: Annotated[str, REASON],
    override_gate: Annotated[str | None, OVERRIDE_GATE] = None,
) -> None:
    """Make a stored version the active model, recording who approved it, when and why.

    A candidate must pass the approval gate of its validation report (computed against
    the model active now), or be approved with --override-gate and a reason.
    """
    from core.errors import RefusedError
    from matching.params_store import Approval, GateBlocked, approve_version
    from matching.validation import headline_text

    approval = Approval.required(by, reason, override_gate)
    with model_database() as db:
        try:
            row = approve_version(db, entity_type, version, approval)
        except GateBlocked as exc:
            raise RefusedError(f"{exc}. {GATE_HINT}") from exc
    if row.validation is None:
        console.print(f"[yellow]note:[/yellow] {entity_type} {version} has no validation report")
    console.print(
        f"{entity_type}: {version} approved by {row.approved_by}, now active "
        f"({headline_text(row.validation)})"
    )


@app.command("rollback")
def rollback(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="An earlier version, or the built-in default.")],
    by: Annotated[str, BY],
    reason: Annotated[str, REASON],
) -> None:
    """Make an earlier version active again; recorded as an approval, like `approve`."""
    from matching.params_store import activate_version

    with model_database() as db:
        row = activate_version(db, entity_type, version, by=by, reason=reason)
    console.print(f"{entity_type}: {version} active again, approved by {row.approved_by}")


@app.command("reject")
def reject(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="A stored candidate.")],
    by: Annotated[str, BY],
    reason: Annotated[str, REASON],
) -> None:
    """Record that a candidate was reviewed and declined; it stays stored and inactive."""
    from matching.params_store import reject_version

    with model_database() as db:
        reject_version(db, entity_type, version, by=by, reason=reason)
    console.print(f"{entity_type}: {version} rejected by {by.strip()}")


@app.command("show")
def show(
    entity_type: Annotated[str | None, typer.Argument()] = None,
) -> None:
    """Show stored versions (status, approval, validation) and the active parameters."""
    from matching.params_store import active_params, list_versions
    from riec.model_review import parameters_table, versions_table

    with model_database() as db:
        rows = [r for r in list_versions(db) if not entity_type or r.entity_type == entity_type]
        active = active_params(db)
    out.print(versions_table(rows))
    for kind, params in active.items():
        if not entity_type or kind == entity_type:
            out.print(parameters_table(params))


@app.command("report")
def report(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="A stored version, see `riec model show`.")],
    top: Annotated[int, typer.Option(help="Weight changes to list, largest first.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored report as JSON.")] = (
        False
    ),
) -> None:
    """A version's validation report: what it would change, weight changes, flags."""
    from matching.params_store import UnknownModelVersion, get_version
    from riec.model_review import print_report

    with model_database() as db:
        row = get_version(db, entity_type, version)
    if row is None:
        raise UnknownModelVersion(f"no stored {entity_type} model version {version!r}")
    if as_json:
        typer.echo(json.dumps(row.validation, indent=2, sort_keys=True))
    else:
        print_report(out, row, top=top)
