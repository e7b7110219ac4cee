"""Several matching service instances in one consumer group build the same entities as one."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from core.settings import RiecSettings
from partner.pseudonymise import Pseudonymiser
from riec.pipeline import PartnerFile, create_topics, match_until_caught_up, push_files
from storage import Record, connect
from synthetic.generator import generate_dataset

pytestmark = pytest.mark.integration

RIEC = str(Path(sys.executable).with_name("riec"))


def partition(url: str) -> set[frozenset[tuple[str, str]]]:
    groups: dict[str, set[tuple[str, str]]] = {}
    db = connect(url)
    with db.session() as session:
        for partner, record_id, entity_id in session.execute(
            select(Record.partner, Record.partner_record_id, Record.entity_id).where(
                Record.status == "active"
            )
        ):
            groups.setdefault(entity_id, set()).add((partner, record_id))
    db.dispose()
    return {frozenset(g) for g in groups.values()}


def env_for(settings: RiecSettings) -> dict[str, str]:
    return {**os.environ, **settings.environment()}


@pytest.mark.parametrize("instances", [3])
def test_instances_in_one_group_give_the_entities_of_one(
    settings: RiecSettings, tmp_path: Path, instances: int
) -> None:
    manifest = generate_dataset(tmp_path / "files", n_subjects=150, seed=5)
    partners = {f.partner for f in manifest.files}
    create_topics(settings, partners, partitions=3)
    files = [
        PartnerFile(f.partner, f.partner_type, f.entity_type, Path(f.path)) for f in manifest.files
    ]
    sent = sum(
        r.sent
        for r in push_files(
            settings,
            files,
            Pseudonymiser(secrets.token_bytes(32), "k1"),
            rejects_dir=tmp_path / "rejects",
        )
    )

    # Reference: one instance, its own group, its own database.
    single = settings.model_copy(
        update={
            "consumer_group": settings.consumer_group + "-single",
            "database_url": SecretStr(f"sqlite:///{tmp_path / 'single.db'}"),
        }
    )
    match_until_caught_up(single, max_seconds=300)

    # Several instances sharing a group and a database; small polls spread the work.
    shared = settings.model_copy(update={"poll_max_records": 50})
    connect(shared.resolved_database_url).dispose()
    processes = [
        subprocess.Popen(
            [RIEC, "match", "run", "--until-caught-up", "--max-seconds", "240"],
            env=env_for(shared),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(instances)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), [o[1][-2000:] for o in outputs]
    # Each instance reports what it consumed; together they consumed everything.
    assert (
        sum(int(out.strip().splitlines()[-1].split()[0]) for out, _ in outputs if out.strip())
        >= sent
    )

    # A late joiner may find everything consumed already; the rest picks up on restart.
    match_until_caught_up(shared, max_seconds=120)
    assert partition(shared.resolved_database_url) == partition(single.resolved_database_url)
    db = connect(shared.resolved_database_url)
    with db.session() as session:
        assert len(session.scalars(select(Record.id)).all()) == sent
    db.dispose()
