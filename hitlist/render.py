"""Render a built hit list as CSV (one row per entity) and as a self-contained HTML report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from hitlist.build import BuiltHitList, HitListRow

TEMPLATE_DIR = Path(__file__).with_name("templates")
HTML_TEMPLATE = "hitlist.html.j2"

NOTICE = (
    "Hit/no-hit information only. Request the underlying data from the partner concerned, "
    "after a written necessity check. Every row requires human review; no decision may rest "
    "on this list alone."
)

# Per-record columns: values in the same position belong to the same record.
_RECORD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("record_partners", "partner"),
    ("record_ids", "partner_record_id"),
    ("record_legal_bases", "legal_basis"),
    ("record_person_categories", "person_category"),
    ("record_signal_codes", "signal_code"),
    ("record_signal_themes", "signal_theme"),
    ("record_signal_dates", "signal_date"),
)
_MISSING = "n/a"
# Spreadsheet programs run cells that start with these characters as formulas.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def suppress_small(count: int, threshold: int) -> str:
    """``count`` as text, or ``"<threshold"`` when it is too small to publish."""
    return f"<{threshold}" if count < threshold else str(count)


def csv_columns(hit_list: BuiltHitList) -> list[str]:
    partner_columns = [f"partner:{partner}" for partner in hit_list.partners]
    return [
        "rank",
        "entity_id",
        "entity_type",
        "score",
        "partner_count",
        *partner_columns,
        "themes",
        "first_signal_date",
        "last_signal_date",
        "link_count",
        "link_probability_min",
        "link_probability_mean",
        "why_linked",
        "patterns",
        *(column for column, _ in _RECORD_COLUMNS),
        "retention_deadline",
        "requires_human_review",
        "audit_ref",
        "criteria_version",
    ]


def render_csv(hit_list: BuiltHitList) -> str:
    """One line per ranked entity; per-record details as aligned ``;``-separated lists."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_columns(hit_list))
    for row in hit_list.rows:
        writer.writerow(_safe_cell(cell) for cell in _csv_row(row, hit_list))
    return out.getvalue()


def render_html(hit_list: BuiltHitList, *, created_at: datetime, title: str) -> str:
    """The analyst's report: header, notice, ranked table, per-record details, aggregates."""
    threshold = hit_list.criteria.suppression_threshold
    return (
        _environment()
        .get_template(HTML_TEMPLATE)
        .render(
            title=title,
            notice=NOTICE,
            hit_list=hit_list,
            criteria=hit_list.criteria,
            created_at=created_at,
            record_count=sum(len(row.records) for row in hit_list.rows),
            theme_rows=[
                (theme, suppress_small(count, threshold))
                for theme, count in hit_list.theme_counts.items()
            ],
            qualifying_shown=suppress_small(hit_list.qualifying_entities, threshold),
        )
    )


def why_linked_text(row: HitListRow) -> str:
    return "; ".join(f"{c.field} {c.weight:.2f}" for c in row.why_linked)


def _csv_row(row: HitListRow, hit_list: BuiltHitList) -> list[object]:
    return [
        row.rank,
        row.entity_id,
        row.entity_type,
        f"{row.score:.4f}",
        row.partner_count,
        *("yes" if row.partners.get(partner) else "no" for partner in hit_list.partners),
        ";".join(row.themes),
        row.first_signal_date.isoformat(),
        row.last_signal_date.isoformat(),
        row.link_count,
        _optional_number(row.link_probability_min),
        _optional_number(row.link_probability_mean),
        why_linked_text(row),
        "; ".join(row.patterns),
        *(_joined(getattr(r, attribute) for r in row.records) for _, attribute in _RECORD_COLUMNS),
        row.retention_deadline.isoformat() if row.retention_deadline else "",
        "yes" if row.requires_human_review else "no",
        "" if row.audit_ref is None else row.audit_ref,
        hit_list.criteria.version,
    ]


def _joined(values: Iterable[object]) -> str:
    return ";".join(_text(value) for value in values)


def _text(value: object) -> str:
    if value is None or value == "":
        return _MISSING
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _optional_number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["text"] = _text
    env.filters["number"] = _optional_number
    env.globals["why_linked_text"] = why_linked_text
    return env
