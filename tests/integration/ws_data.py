"""A small, real RIEC database for the workspace tests: synthetic partner files, encoded as
partners encode them, landed and linked by the real linker, validated, and a hit list built
and published by the hit-list package. No broker: the broker path has its own tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from consumers.landing import Source, land
from hitlist import build_hit_list, load_criteria, publish_hit_list
from matching.linker import Linker
from partner.csv_source import read_rows
from partner.pseudonymise import Pseudonymiser
from partner.push import EnvelopeBuilder, PushOptions, build_envelopes
from storage import Database
from storage.models import ValidationRun
from synthetic.generator import REFERENCE_DATE, generate_dataset


@dataclass(frozen=True)
class Landed:
    hit_list_id: int
    entity_ids: list[str]


def land_synthetic(db: Database, work: Path, *, subjects: int = 60, seed: int = 5) -> Landed:
    manifest = generate_dataset(work / "files", n_subjects=subjects, seed=seed)
    pseudonymiser = Pseudonymiser(secrets.token_bytes(32), "k1")
    linker = Linker()
    offset = 0
    batches: set[tuple[str, str]] = set()
    for item in manifest.files:
        options = PushOptions(
            partner=item.partner,
            partner_type=item.partner_type,
            entity_type=item.entity_type,
            batch_id=f"b-{item.partner}-{item.entity_type}",
        )
        builder = EnvelopeBuilder(pseudonymiser, options)
        for envelope in build_envelopes(read_rows(Path(item.path)), builder, lambda _r: None):
            with db.session() as session:
                land(session, linker, envelope, Source("test", 0, offset))
            offset += 1
        batches.add((item.partner, options.batch_id))
    with db.session() as session:
        for partner, batch_id in sorted(batches):
            session.add(
                ValidationRun(
                    run_at=datetime.now(UTC),
                    partner=partner,
                    batch_id=batch_id,
                    suite="riec_partner_records",
                    success=True,
                    evaluated=1,
                    failed=0,
                    record_count=1,
                    results={},
                )
            )
    with db.session() as session:
        built = build_hit_list(session, load_criteria(), today=REFERENCE_DATE)
    published = publish_hit_list(db, built, out_dir=work / "hitlists", actor="test-builder")
    return Landed(published.hit_list_id, [row.entity_id for row in built.rows])
