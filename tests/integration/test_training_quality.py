"""A trained model must not make the linkage of any entity type worse: landed synthetic data,
the real training code (`riec model train`), a relink with the candidate, scored against the
truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_linkage_dags import land_synthetic
from typer.testing import CliRunner

from matching.evaluation import evaluate_by_type, read_entities, read_truth
from matching.linker import Linker
from matching.model import ModelParams, Scorer
from matching.params_store import active_params, list_versions
from matching.relink import relink_all
from riec.cli import app
from riec.export import export_entities
from storage import Database, Record, connect

pytestmark = pytest.mark.integration


def cli(database_url: str, *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"RIEC_DATABASE_URL": database_url})


def f1_by_type(db: Database, truth_path: Path, work: Path, name: str) -> dict[str, float]:
    export = work / f"{name}.csv"
    export_entities(db, export, actor="test")
    scores = evaluate_by_type(read_entities(export), read_truth(truth_path))
    return {t: m.f1 for t, m in scores.items()}


def equal_address_pair(db: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two landed address records with the same postcode and house number."""
    seen: dict[str, dict[str, Any]] = {}
    with db.session() as session:
        for tokens, filters in session.execute(
            select(Record.tokens, Record.filters).where(Record.entity_type == "address")
        ):
            key = (tokens or {}).get("postcode_huisnummer")
            if key is None:
                continue
            record = {"tokens": tokens, "filters": filters}
            if key in seen:
                return seen[key], record
            seen[key] = record
    raise AssertionError("no two address records share a postcode and house number")


def test_addresses_without_bag_ids_keep_their_links_after_training(
    database_url: str, tmp_path: Path
) -> None:
    # Partners outside the BAG send addresses without BAG ids: the address is all there is
    # to link on. Training once turned an equal address into a coin toss (its weight
    # cancelled by the prior) and every address link disappeared on the relink.
    db = connect(database_url)
    try:
        manifest = land_synthetic(db, tmp_path, subjects=1500, seed=5, bag_id_rate=0.0)
        streaming = f1_by_type(db, manifest.truth_path, tmp_path, "streaming")
        assert streaming["address"] > 0.95

        trained = cli(database_url, "model", "train", "--no-relink")
        assert trained.exit_code == 0, trained.output
        candidates = {
            row.entity_type: ModelParams.from_json(row.params) for row in list_versions(db)
        }
        if "address" in candidates:
            a, b = equal_address_pair(db)
            assert Scorer(candidates["address"]).score(a, b).probability >= 0.95

        relink_all(
            db,
            Linker(params={**active_params(db), **candidates}),
            apply=True,
            actor="dag:relink_entities",
        )
        relinked = f1_by_type(db, manifest.truth_path, tmp_path, "relinked")
        for entity_type, before in streaming.items():
            assert relinked[entity_type] >= before - 0.005, (entity_type, before, relinked)
    finally:
        db.dispose()
