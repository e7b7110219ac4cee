"""Key rotation through the real broker and database, as docs/key-rotation.md describes it.

k1 in use -> the RIEC side accepts k1 and k2 -> partners re-push everything under k2, one
after the other -> the RIEC side drops k1. Re-pushed records replace their k1 versions (same
partner record id), are linked again under k2 only, and end up in the same entities as
before; a late k1 message goes to the dead-letter topic.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import select, text
from sqlalchemy.orm import aliased

from core.settings import RiecSettings
from matching.evaluation import RecordKey
from partner.pseudonymise import Pseudonymiser
from riec.pipeline import PartnerFile, create_topics, match_until_caught_up, push_files
from storage import Database, Link, Record, connect
from synthetic.generator import DEFAULT_PARTNERS, generate_dataset

pytestmark = pytest.mark.integration

SECRET_V1 = bytes.fromhex("1d" * 32)
SECRET_V2 = bytes.fromhex("e4" * 32)
SUBJECTS = 60
SEED = 7
FIRST_TO_MIGRATE = "gemeente-tilburg"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "key-rotation.md"

Partition = set[frozenset[RecordKey]]


def not_migrated_query() -> str:
    """The report query of the rotation guide, taken from the guide itself."""
    blocks = re.findall(r"```sql\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
    [query] = [b for b in blocks if "not yet re-pushed" in b]
    return query


def partition(db: Database) -> Partition:
    """Active records grouped by entity: what the linkage says, whatever the entity ids."""
    groups: dict[str, set[RecordKey]] = defaultdict(set)
    with db.session() as session:
        for partner, record_id, entity_id in session.execute(
            select(Record.partner, Record.partner_record_id, Record.entity_id).where(
                Record.status == "active"
            )
        ):
            groups[entity_id].add((partner, record_id))
    return {frozenset(members) for members in groups.values()}


def entity_ids(db: Database) -> dict[RecordKey, str]:
    with db.session() as session:
        return {
            (p, r): e
            for p, r, e in session.execute(
                select(Record.partner, Record.partner_record_id, Record.entity_id).where(
                    Record.status == "active"
                )
            )
        }


def shared_with(partition_: Partition, partner: str) -> int:
    """Entities that hold records of ``partner`` and of some other partner."""
    partners_per_entity = ({p for p, _ in group} for group in partition_)
    return sum(1 for partners in partners_per_entity if partner in partners and len(partners) > 1)


def tokens_by_record(db: Database) -> dict[RecordKey, tuple[str, dict[str, str]]]:
    with db.session() as session:
        return {
            (r.partner, r.partner_record_id): (r.key_version, dict(r.tokens or {}))
            for r in session.scalars(select(Record).where(Record.status == "active"))
        }


def mixed_version_links(db: Database) -> int:
    a, b = aliased(Record), aliased(Record)
    with db.session() as session:
        return len(
            session.execute(
                select(Link.record_a)
                .join(a, a.id == Link.record_a)
                .join(b, b.id == Link.record_b)
                .where(a.key_version != b.key_version)
            ).all()
        )


def mixed_version_entities(db: Database) -> int:
    versions: dict[str, set[str]] = defaultdict(set)
    with db.session() as session:
        for entity_id, version in session.execute(
            select(Record.entity_id, Record.key_version).where(Record.status == "active")
        ):
            versions[entity_id].add(version)
    return sum(1 for v in versions.values() if len(v) > 1)


def not_migrated(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(text(not_migrated_query())).mappings().all()
    out: dict[str, int] = defaultdict(int)
    for row in rows:
        out[row["partner"]] += int(row["records"])
    return dict(out)


def without(path: Path, record_ids: set[str], out: Path) -> Path:
    """A copy of a partner file without some records: the partner's export of today."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if row["record_id"] not in record_ids]
        header = reader.fieldnames or []
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return out


def first_record_id(path: Path) -> str:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.DictReader(handle))["record_id"]


def dead_letter_reasons(settings: RiecSettings) -> list[str]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    try:
        consumer.assign([TopicPartition(settings.dead_letter_topic, p) for p in range(3)])
        consumer.seek_to_beginning()
        return [dict(m.headers)["riec.error.reason"].decode() for m in consumer]
    finally:
        consumer.close()


def test_versions_give_unrelated_pseudonyms() -> None:
    old, new = Pseudonymiser(SECRET_V1, "k1"), Pseudonymiser(SECRET_V2, "k2")
    same_secret_new_label = Pseudonymiser(SECRET_V1, "k2")
    for other in (new, same_secret_new_label):
        assert other.token("bsn", "111222333") != old.token("bsn", "111222333")
        assert other.blocking_key("bsn", "111222333") != old.blocking_key("bsn", "111222333")
        assert other.bloom("surname", "berg") != old.bloom("surname", "berg")
        assert other.fingerprint != old.fingerprint


def test_rotating_the_key_keeps_the_entities(settings: RiecSettings, tmp_path: Path) -> None:
    manifest = generate_dataset(tmp_path / "partner-side", n_subjects=SUBJECTS, seed=SEED)
    bases = {spec.partner: spec.legal_basis for spec in DEFAULT_PARTNERS}
    files = [
        PartnerFile(f.partner, f.partner_type, f.entity_type, f.path, bases[f.partner])
        for f in manifest.files
    ]
    create_topics(settings, {f.partner for f in files})
    db = connect(settings.resolved_database_url)
    try:
        # -- k1 in use; one record is retracted before the rotation starts.
        sent_k1 = sum(r.sent for r in push_files(settings, files, Pseudonymiser(SECRET_V1, "k1")))
        retracted_file = files[0]
        retracted_id = first_record_id(retracted_file.path)
        retraction = tmp_path / "retract.csv"
        retraction.write_text(f"record_id,operatie\n{retracted_id},retract\n", encoding="utf-8")
        push_files(
            settings, [replace(retracted_file, path=retraction)], Pseudonymiser(SECRET_V1, "k1")
        )
        stats = match_until_caught_up(settings, db, max_seconds=120)
        assert not stats.dead_letters
        before = partition(db)
        ids_before = entity_ids(db)
        tokens_before = tokens_by_record(db)
        assert sum(len(group) for group in before) == sent_k1 - 1
        assert sum(1 for group in before if len(group) > 1) >= 10, "too little linkage to test"
        assert shared_with(before, FIRST_TO_MIGRATE) > 0

        # Today's exports: the retracted record is no longer in its partner's file.
        current = []
        for f in files:
            gone = {retracted_id} if f is retracted_file else set()
            today = without(f.path, gone, tmp_path / "today" / f.partner / f.path.name)
            current.append(replace(f, path=today))

        # -- cut-over: both versions accepted; one partner re-pushes under k2 first.
        cutover = settings.model_copy(update={"accepted_key_versions": "k1,k2"})
        k2 = Pseudonymiser(SECRET_V2, "k2")
        first = [f for f in current if f.partner == FIRST_TO_MIGRATE]
        rest = [f for f in current if f.partner != FIRST_TO_MIGRATE]
        push_files(cutover, first, k2)
        stats = match_until_caught_up(cutover, db, max_seconds=120)
        assert not stats.dead_letters
        # Records are compared within one key version only: while partners are on different
        # versions, their records do not link, so cross-partner entities come apart.
        assert mixed_version_links(db) == 0
        assert mixed_version_entities(db) == 0
        assert shared_with(partition(db), FIRST_TO_MIGRATE) == 0
        waiting = not_migrated(db)
        assert FIRST_TO_MIGRATE not in waiting
        assert set(waiting) == {f.partner for f in rest}

        push_files(cutover, rest, k2)
        stats = match_until_caught_up(cutover, db, max_seconds=120)
        assert not stats.dead_letters
        assert not_migrated(db) == {}

        # -- the same entities as before, now all under k2, and nothing linkable under k1.
        after = partition(db)
        assert after == before
        tokens_after = tokens_by_record(db)
        assert set(tokens_after) == set(tokens_before)
        assert {version for version, _ in tokens_after.values()} == {"k2"}
        old_tokens = {t for _, tokens in tokens_before.values() for t in tokens.values()}
        new_tokens = {t for _, tokens in tokens_after.values() for t in tokens.values()}
        assert old_tokens.isdisjoint(new_tokens), "a k1 token survived the rotation"
        bsn_pairs = [
            (tokens_before[k][1]["bsn"], tokens_after[k][1]["bsn"])
            for k in tokens_before
            if "bsn" in tokens_before[k][1]
        ]
        assert bsn_pairs and all(old != new for old, new in bsn_pairs)
        with db.session() as session:
            tombstone = session.scalars(
                select(Record).where(Record.partner_record_id == retracted_id)
            ).one()
        # The tombstone keeps the version of its retraction, but no pseudonym at all.
        assert (tombstone.status, tombstone.key_version) == ("retracted", "k1")
        assert tombstone.tokens == {} and tombstone.filters == {}

        # -- k1 retired: a late k1 message is refused, and changes nothing.
        retired = settings.model_copy(update={"accepted_key_versions": "k2"})
        late = next(f for f in current if f.entity_type == "vehicle")
        # Every record and the push's batch report, which names the same key version.
        late_sent = push_files(retired, [late], Pseudonymiser(SECRET_V1, "k1"))[0].sent + 1
        stats = match_until_caught_up(retired, db, max_seconds=120)
        assert dict(stats.dead_letters) == {"unknown_key_version": late_sent}
        assert dead_letter_reasons(retired) == ["unknown_key_version"] * late_sent
        assert partition(db) == before
        assert not_migrated(db) == {}

        # Re-pushed records keep their entities, so the ids analysts know stay valid. Only
        # where a cross-partner entity came apart during the staged cut-over (its partners
        # on different key versions for a while) may the part that moved first keep a new id.
        after = entity_ids(db)
        kept = sum(1 for key, entity in after.items() if ids_before.get(key) == entity)
        assert kept >= 0.9 * len(after), f"{len(after) - kept} of {len(after)} changed entity id"
    finally:
        db.dispose()
