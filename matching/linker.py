"""Incremental linkage of landed records into entities, a batch at a time.

For each new or changed record: index its keyed blocking keys and exact tokens, find the
active records that share one, score each pair with the Fellegi-Sunter model and store
every pair above the threshold as a link, with its per-field explanation. Candidates and
their encodings come from the linker's in-memory replica of the index
(:mod:`matching.index`), not from the database, so the cost of a batch does not grow with
the number of records stored. Entities are then the clusters of the link graph around the
batch, recomputed for those components only:

* edges are taken strongest first, ties broken by the records' partner keys, so the
  result does not depend on the order in which records arrived, were batched or replayed;
* hard identifiers (BSN, KvK, RSIN, BAG-id, kenteken) are cannot-link constraints: a
  cluster never holds two different values of one;
* a size cap stops giant clusters;
* entity ids are kept stable: each cluster keeps the id most of its records already had;
  merges, splits and retirements are written to the entity history.

All database work is set-based (a few statements per batch, not per record), which is
what lets one service instance keep up with bulk loads.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import delete, event, func, or_, select, text, update
from sqlalchemy.orm import Session

from matching.comparisons import COMPARISONS, Block, TokenComparison, TokenThenFilterComparison
from matching.defaults import default_params
from matching.index import (
    FREQUENCY_FIELDS,
    FREQUENCY_PREFIX,
    Columns,
    Delta,
    Entry,
    Replica,
    View,
    filter_digest,
    index_hashes,
    key_hash,
    salt,
)
from matching.index import is_frequency_key as is_frequency_key
from matching.model import ModelParams, Scorer
from matching.similarity import unpack
from storage.bulk import insert_rows, update_rows
from storage.models import BlockingKey, Entity, EntityEvent, Link, Record

log = logging.getLogger("riec.linker")

HARD_FIELDS: dict[str, tuple[str, ...]] = {
    entity_type: tuple(c.field for c in comparisons if c.hard)  # type: ignore[attr-defined]
    for entity_type, comparisons in COMPARISONS.items()
}
# Exact-token fields are indexed next to the partner's blocking keys: equal tokens make a
# candidate pair, and their counts give term frequencies.
TOKEN_FIELDS: dict[str, tuple[str, ...]] = {
    entity_type: tuple(
        c.field  # type: ignore[attr-defined]
        for c in comparisons
        if isinstance(c, TokenComparison | TokenThenFilterComparison)
    )
    for entity_type, comparisons in COMPARISONS.items()
}
CHUNK = 500  # ids per IN (...) list

RecordKey = tuple[str, str]


@dataclass
class LinkerConfig:
    # A blocking key shared by more records is too common to say anything (a long street,
    # a common word in company names); such blocks would cost more than they find.
    max_block_size: int = 100
    max_entity_size: int = 200  # the giant-cluster guard
    max_component: int = 20_000  # how far one reclustering may reach through the link graph
    term_frequencies: bool = True
    min_records_for_tf: int = 1_000  # below this, frequencies say less than the model's u


@dataclass
class ToLink:
    """A landed record that needs linking: what the linker needs to know of it."""

    id: int
    partner: str
    partner_record_id: str
    entity_type: str
    key_version: str
    tokens: dict[str, str]
    filters: dict[str, str]
    blocking: Sequence[str]
    message_id: str = ""

    @cached_property
    def encoded(self) -> dict[str, dict[str, Any]]:
        """Tokens, and filters decoded once: a record is scored against many others."""
        return {"tokens": self.tokens, "filters": {f: unpack(v) for f, v in self.filters.items()}}


@dataclass
class Member:
    id: int
    key: RecordKey
    entity_type: str
    hard: dict[str, str]
    entity_id: str | None
    link_weight: float | None = None


def member_from_row(row: Any) -> Member:
    """A cluster member from a row with the record's id, keys, type, tokens and entity."""
    tokens = row.tokens or {}
    return Member(
        id=row.id,
        key=(row.partner, row.partner_record_id),
        entity_type=row.entity_type,
        hard={f: t for f in HARD_FIELDS[row.entity_type] if (t := tokens.get(f))},
        entity_id=row.entity_id,
        link_weight=row.link_weight,
    )


@dataclass
class BatchOutcome:
    links: int = 0
    changed_entities: set[str] = field(default_factory=set)


def _now() -> datetime:
    return datetime.now(UTC)


def token_key(field_name: str, token: str) -> str:
    return f"{field_name}:{token}"


def frequency_key(field_name: str, value: str | np.ndarray) -> str:
    """The index entry that counts a filter value: a digest of the filter.

    A filter is the same for the same value under one key, so its digest says no more
    about the value than the stored filter does.
    """
    return f"{FREQUENCY_PREFIX}{field_name}:{filter_digest(unpack(value))}"


def index_keys(
    entity_type: str,
    tokens: dict[str, str],
    blocking: Iterable[str],
    filters: dict[str, Any] | None = None,
) -> set[str]:
    """A record's index entries: blocking keys, exact tokens and counted filter values."""
    keys = set(blocking) | {
        token_key(f, t) for f in TOKEN_FIELDS[entity_type] if (t := tokens.get(f))
    }
    for f in FREQUENCY_FIELDS.get(entity_type, ()):
        if (value := (filters or {}).get(f)) is not None:
            keys.add(frequency_key(f, value))
    return keys


def term_counts(
    entity_type: str, encoded: Sequence[dict[str, Any]], count: Callable[[str], int]
) -> dict[str, np.ndarray]:
    """Per counted field, for each record's value: how many records carry it.

    ``encoded`` holds each record's tokens and filters; ``count`` gives the number of
    records under an index entry (:func:`frequency_counter` reads a model's table).
    """
    counts = {
        f: np.array(
            [count(token_key(f, t)) if (t := e["tokens"].get(f)) else 0 for e in encoded],
            dtype=float,
        )
        for f in TOKEN_FIELDS[entity_type]
    }
    for f in FREQUENCY_FIELDS.get(entity_type, ()):
        counts[f] = np.array(
            [
                count(frequency_key(f, v)) if (v := e["filters"].get(f)) is not None else 0
                for e in encoded
            ],
            dtype=float,
        )
    return counts


def frequency_counter(params: ModelParams, config: LinkerConfig) -> Callable[[str], int] | None:
    """Count of an index entry in the model's term frequencies; None: no adjustment."""
    frequencies = params.frequencies
    if (
        not config.term_frequencies
        or frequencies is None
        or frequencies.total < config.min_records_for_tf
    ):
        return None
    table, entity_type = frequencies.counts, params.entity_type
    return lambda key: table.get(key_hash(entity_type, key), 0)


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def default_params_source() -> dict[str, ModelParams]:
    return {t: default_params(t) for t in COMPARISONS}


class Linker:
    def __init__(
        self, config: LinkerConfig | None = None, params: dict[str, ModelParams] | None = None
    ) -> None:
        self.config = config or LinkerConfig()
        self.replica = Replica()
        self._replica_of: str | None = None  # the database the replica was read from
        self.use_params(params or default_params_source())

    def use_params(self, params: dict[str, ModelParams]) -> None:
        self.params = params
        self.scorers = {t: Scorer(p) for t, p in params.items()}

    # -- the replica ----------------------------------------------------------------------

    def load(self, session: Session) -> None:
        """Read the replica of the index from the database (done once, on first use)."""
        self.replica.load(session)
        self._replica_of = _database_of(session)

    def _view(self, session: Session) -> View:
        """The replica as this transaction sees it; its changes apply once it commits."""
        if not self.replica.loaded or self._replica_of != _database_of(session):
            self.load(session)
        key = ("riec.linker.delta", id(self))
        delta = session.info.get(key)
        if delta is None:
            delta = session.info[key] = Delta()
            replica = self.replica

            def committed(_session: Session) -> None:
                _session.info.pop(key, None)
                replica.apply(delta, delta.seen)

            def rolled_back(_session: Session) -> None:
                _session.info.pop(key, None)
                if event.contains(_session, "after_commit", committed):
                    event.remove(_session, "after_commit", committed)

            event.listen(session, "after_commit", committed, once=True)
            event.listen(session, "after_soft_rollback", rolled_back, once=True)
        return View(self.replica, delta)

    # -- linking ------------------------------------------------------------------------

    def link_batch(
        self,
        session: Session,
        items: Sequence[ToLink],
        *,
        extra_seeds: Iterable[int] = (),
        old_entities: Iterable[str] = (),
    ) -> BatchOutcome:
        """Index, score and cluster a batch of landed records in a few statements.

        The batch is scored against the replica as this instance last saw it, without
        waiting for anyone. Then it takes its entity types' turn (:func:`take_turns`),
        reads what other instances linked meanwhile, and scores what that adds: no pair
        between two batches is missed, and only that last step and the clustering wait.
        """
        outcome = BatchOutcome()
        view = self._view(session)
        delta = view.delta
        rows = []
        for item in items:
            keys = index_keys(item.entity_type, item.tokens, item.blocking, item.filters)
            rows.extend(
                {"record_id": item.id, "key": k, "entity_type": item.entity_type}
                for k in sorted(keys)
            )
            block_keys, counted = index_hashes(item.entity_type, keys)
            delta.add(
                item.id,
                Entry(
                    item.entity_type,
                    item.key_version,
                    block_keys,
                    counted,
                    {"tokens": item.tokens, "filters": item.filters},
                ),
            )
        insert_rows(session, BlockingKey.__table__, rows)
        pairs = self._pairs(view, items)
        scored = {t: self._score(t, sorted(p), view) for t, p in pairs.items()}

        types = {item.entity_type for item in items} | set(delta.removed.values())
        take_turns(session, types)
        caught = self.replica.catch_up(
            session, types, skip=delta.removed.keys() | {i.id for i in items}
        )
        if any(caught.values()):
            changed = {r for ids in caught.values() for r in ids}
            final = self._pairs(view, items)
            for entity_type, type_pairs in final.items():
                redo = {p for p in type_pairs if p[0] in changed or p[1] in changed}
                kept = [
                    link
                    for link in scored.get(entity_type, [])
                    if (pair := (link["record_a"], link["record_b"])) in type_pairs
                    and pair not in redo
                ]
                fresh = (type_pairs - pairs.get(entity_type, set())) | redo
                scored[entity_type] = kept + self._score(entity_type, sorted(fresh), view)
            for entity_type in scored.keys() - final.keys():
                scored[entity_type] = []
        links = [link for t in sorted(scored) for link in scored[t]]
        seeds = {item.id for item in items} | set(extra_seeds)
        more, touched = self._block_limits(
            session, view, {(x["record_a"], x["record_b"]) for x in links}
        )
        links.extend(more)
        seeds |= touched
        insert_rows(session, Link.__table__, links)
        outcome.links = len(links)
        stamp = self._take_turn(session, delta, types)
        outcome.changed_entities = self.recluster(session, seeds, set(old_entities), stamp)
        # Records that are no members (retracted ones) get their stamp here.
        update_rows(
            session,
            Record.__table__,
            "id",
            [
                {"id": r, "link_seq": seq}
                for r, seq in sorted(stamp.items())
                if r in delta.removed and r not in delta.added
            ],
        )
        return outcome

    def _block_limits(
        self, session: Session, view: View, new_links: set[tuple[int, int]]
    ) -> tuple[list[dict[str, Any]], set[int]]:
        """Keep the links true to the blocks as they are now, whatever the order of arrival.

        A pair is compared when its records share a block of two to ``max_block_size``
        records *now*: a block the batch grows past the limit no longer supports the links
        it made (each is dropped unless another shared block still makes the pair), and a
        block that falls back within the limit makes its pairs again. Returns the links
        that adds and the records whose links were dropped (to be reclustered).
        """
        limit = self.config.max_block_size
        index, delta = self.replica.index, view.delta
        grown: list[int] = []
        shrunk: list[int] = []
        for key in delta.touched_keys():
            before, after = index.size(key), view.size(key)
            if 2 <= before <= limit < after:
                grown.append(key)
            elif 2 <= after <= limit < before:
                shrunk.append(key)
        touched: set[int] = set()
        if grown:
            together = [set(index.members(key)) for key in grown]
            for a, b in self._links_among(session, set().union(*together)):
                if not any(a in m and b in m for m in together):
                    continue
                if any(2 <= view.size(k) <= limit for k in self._shared_keys(view, a, b)):
                    continue
                session.execute(delete(Link).where(Link.record_a == a, Link.record_b == b))
                touched |= {a, b}
        more: list[dict[str, Any]] = []
        if shrunk:
            by_type: dict[str, set[tuple[int, int]]] = defaultdict(set)
            for key in shrunk:
                members = sorted(m for m in view.members(key) if m not in delta.added)
                if len(members) < 2:
                    continue
                entity_type = self.replica.entity_type_of(members[0])
                assert entity_type is not None
                by_type[entity_type].update(
                    (a, b) for i, a in enumerate(members) for b in members[i + 1 :]
                )
            everyone = {r for pairs in by_type.values() for pair in pairs for r in pair}
            linked = self._links_among(session, everyone) | new_links
            for entity_type, pairs in sorted(by_type.items()):
                found = self._score(entity_type, sorted(pairs - linked), view)
                more.extend(found)
                touched |= {r for link in found for r in (link["record_a"], link["record_b"])}
        return more, touched

    def _links_among(self, session: Session, ids: set[int]) -> set[tuple[int, int]]:
        found: set[tuple[int, int]] = set()
        for chunk in _chunks(sorted(ids)):
            for a, b in session.execute(
                select(Link.record_a, Link.record_b).where(Link.record_a.in_(chunk))
            ):
                if b in ids:
                    found.add((a, b))
        return found

    @staticmethod
    def _shared_keys(view: View, a: int, b: int) -> set[int]:
        def keys(record_id: int) -> set[int]:
            added = view.delta.added.get(record_id)
            if added is not None:
                return set(added.block_keys)
            return set(view.replica.index.keys_of(record_id)[0])

        return keys(a) & keys(b)

    def _pairs(self, view: View, items: Sequence[ToLink]) -> dict[str, set[tuple[int, int]]]:
        """Candidate pairs of the batch: records that share a block of 2 to the maximum."""
        limit = self.config.max_block_size
        pairs: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for item in items:
            entry = view.delta.added[item.id]
            found: set[int] = set()
            for key in entry.block_keys:
                if 2 <= view.size(key) <= limit:
                    found.update(view.members(key))
            found.discard(item.id)
            pairs[item.entity_type].update((min(item.id, o), max(item.id, o)) for o in found)
        return pairs

    def _take_turn(self, session: Session, delta: Delta, types: Iterable[str]) -> dict[int, int]:
        """The next ``link_seq`` of each entity type, for the batch's records to carry."""
        stamp: dict[int, int] = {}
        for entity_type in sorted(types):
            ids = {r for r, e in delta.added.items() if e.entity_type == entity_type} | {
                r for r, t in delta.removed.items() if t == entity_type
            }
            if not ids:
                continue
            last = session.scalar(
                select(func.max(Record.link_seq)).where(Record.entity_type == entity_type)
            )
            seq = int(last or 0) + 1
            stamp.update(dict.fromkeys(ids, seq))
            delta.seen[entity_type] = seq
        return stamp

    def _score(
        self, entity_type: str, pairs: list[tuple[int, int]], view: View
    ) -> list[dict[str, Any]]:
        """Score all candidate pairs of one entity type at once; return the links."""
        ids = sorted({i for pair in pairs for i in pair})
        row = {rid: n for n, rid in enumerate(ids)}
        columns = view.columns(entity_type, ids)
        block = Block.of_columns(columns.size, columns.tokens, columns.filters)
        left = np.fromiter((row[a] for a, _ in pairs), dtype=np.int64, count=len(pairs))
        right = np.fromiter((row[b] for _, b in pairs), dtype=np.int64, count=len(pairs))
        # Records pseudonymised under different keys never compare (a key rotation).
        versions = np.array(columns.key_versions, dtype=object)
        same_key = versions[left] == versions[right]
        if not same_key.all():
            pairs = [pair for pair, same in zip(pairs, same_key, strict=True) if same]
            left, right = left[same_key], right[same_key]
        if not pairs:
            return []
        scorer = self.scorers[entity_type]
        counts, total = self._term_counts(entity_type, columns)
        scores = scorer.score_pairs(block, left, right, counts, total)
        keep = (scores.probabilities >= scorer.params.threshold) & ~scores.conflicts
        now = _now()
        return [
            {
                "record_a": pairs[i][0],
                "record_b": pairs[i][1],
                "weight": round(float(scores.weights[i]), 4),
                "probability": float(scores.probabilities[i]),
                "contributions": scorer.explain(scores, int(i)),
                "model_version": scorer.params.version,
                "created_at": now,
            }
            for i in keep.nonzero()[0]
        ]

    def _term_counts(
        self, entity_type: str, columns: Columns
    ) -> tuple[dict[str, np.ndarray] | None, int]:
        """Per counted field and block row: how many records held that row's value.

        From the model's term frequencies (counted when it was trained), never from the
        records stored so far: those depend on the order records arrive in.
        """
        frequencies = self.params[entity_type].frequencies
        if (
            not self.config.term_frequencies
            or frequencies is None
            or frequencies.total < self.config.min_records_for_tf
        ):
            return None, 0
        table = frequencies.counts
        counted = [(f, f) for f in TOKEN_FIELDS[entity_type]] + [
            (f, FREQUENCY_PREFIX + f) for f in FREQUENCY_FIELDS.get(entity_type, ())
        ]
        counts: dict[str, np.ndarray] = {}
        for name, prefix in counted:
            column = columns.tokens.get(prefix)
            if column is None:
                counts[name] = np.zeros(columns.size)
                continue
            values, present = column
            keys = np.bitwise_xor(values, np.int64(salt(entity_type, prefix)))
            keys[keys == 0] = 1
            counts[name] = np.array(
                [
                    table.get(k, 0) if p else 0
                    for k, p in zip(keys.tolist(), present.tolist(), strict=True)
                ],
                dtype=float,
            )
        return counts, frequencies.total

    # -- detaching ----------------------------------------------------------------------

    def detach(
        self, session: Session, record_ids: Sequence[int], leaving: Iterable[int] = ()
    ) -> tuple[set[int], set[str]]:
        """Remove records' keys and links before they change or leave.

        Records in ``leaving`` (retracted) also leave their entity. The others are about to
        be linked again and keep their entity for now, so that when they land in the same
        cluster the entity keeps its id (a changed record, a key rotation).

        Returns the records they were linked to and the entities they were in: the seeds
        for reclustering what they held together.
        """
        leaving = set(leaving)
        if not record_ids:
            return set(), set()
        view = self._view(session)
        for record_id in record_ids:
            view.delta.remove(self.replica, record_id)
        neighbours: set[int] = set()
        old_entities: set[str] = set()
        ids = sorted(record_ids)
        for chunk in _chunks(ids):
            for a, b in session.execute(
                select(Link.record_a, Link.record_b).where(
                    or_(Link.record_a.in_(chunk), Link.record_b.in_(chunk))
                )
            ):
                neighbours.update((a, b))
            current = session.execute(
                select(Record.id, Record.entity_id).where(
                    Record.id.in_(chunk), Record.entity_id.is_not(None)
                )
            ).all()
            old_entities.update(entity_id for _, entity_id in current)
            self._events(
                session,
                [self._event(e, "record_left", rid) for rid, e in current if rid in leaving],
            )
            session.execute(delete(BlockingKey).where(BlockingKey.record_id.in_(chunk)))
            session.execute(
                delete(Link).where(or_(Link.record_a.in_(chunk), Link.record_b.in_(chunk)))
            )
            session.execute(
                update(Record)
                .where(Record.id.in_(chunk))
                .values(link_weight=None)
                .execution_options(synchronize_session=False)
            )
            gone = [rid for rid in chunk if rid in leaving]
            if gone:
                session.execute(
                    update(Record)
                    .where(Record.id.in_(gone))
                    .values(entity_id=None)
                    .execution_options(synchronize_session=False)
                )
        members: set[int] = set()
        for chunk in _chunks(sorted(old_entities)):
            members.update(
                session.scalars(
                    select(Record.id).where(Record.entity_id.in_(chunk), Record.status == "active")
                )
            )
        return (neighbours | members) - set(ids), old_entities

    # -- clustering ---------------------------------------------------------------------

    def recluster(
        self,
        session: Session,
        seeds: Iterable[int],
        old_entities: set[str],
        stamp: dict[int, int] | None = None,
    ) -> set[str]:
        """Recompute the entities of the link-graph components around ``seeds``.

        ``stamp`` gives records a ``link_seq`` to carry, written with their entity.
        """
        component = self._component(session, set(seeds))
        members = self._members(session, component)
        edges = self._edges(session, members)
        clusters = self._constrained_clusters(members, edges)
        return self._assign_ids(session, clusters, members, edges, old_entities, stamp)

    def _component(self, session: Session, seeds: set[int]) -> set[int]:
        seen = set(seeds)
        frontier = sorted(seeds)
        while frontier and len(seen) < self.config.max_component:
            found: set[int] = set()
            for chunk in _chunks(frontier):
                found.update(session.scalars(select(Link.record_b).where(Link.record_a.in_(chunk))))
                found.update(session.scalars(select(Link.record_a).where(Link.record_b.in_(chunk))))
            frontier = sorted(found - seen)
            seen |= found
        if frontier:
            log.warning("link component capped at %d records", self.config.max_component)
        return seen

    def _members(self, session: Session, ids: set[int]) -> dict[int, Member]:
        members: dict[int, Member] = {}
        for chunk in _chunks(sorted(ids)):
            for row in session.execute(
                select(
                    Record.id,
                    Record.partner,
                    Record.partner_record_id,
                    Record.entity_type,
                    Record.tokens,
                    Record.entity_id,
                    Record.link_weight,
                ).where(Record.id.in_(chunk), Record.status == "active")
            ):
                members[row.id] = member_from_row(row)
        return members

    def _edges(self, session: Session, members: dict[int, Member]) -> list[tuple[int, int, float]]:
        edges: list[tuple[int, int, float]] = []
        for chunk in _chunks(sorted(members)):
            for a, b, weight in session.execute(
                select(Link.record_a, Link.record_b, Link.weight).where(Link.record_a.in_(chunk))
            ):
                if b in members:
                    edges.append((a, b, weight))
        return edges

    def _constrained_clusters(
        self, members: dict[int, Member], edges: Iterable[tuple[int, int, float]]
    ) -> list[list[Member]]:
        parent = {rid: rid for rid in members}
        size = dict.fromkeys(members, 1)
        hard = {rid: dict(m.hard) for rid, m in members.items()}

        def find(node: int) -> int:
            while parent[node] != node:
                parent[node] = parent[parent[node]]
                node = parent[node]
            return node

        ordered = sorted(
            edges,
            key=lambda e: (-round(e[2], 4), *sorted((members[e[0]].key, members[e[1]].key))),
        )
        for a, b, _weight in ordered:
            ra, rb = find(a), find(b)
            if ra == rb:
                continue
            if size[ra] + size[rb] > self.config.max_entity_size:
                continue
            if any(hard[rb].get(f, t) != t for f, t in hard[ra].items()):
                continue
            # The root with the smaller record key survives, keeping roots order-free.
            if members[rb].key < members[ra].key:
                ra, rb = rb, ra
            parent[rb] = ra
            size[ra] += size[rb]
            hard[ra] = {**hard[rb], **hard[ra]}
        groups: dict[int, list[Member]] = defaultdict(list)
        for rid, member in members.items():
            groups[find(rid)].append(member)
        return sorted(
            (sorted(g, key=lambda m: m.key) for g in groups.values()),
            key=lambda g: (-len(g), g[0].key),
        )

    def _assign_ids(
        self,
        session: Session,
        clusters: list[list[Member]],
        members: dict[int, Member],
        edges: list[tuple[int, int, float]],
        old_entities: set[str],
        stamp: dict[int, int] | None = None,
    ) -> set[str]:
        stamp = stamp or {}
        previous = {rid: m.entity_id for rid, m in members.items()}
        involved = {e for e in previous.values() if e} | old_entities
        used: set[str] = set()
        changed: set[str] = set()
        events: list[dict[str, Any]] = []
        new_clusters: list[list[Member]] = []
        assignment: dict[int, str] = {}
        for cluster in clusters:
            counts = Counter(m.entity_id for m in cluster if m.entity_id)
            choice = next(
                (
                    e
                    for e, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))
                    if e not in used
                ),
                None,
            )
            if choice is None:
                new_clusters.append(cluster)
                continue
            used.add(choice)
            for m in cluster:
                assignment[m.id] = choice
        inserted: set[str] = set()
        for cluster, entity_id in zip(
            new_clusters,
            self._new_entities(session, new_clusters, used, events, inserted),
            strict=True,
        ):
            used.add(entity_id)
            for m in cluster:
                assignment[m.id] = entity_id
        best: dict[int, float] = {}
        for a, b, weight in edges:
            if assignment.get(a) == assignment.get(b):
                for node in (a, b):
                    best[node] = max(best.get(node, weight), weight)
        updates = []
        for rid, member in members.items():
            target = assignment[rid]
            if member.entity_id != target:
                if member.entity_id:
                    events.append(self._event(member.entity_id, "record_moved", rid, target))
                events.append(self._event(target, "record_joined", rid))
                changed.add(target)
            if rid in stamp:
                row = {"entity_id": target, "link_weight": best.get(rid), "link_seq": stamp[rid]}
                updates.append({"id": rid, **row})
            elif member.entity_id != target or member.link_weight != best.get(rid):
                updates.append({"id": rid, "entity_id": target, "link_weight": best.get(rid)})
            member.entity_id = target
        # Rows of one statement have the same columns: the stamped ones apart.
        update_rows(session, Record.__table__, "id", [u for u in updates if "link_seq" in u])
        update_rows(session, Record.__table__, "id", [u for u in updates if "link_seq" not in u])
        for entity_id in sorted(involved - used):
            # Every record moved elsewhere: merged into one entity, or spread over several.
            targets = sorted({assignment[r] for r, e in previous.items() if e == entity_id})
            event = "merged_into" if len(targets) == 1 else "split"
            for target in targets:
                events.append(self._event(entity_id, event, None, target))
                if event == "merged_into":
                    events.append(self._event(target, "merged", None, entity_id))
            changed.add(entity_id)
        sizes = {
            assignment[cluster[0].id]: (len(cluster), len({m.key[0] for m in cluster}))
            for cluster in clusters
        }
        touched = changed | (involved - used) | (old_entities & used)
        self._refresh_entities(session, sorted(touched - inserted), sizes, events)
        self._events(session, events)
        return changed

    def _new_entities(
        self,
        session: Session,
        clusters: list[list[Member]],
        used: set[str],
        events: list[dict[str, Any]],
        inserted: set[str],
    ) -> list[str]:
        """Ids for clusters that continue no entity: derived from their first record.

        New entities are inserted with their counts (their ids go into ``inserted``);
        retired ones that come back are made active again.
        """
        if not clusters:
            return []
        bases = [
            "E"
            + hashlib.sha256(
                f"{c[0].entity_type}|{c[0].key[0]}|{c[0].key[1]}".encode()
            ).hexdigest()[:19]
            for c in clusters
        ]
        existing: dict[str, bool] = {}
        for chunk in _chunks(bases):
            existing.update(
                session.execute(
                    select(Entity.entity_id, Entity.active).where(Entity.entity_id.in_(chunk))
                ).all()
            )
        now = _now()
        chosen: list[str] = []
        fresh: list[dict[str, Any]] = []
        revived: list[str] = []
        for cluster, base in zip(clusters, bases, strict=True):
            entity_id, n = base, 0
            while entity_id in used or existing.get(entity_id):
                n += 1
                entity_id = f"{base}-{n}"
                if entity_id not in existing:
                    row = session.execute(
                        select(Entity.active).where(Entity.entity_id == entity_id)
                    ).first()
                    if row is not None:
                        existing[entity_id] = row.active
            if entity_id in existing:
                revived.append(entity_id)
            else:
                fresh.append(
                    {
                        "entity_id": entity_id,
                        "entity_type": cluster[0].entity_type,
                        "created_at": now,
                        "updated_at": now,
                        "record_count": len(cluster),
                        "partner_count": len({m.key[0] for m in cluster}),
                        "active": True,
                    }
                )
            used.add(entity_id)
            existing[entity_id] = True
            chosen.append(entity_id)
            events.append(self._event(entity_id, "created", cluster[0].id))
        insert_rows(session, Entity.__table__, fresh)
        for chunk in _chunks(revived):
            session.execute(
                update(Entity)
                .where(Entity.entity_id.in_(chunk))
                .values(active=True, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        inserted.update(row["entity_id"] for row in fresh)
        return chosen

    def _refresh_entities(
        self,
        session: Session,
        entity_ids: list[str],
        sizes: dict[str, tuple[int, int]],
        events: list[dict[str, Any]],
    ) -> None:
        """Write the record and partner counts of entities whose membership changed.

        ``sizes`` holds (records, partners) of every entity that has a cluster; an entity
        without one has no records left and retires. The records of an entity are always
        in the component reclustered (they are linked), so the counts are the clusters'.
        """
        if not entity_ids:
            return
        gone = [e for e in entity_ids if e not in sizes]
        was_active: dict[str, bool] = {}
        for chunk in _chunks(gone):
            was_active.update(
                session.execute(
                    select(Entity.entity_id, Entity.active).where(Entity.entity_id.in_(chunk))
                ).all()
            )
        now = _now()
        rows = []
        for entity_id in entity_ids:
            count, partners = sizes.get(entity_id, (0, 0))
            if was_active.get(entity_id) and count == 0:
                events.append(self._event(entity_id, "retired", None))
            rows.append(
                {
                    "entity_id": entity_id,
                    "record_count": count,
                    "partner_count": partners,
                    "active": count > 0,
                    "updated_at": now,
                }
            )
        update_rows(session, Entity.__table__, "entity_id", rows)

    @staticmethod
    def _event(
        entity_id: str, event: str, record_id: int | None, other: str | None = None
    ) -> dict[str, Any]:
        return {
            "at": _now(),
            "entity_id": entity_id,
            "event": event,
            "record_id": record_id,
            "other_entity_id": other,
            "details": {},
        }

    @staticmethod
    def _events(session: Session, events: list[dict[str, Any]]) -> None:
        insert_rows(session, EntityEvent.__table__, events)


def take_turns(session: Session, entity_types: Iterable[str]) -> None:
    """Take the entity types' turn to link, across service instances, until commit.

    Two instances linking at once would each miss the other's uncommitted records. The
    heavy part of a batch is done before, against what the instance has seen; the turn
    covers reading what others committed since, scoring what that adds, and clustering.
    On PostgreSQL it is a transaction-scoped advisory lock per entity type (taken in a
    fixed order, so no deadlock); records of different types never link, so those take
    turns apart. SQLite has a single writer: a transaction holds it from its first write.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for entity_type in sorted(set(entity_types)):
        lock = int.from_bytes(
            hashlib.sha256(f"riec-link|{entity_type}".encode()).digest()[:8], "big", signed=True
        )
        session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})


def _database_of(session: Session) -> str:
    return session.get_bind().url.render_as_string(hide_password=True)
