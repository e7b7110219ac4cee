"""The model-training and relink DAGs, run for real on landed synthetic data."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest_dags import migrate_airflow_db, use_test_airflow_home
from sqlalchemy import select

from consumers.landing import Source, land_batch
from matching.linker import Linker
from matching.relink import relink_all
from partner.csv_source import read_rows
from partner.errors import InvalidValue
from partner.pseudonymise import Pseudonymiser
from partner.push import EnvelopeBuilder, PushOptions
from riec.airflow_local import run_dag
from storage import AuditEvent, Database, ModelVersion, Record, connect
from synthetic.generator import DatasetManifest, generate_dataset

use_test_airflow_home()

pytestmark = pytest.mark.integration


def land_synthetic(
    db: Database, work: Path, subjects: int, *, seed: int = 11, **options: Any
) -> DatasetManifest:
    """Generate a synthetic data set, push its rows through the partner side and land them.

    ``options`` go to :func:`synthetic.generator.generate_dataset`.
    """
    manifest = generate_dataset(work / "files", n_subjects=subjects, seed=seed, **options)
    pseudonymiser = Pseudonymiser(secrets.token_bytes(32), "k1")
    envelopes = []
    for f in manifest.files:
        builder = EnvelopeBuilder(
            pseudonymiser, PushOptions(f.partner, f.partner_type, f.entity_type, "b1")
        )
        for row in read_rows(Path(f.path)):
            try:
                envelopes.append(builder.build(row))
            except InvalidValue:
                continue  # the generator's deliberate rejects
    linker = Linker()
    for start in range(0, len(envelopes), 400):
        chunk = envelopes[start : start + 400]
        with db.session() as session:
            land_batch(
                session, linker, [(e, Source("t", 0, start + i)) for i, e in enumerate(chunk)]
            )
    return manifest


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    work = tmp_path_factory.mktemp("linkage-dags")
    url = f"sqlite:///{work / 'riec.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RIEC_DATA_DIR", str(work))
        env.setenv("RIEC_DATABASE_URL", url)
        db = connect(url)
        land_synthetic(db, work, subjects=600)
        migrate_airflow_db(use_test_airflow_home())
        yield db


def test_training_dag_stores_a_candidate_model_per_entity_type(landed: Database) -> None:
    state, _ = run_dag("train_linkage_model")
    assert state == "success"
    with landed.session() as session:
        versions = session.scalars(select(ModelVersion)).all()
    trained = {v.entity_type for v in versions}
    assert "person" in trained
    assert not any(v.active for v in versions)  # candidates until someone approves them
    person = next(v for v in versions if v.entity_type == "person")
    assert person.version.startswith("em-")
    assert person.training["blocked_pairs"] > 0
    assert person.validation is not None
    m = person.params["comparisons"]["bsn"]["m"]
    assert abs(sum(m) - 1) < 1e-6


def test_relink_dag_applies_and_streaming_then_agrees(landed: Database) -> None:
    state, _ = run_dag("relink_entities")  # report only
    assert state == "success"
    with landed.session() as session:
        before = dict(session.execute(select(Record.id, Record.entity_id)).all())
    # Apply through the library (the DAG's apply parameter runs the same function).
    report = relink_all(landed, Linker(), apply=True, actor="dag:relink_entities")
    assert report.applied and report.records > 0
    again = relink_all(landed, Linker())
    assert again.agreement["pairwise_f1"] == 1.0
    assert again.changed_records == 0
    with landed.session() as session:
        after = dict(session.execute(select(Record.id, Record.entity_id)).all())
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "relink_applied")
        ).first()
    assert set(before) == set(after)
