"""CSV cells a spreadsheet would run as a formula, and who may stand as an audit actor."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.actors import actor_kind, person_name_problem
from core.spreadsheet import FORMULA_START, restore_cell, safe_cell, safe_row
from matching.evaluation import read_entities


@pytest.mark.parametrize(
    "cell", ["=1+1", "+31612345678", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")']
)
def test_formula_starts_are_neutralised(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["A-1", "gemeente-a", "", "'=quoted already", 12, -3.5, None])
def test_other_cells_are_kept(cell: object) -> None:
    assert safe_cell(cell) == cell


@given(st.text())
def test_restore_undoes_neutralising(text: str) -> None:
    safe = safe_cell(text)
    assert isinstance(safe, str)
    assert not safe.startswith(FORMULA_START)
    if not (text.startswith("'") and text[1:].startswith(FORMULA_START)):
        assert restore_cell(safe) == text


def test_an_entities_export_reads_back_with_the_partners_ids(tmp_path: Path) -> None:
    path = tmp_path / "entities.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["partner", "partner_record_id", "entity_type", "entity_id", "status"])
        writer.writerow(safe_row(["gemeente-a", "=cmd|' /C calc'!A0", "person", "E1", "active"]))
        writer.writerow(safe_row(["politie-b", "-17", "person", "E1", "active"]))
    assert "'=cmd" in path.read_text(encoding="utf-8")
    read = read_entities(path)
    assert set(read.clusters) == {("gemeente-a", "=cmd|' /C calc'!A0"), ("politie-b", "-17")}


@pytest.mark.parametrize(
    ("actor", "kind"),
    [
        ("dag:build_hit_list", "component"),
        ("service:matching", "component"),
        ("job:benchmark", "component"),
        ("J. de Vries", "person"),
        ("dag:", "person"),
    ],
)
def test_actor_kinds(actor: str, kind: str) -> None:
    assert actor_kind(actor) == kind


@pytest.mark.parametrize(
    "name", ["cli", "CLI", "system", "", " ", "dag:x", "Service:matching", "a\tb", "x" * 200]
)
def test_these_name_no_person(name: str) -> None:
    assert person_name_problem(name) is not None


@pytest.mark.parametrize("name", ["J. de Vries", "jdevries", "Zoë Çelik", "a.b@riec.nl"])
def test_these_name_a_person(name: str) -> None:
    assert person_name_problem(name) is None
