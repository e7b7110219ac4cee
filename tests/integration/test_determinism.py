"""The same records give the same entities, whatever their order and batching.

Links are decided by the two records and the model alone (term frequencies belong to the
model), and by the blocks as they end up: a block that grows past the size limit drops
the links only it made, one that falls back within the limit makes its pairs again. So
streaming in any order and batching ends where a batch relink of the same records does.
"""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from pydantic import SecretStr
from sqlalchemy import select
from test_fault_tolerance import count_records, second_database_url, start_cli, wait_for

from consumers.landing import Source, land_batch
from consumers.matching_service import MatchingService
from core.settings import RiecSettings
from matching.defaults import default_params
from matching.frequencies import as_table, count_values, with_frequencies
from matching.linker import Linker, LinkerConfig
from matching.model import ModelParams
from matching.params_store import Approval, store_params
from matching.relink import relink_all
from partner.csv_source import read_rows
from partner.errors import InvalidValue
from partner.pseudonymise import Pseudonymiser
from partner.push import EnvelopeBuilder, PushOptions
from riec.broker import ensure_topics
from storage import Database, Record, connect
from storage.database import scratch_schema
from synthetic.generator import generate_dataset

pytestmark = pytest.mark.integration
__all__ = ["second_database_url"]  # a fixture, shared with the kill -9 tests

TYPES = ("person", "company", "address", "vehicle")
Partition = set[frozenset[tuple[str, str]]]


def synthetic_envelopes(directory: Path, subjects: int, seed: int) -> list[dict[str, Any]]:
    """Envelopes of a synthetic data set, as the partners' push would send them."""
    manifest = generate_dataset(directory, n_subjects=subjects, seed=seed)
    pseudonymiser = Pseudonymiser(bytes(range(32)), "k1")
    envelopes = []
    for f in manifest.files:
        builder = EnvelopeBuilder(
            pseudonymiser, PushOptions(f.partner, f.partner_type, f.entity_type, "b1")
        )
        for row in read_rows(Path(f.path)):
            try:
                envelopes.append(builder.build(row))
            except InvalidValue:
                continue
    return envelopes


BASE = (
    "schema_version",
    "partner",
    "partner_type",
    "partner_record_id",
    "batch_id",
    "entity_type",
    "pseudonymisation",
)


def with_changes(envelopes: list[dict[str, Any]], seed: int) -> list[list[dict[str, Any]]]:
    """Per record its messages in order: the upsert, for some a changed version (another
    record's attributes), for some a retraction."""
    rng = random.Random(seed)
    later = datetime.now(UTC) + timedelta(seconds=1)
    histories = [[e] for e in envelopes]
    for history in histories:
        first = history[0]
        if rng.random() < 0.1:
            donor = rng.choice([e for e in envelopes if e["entity_type"] == first["entity_type"]])
            changed = {**copy.deepcopy(first), "attributes": copy.deepcopy(donor["attributes"])}
            changed.update(message_id=uuid.uuid4().hex, produced_at=later.isoformat())
            history.append(changed)
        if rng.random() < 0.15:
            retract = {k: first[k] for k in BASE}
            retract.update(
                operation="retract",
                message_id=uuid.uuid4().hex,
                produced_at=(later + timedelta(seconds=1)).isoformat(),
            )
            history.append(retract)
    return histories


def interleaved(histories: list[list[dict[str, Any]]], seed: int | None) -> list[dict[str, Any]]:
    """All messages, each record's in its order, the records' interleaved at random."""
    if seed is None:
        return [e for history in histories for e in history]
    rng = random.Random(seed)
    pending = [list(h) for h in histories]
    out: list[dict[str, Any]] = []
    while pending:
        i = rng.randrange(len(pending))
        out.append(pending[i].pop(0))
        if not pending[i]:
            pending[i] = pending[-1]
            pending.pop()
    return out


def partition(db: Database) -> Partition:
    groups: dict[str, set[tuple[str, str]]] = {}
    with db.session() as session:
        for partner, record_id, entity_id in session.execute(
            select(Record.partner, Record.partner_record_id, Record.entity_id).where(
                Record.status == "active"
            )
        ):
            assert entity_id is not None
            groups.setdefault(entity_id, set()).add((partner, record_id))
    return {frozenset(g) for g in groups.values()}


def land_in_batches(
    db: Database, linker: Linker, envelopes: list[dict[str, Any]], size: int
) -> None:
    for start in range(0, len(envelopes), size):
        batch = envelopes[start : start + size]
        with db.session() as session:
            land_batch(
                session,
                linker,
                [(e, Source("t", 0, start + n)) for n, e in enumerate(batch)],
            )


@pytest.fixture
def databases(database_url: str, tmp_path: Path) -> Iterator[Callable[[], Database]]:
    """Fresh databases on the test's backend, as many as asked for."""
    with ExitStack() as stack:
        made: list[Database] = []

        def fresh() -> Database:
            if database_url.startswith("sqlite"):
                url = f"sqlite:///{tmp_path / f'run-{len(made)}.db'}"
            else:
                url = stack.enter_context(scratch_schema(database_url.split("?")[0]))
            db = connect(url)
            made.append(db)
            return db

        yield fresh
        for db in made:
            db.dispose()


def test_order_batching_and_block_limits_do_not_change_the_entities(
    databases: Callable[[], Database], tmp_path: Path
) -> None:
    envelopes = synthetic_envelopes(tmp_path / "files", subjects=250, seed=11)
    # Small blocks, so that many grow past the limit while the records arrive.
    config = LinkerConfig(max_block_size=6, min_records_for_tf=2)

    # A model trained on these records: its term frequencies travel with it. With the
    # threshold so low that every compared pair links, a link stands exactly as long as
    # its pair shares a block within the limit.
    scratch = databases()
    land_in_batches(scratch, Linker(config), envelopes, 1000)
    with scratch.session() as session:
        params: dict[str, ModelParams] = {
            t: with_frequencies(session, default_params(t)) for t in TYPES
        }
    for model in params.values():
        model.threshold = 1e-9

    # Changed and retracted records too: blocks shrink back within the limit.
    histories = with_changes(envelopes, seed=5)
    results: list[Partition] = []
    for seed, size in ((None, 500), (1, 97), (2, 13)):
        db = databases()
        land_in_batches(db, Linker(config, params=params), interleaved(histories, seed), size)
        results.append(partition(db))
        if seed is None:
            first = db
    assert results[1] == results[0]
    assert results[2] == results[0]

    # A batch relink of the same records finds exactly the streaming entities.
    report = relink_all(first, Linker(config, params=params))
    assert report.agreement["pairwise_f1"] == 1.0
    assert report.changed_records == 0


def store_trained_model(db: Database, envelopes: list[dict[str, Any]], tmp_path: Path) -> None:
    """Activate a model whose term frequencies are those of ``envelopes``, as training does."""
    scratch = connect(f"sqlite:///{tmp_path / 'counts.db'}")
    land_in_batches(scratch, Linker(), envelopes, 1000)
    with scratch.session() as session:
        counted = {t: count_values(session, t) for t in TYPES}
    scratch.dispose()
    for entity_type, (total, counts) in counted.items():
        params = default_params(entity_type)
        params.version = "counted-1"
        params.frequencies = as_table(entity_type, total, counts)
        store_params(
            db,
            params,
            {"source": "test"},
            actor="job:test",
            activate=True,
            approval=Approval(
                "A. Analist", "the same model for both runs", override_gate="a test model"
            ),
            frequencies=counts,
        )


def entity_of_each_record(url: str) -> dict[tuple[str, str], frozenset[tuple[str, str]]]:
    """Per active record, the records its entity holds."""
    db = connect(url)
    try:
        groups: dict[str, set[tuple[str, str]]] = {}
        with db.session() as session:
            rows = session.execute(
                select(Record.partner, Record.partner_record_id, Record.entity_id).where(
                    Record.status == "active"
                )
            ).all()
        for partner, record_id, entity_id in rows:
            assert entity_id is not None, f"{partner}/{record_id} has no entity"
            groups.setdefault(entity_id, set()).add((partner, record_id))
        return {key: frozenset(groups[e]) for *key_parts, e in rows for key in [tuple(key_parts)]}
    finally:
        db.dispose()


def test_a_run_killed_again_and_again_gives_the_entities_of_an_uninterrupted_one(
    settings: RiecSettings, second_database_url: str, tmp_path: Path
) -> None:
    s = settings.model_copy(
        update={"poll_max_records": 40, "session_timeout_ms": 3_000, "heartbeat_interval_ms": 500}
    )
    envelopes = synthetic_envelopes(tmp_path / "files", subjects=300, seed=13)
    messages = interleaved(with_changes(envelopes, seed=3), seed=4)
    partners = sorted({e["partner"] for e in envelopes})
    ensure_topics(
        s.bootstrap_servers, [*(s.partner_topic(p) for p in partners), s.dead_letter_topic], 3
    )
    producer = KafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all", linger_ms=5)
    for e in messages:
        producer.send(
            s.partner_topic(e["partner"]),
            key=e["partner_record_id"].encode(),
            value=json.dumps(e).encode(),
        )
    producer.flush()
    producer.close()
    reference = s.model_copy(
        update={
            "database_url": SecretStr(second_database_url),
            "consumer_group": s.consumer_group + "-ref",
        }
    )
    for url in (s.resolved_database_url, reference.resolved_database_url):
        db = connect(url)
        store_trained_model(db, envelopes, tmp_path)
        db.dispose()

    # Killed with SIGKILL at random moments, each time as soon as it has landed a little
    # more, then restarted until it has caught up.
    rng = random.Random(20261207)
    log = tmp_path / "service.log"
    url = s.resolved_database_url
    for _ in range(5):
        process = start_cli(s, log, "--until-caught-up", "-v")
        landed = count_records(url)
        wait_for(lambda p=process, n=landed: p.poll() is not None or count_records(url) > n, 90)
        time.sleep(rng.uniform(0.0, 0.5))
        process.kill()
        process.wait(timeout=10)
    final = start_cli(s, log, "--until-caught-up", "-v")
    assert final.wait(timeout=300) == 0, log.read_text()[-3000:]

    MatchingService(reference).run(until_caught_up=True, max_seconds=300)
    interrupted = entity_of_each_record(url)
    uninterrupted = entity_of_each_record(reference.resolved_database_url)
    assert interrupted.keys() == uninterrupted.keys()
    differing = sorted(k for k in interrupted if interrupted[k] != uninterrupted[k])
    assert not differing, f"{len(differing)} records in other entities, e.g. {differing[:5]}"
