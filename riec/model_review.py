"""Terminal views of stored model versions for the people who approve them."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from matching.comparisons import COMPARISONS
from matching.model import ModelParams
from matching.validation import headline_text
from storage.models import ModelVersion


def status(row: ModelVersion) -> str:
    if row.active:
        return "active"
    if row.rejected_by:
        return "rejected"
    # Approved once, replaced since: a version one can roll back to.
    return "approved earlier" if row.approved_by else "candidate"


def decision(row: ModelVersion) -> str:
    """Who decided on the version, and when (the latest decision)."""
    if row.rejected_by and row.rejected_at:
        return f"rejected by {row.rejected_by}, {str(row.rejected_at)[:16]}"
    if row.approved_by and row.approved_at:
        return f"{row.approved_by}, {str(row.approved_at)[:16]}"
    return ""


def versions_table(rows: Sequence[ModelVersion]) -> Table:
    table = Table(title="Stored model versions")
    # The version is what one types to approve it: never shortened.
    widest = max((len(row.version) for row in rows), default=7)
    table.add_column("entity type", no_wrap=True)
    table.add_column("version", no_wrap=True, min_width=widest)
    table.add_column("status")
    table.add_column("approved by, at", overflow="fold")
    table.add_column("validation", overflow="fold")
    for row in rows:
        table.add_row(
            row.entity_type,
            row.version,
            status(row),
            decision(row),
            headline_text(row.validation),
        )
    return table


def parameters_table(params: ModelParams) -> Table:
    """m, u and weight of every comparison level of one model."""
    table = Table(
        title=f"{params.entity_type}: {params.version} (prior {params.prior:.4f}, "
        f"threshold {params.threshold})"
    )
    for column in ("comparison", "level", "m", "u", "weight"):
        table.add_column(column)
    for comparison in COMPARISONS[params.entity_type]:
        p = params.comparisons[comparison.name]
        for level, label in enumerate(comparison.labels):
            table.add_row(
                comparison.name,
                label,
                f"{p.m[level]:.4f}",
                f"{p.u[level]:.6f}",
                f"{p.weight(level):+.2f}",
            )
    return table


def print_report(out: Console, row: ModelVersion, *, top: int = 10) -> None:
    """The validation report of a version: impact of a relink, weight changes, flags."""
    out.print(f"{row.entity_type} {row.version}: {status(row)} {decision(row)}".rstrip())
    reason = row.rejection_reason if row.rejected_by else row.approval_reason
    if reason:
        out.print(f"reason: {reason}")
    report = row.validation
    if not report:
        out.print(f"not validated; run `riec model validate {row.entity_type} {row.version}`")
        return
    against = report["against"]
    out.print(f"validated {report['computed_at']} against {against}: {headline_text(report)}")
    relink = report.get("relink")
    if relink:
        impact = Table(title="Relinking every record with each model (nothing applied)")
        impact.add_column("model", no_wrap=True)
        for column in ("records", "links", "entities", "changed records", "F1 vs now"):
            impact.add_column(column)
        for label, key in ((row.version, "candidate"), (against, "active")):
            r = relink[key]
            impact.add_row(
                label,
                str(r["records"]),
                str(r["links"]),
                str(r["entities"]),
                str(r["changed_records"]),
                f"{r['agreement'].get('pairwise_f1', 0.0):.4f}",
            )
        out.print(impact)
    impact = report.get("impact")
    if impact:
        table = Table(title=f"What it changes for {row.entity_type} (relink with {against} = 0)")
        for column in ("", "with the active model", "with the candidate", "gained", "lost"):
            table.add_column(column)
        for part, label in (("links", "links"), ("hits", "hit-list subjects")):
            counts = impact[part]
            table.add_row(
                label,
                str(counts["active"]),
                str(counts["candidate"]),
                str(counts["gained"]),
                str(counts["lost"]),
            )
        entities = impact["entities"]
        table.add_row(
            "entities",
            str(entities["active"]),
            str(entities["candidate"]),
            f"{entities['merged']} merged",
            f"{entities['split']} split",
        )
        out.print(table)
    gate = report.get("gate")
    if gate is None:
        out.print("approval gate: not judged (validated before the gate existed)")
    elif gate["blocked"]:
        out.print("[red]blocked by the approval gate[/red]:", markup=True)
        for reason in gate["reasons"]:
            out.print(f"  {reason}", markup=False)
    else:
        out.print("passes the approval gate")
    prior = report["prior"]
    out.print(
        f"prior {prior['old']:.4g} -> {prior['new']:.4g} ({prior['ratio']:.3g}x; "
        f"{prior['old_weight']:+.2f} -> {prior['new_weight']:+.2f} bits)"
    )
    changes = Table(title=f"Largest weight changes in bits, {against} -> {row.version}")
    for column in ("comparison", "level", "old", "new", "change"):
        changes.add_column(column)
    for c in report["weight_changes"][:top]:
        changes.add_row(
            c["comparison"],
            c["level"],
            f"{c['old']:+.2f}",
            f"{c['new']:+.2f}",
            f"{c['change']:+.2f}",
        )
    out.print(changes)
    if report["flags"]:
        out.print("flags (they say where to look; levels out of order block, see the gate):")
        for flag in report["flags"]:
            out.print(f"  {flag['check']}: {flag['message']}")
    else:
        out.print("no flags")
