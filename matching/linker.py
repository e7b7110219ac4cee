"""Incremental linkage of landed records into entities, a batch at a time.

For each new or changed record: index its keyed blocking keys and exact tokens, find the
active records that share one, score each pair with the Fellegi-Sunter model and store
every pair above the threshold as a link, with its per-field explanation. Entities are
then the clusters of the link graph around the batch, recomputed for those components
only:

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
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from matching.comparisons import COMPARISONS, Block, TokenComparison, TokenThenFilterComparison
from matching.defaults import default_params
from matching.model import ModelParams, Scorer
from matching.similarity import unpack
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
#: Filter fields whose values are counted for term frequencies, per entity type. Their
#: index entries only count: they never make candidate pairs (a surname is no block).
FREQUENCY_FIELDS: dict[str, tuple[str, ...]] = {"person": ("surname", "given_names")}
FREQUENCY_PREFIX = "tf:"
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
    cache_records: int = 200_000  # decoded candidate encodings kept between batches


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
    digest = hashlib.blake2b(unpack(value).tobytes(), digest_size=12).hexdigest()
    return f"{FREQUENCY_PREFIX}{field_name}:{digest}"


def is_frequency_key(key: str) -> bool:
    return key.startswith(FREQUENCY_PREFIX)


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
    """Per counted field, for each record's value: how many records carry it (the index).

    ``encoded`` holds each record's tokens and filters; ``count`` gives the number of
    active records under an index entry.
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
        self._cache: OrderedDict[int, tuple[str, ToLink]] = OrderedDict()
        self.use_params(params or default_params_source())

    def use_params(self, params: dict[str, ModelParams]) -> None:
        self.params = params
        self.scorers = {t: Scorer(p) for t, p in params.items()}

    # -- linking ------------------------------------------------------------------------

    def link_batch(
        self,
        session: Session,
        items: Sequence[ToLink],
        *,
        extra_seeds: Iterable[int] = (),
        old_entities: Iterable[str] = (),
    ) -> BatchOutcome:
        """Index, score and cluster a batch of landed records in a few statements."""
        outcome = BatchOutcome()
        keys = {
            item.id: index_keys(item.entity_type, item.tokens, item.blocking, item.filters)
            for item in items
        }
        rows = [
            {"record_id": item.id, "key": k, "entity_type": item.entity_type}
            for item in items
            for k in sorted(keys[item.id])
        ]
        if rows:
            session.execute(insert(BlockingKey.__table__), rows)
        blocks, sizes = self._blocks(session, items, keys)
        records = self._candidate_encodings(session, items, keys, blocks)
        totals = self._totals(session) if self.config.term_frequencies else {}
        pairs: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for item in items:
            for cid in self._candidate_ids(item, keys[item.id], blocks):
                other = records.get(cid)
                if other is not None and other.key_version == item.key_version:
                    pairs[item.entity_type].add((min(item.id, cid), max(item.id, cid)))
        links: list[dict[str, Any]] = []
        for entity_type, type_pairs in sorted(pairs.items()):
            links.extend(self._score(entity_type, sorted(type_pairs), records, sizes, totals))
        if links:
            session.execute(insert(Link.__table__), links)
        for item in items:
            if item.message_id:
                self._remember(item.id, item.message_id, item)
        outcome.links = len(links)
        seeds = [item.id for item in items] + list(extra_seeds)
        outcome.changed_entities = self.recluster(session, seeds, set(old_entities))
        return outcome

    def _blocks(
        self, session: Session, items: Sequence[ToLink], keys: dict[int, set[str]]
    ) -> tuple[dict[tuple[str, str], list[int]], dict[tuple[str, str], int]]:
        """The blocks of the batch's keys: their members, and how many records each holds.

        Returns ``(members, sizes)``, both keyed by (entity type, key). ``sizes`` covers
        every key of the batch, counted values included (term frequencies); ``members``
        only the blocks that can make candidate pairs: two to ``max_block_size`` records,
        not counted values. An oversized block (a long street, a common word in company
        names, thousands of De Jongs) is counted in the database and never read: reading
        its members batch after batch cost more than all the scoring.

        The batch's own keys are already indexed, so one statement per 500 records finds
        every block they are in.
        """
        del keys  # the batch's keys are read back from the index
        limit = self.config.max_block_size
        members: dict[tuple[str, str], list[int]] = defaultdict(list)
        sizes: dict[tuple[str, str], int] = {}
        for chunk in _chunks(sorted(item.id for item in items)):
            mine = (
                select(BlockingKey.entity_type, BlockingKey.key)
                .where(BlockingKey.record_id.in_(chunk))
                .distinct()
                .cte("mine")
            )
            block = aliased(BlockingKey)
            counted = (
                select(block.entity_type, block.key, func.count().label("size"))
                .join(mine, (mine.c.entity_type == block.entity_type) & (mine.c.key == block.key))
                .group_by(block.entity_type, block.key)
                .cte("counted")
            )
            member = aliased(BlockingKey)
            readable = (
                (member.entity_type == counted.c.entity_type)
                & (member.key == counted.c.key)
                & (counted.c.size > 1)
                & (counted.c.size <= limit)
                & ~counted.c.key.startswith(FREQUENCY_PREFIX)
            )
            for entity_type, key, size, record_id in session.execute(
                select(counted.c.entity_type, counted.c.key, counted.c.size, member.record_id)
                .select_from(counted)
                .outerjoin(member, readable)
            ):
                sizes[(entity_type, key)] = size
                if record_id is not None:
                    members[(entity_type, key)].append(record_id)
        return {block: sorted(set(ids)) for block, ids in members.items()}, sizes

    def _candidate_ids(
        self, item: ToLink, keys: set[str], blocks: dict[tuple[str, str], list[int]]
    ) -> set[int]:
        found: set[int] = set()
        for key in keys:
            members = blocks.get((item.entity_type, key), [])
            if len(members) <= self.config.max_block_size:
                found.update(members)
        found.discard(item.id)
        return found

    def _candidate_encodings(
        self,
        session: Session,
        items: Sequence[ToLink],
        keys: dict[int, set[str]],
        blocks: dict[tuple[str, str], list[int]],
    ) -> dict[int, ToLink]:
        known = {item.id: item for item in items}
        wanted = sorted(
            {cid for item in items for cid in self._candidate_ids(item, keys[item.id], blocks)}
            - known.keys()
        )
        # Candidates recur batch after batch (they sit in the same blocks), so decoded
        # encodings are cached; the message id says whether a cached one is still current.
        current: dict[int, str] = {}
        for chunk in _chunks(wanted):
            current.update(
                session.execute(
                    select(Record.id, Record.message_id).where(
                        Record.id.in_(chunk), Record.status == "active"
                    )
                ).all()
            )
        missing = []
        for rid, message_id in current.items():
            cached = self._cache.get(rid)
            if cached is not None and cached[0] == message_id:
                self._cache.move_to_end(rid)
                known[rid] = cached[1]
            else:
                missing.append(rid)
        for chunk in _chunks(sorted(missing)):
            for row in session.execute(
                select(
                    Record.id,
                    Record.message_id,
                    Record.partner,
                    Record.partner_record_id,
                    Record.entity_type,
                    Record.key_version,
                    Record.tokens,
                    Record.filters,
                ).where(Record.id.in_(chunk))
            ):
                known[row.id] = ToLink(
                    row.id,
                    row.partner,
                    row.partner_record_id,
                    row.entity_type,
                    row.key_version,
                    row.tokens or {},
                    row.filters or {},
                    (),
                )
                self._remember(row.id, row.message_id, known[row.id])
        return known

    def _remember(self, record_id: int, message_id: str, item: ToLink) -> None:
        self._cache[record_id] = (message_id, item)
        self._cache.move_to_end(record_id)
        while len(self._cache) > self.config.cache_records:
            self._cache.popitem(last=False)

    def _totals(self, session: Session) -> dict[str, int]:
        return dict(
            session.execute(
                select(Record.entity_type, func.count())
                .where(Record.status == "active")
                .group_by(Record.entity_type)
            ).all()
        )

    def _score(
        self,
        entity_type: str,
        pairs: list[tuple[int, int]],
        records: dict[int, ToLink],
        sizes: dict[tuple[str, str], int],
        totals: dict[str, int],
    ) -> list[dict[str, Any]]:
        """Score all candidate pairs of one entity type at once; return the links."""
        ids = sorted({i for pair in pairs for i in pair})
        row = {rid: n for n, rid in enumerate(ids)}
        block = Block([records[rid].encoded for rid in ids])
        left = np.array([row[a] for a, _ in pairs], dtype=np.int64)
        right = np.array([row[b] for _, b in pairs], dtype=np.int64)
        scorer = self.scorers[entity_type]
        counts, total = self._term_counts(entity_type, [records[rid] for rid in ids], sizes, totals)
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
        self,
        entity_type: str,
        rows: list[ToLink],
        sizes: dict[tuple[str, str], int],
        totals: dict[str, int],
    ) -> tuple[dict[str, np.ndarray] | None, int]:
        """Per counted field and block row: how many records carry that row's value.

        ``sizes`` holds the batch's own keys: where two records hold the same value, one of
        them is in the batch, so the pair's count is known.
        """
        total = totals.get(entity_type, 0)
        if total < self.config.min_records_for_tf:
            return None, 0
        return term_counts(
            entity_type,
            [r.encoded for r in rows],
            lambda key: sizes.get((entity_type, key), 0),
        ), total

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

    def recluster(self, session: Session, seeds: Iterable[int], old_entities: set[str]) -> set[str]:
        """Recompute the entities of the link-graph components around ``seeds``."""
        component = self._component(session, set(seeds))
        members = self._members(session, component)
        edges = self._edges(session, members)
        clusters = self._constrained_clusters(members, edges)
        return self._assign_ids(session, clusters, members, edges, old_entities)

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
    ) -> set[str]:
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
        for cluster, entity_id in zip(
            new_clusters, self._new_entities(session, new_clusters, used, events), strict=True
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
            if member.entity_id != target or member.link_weight != best.get(rid):
                updates.append({"id": rid, "entity_id": target, "link_weight": best.get(rid)})
            member.entity_id = target
        if updates:
            session.execute(update(Record), updates)
        for entity_id in sorted(involved - used):
            # Every record moved elsewhere: merged into one entity, or spread over several.
            targets = sorted({assignment[r] for r, e in previous.items() if e == entity_id})
            event = "merged_into" if len(targets) == 1 else "split"
            for target in targets:
                events.append(self._event(entity_id, event, None, target))
                if event == "merged_into":
                    events.append(self._event(target, "merged", None, entity_id))
            changed.add(entity_id)
        self._refresh_entities(session, sorted(changed | used), events)
        self._events(session, events)
        return changed

    def _new_entities(
        self,
        session: Session,
        clusters: list[list[Member]],
        used: set[str],
        events: list[dict[str, Any]],
    ) -> list[str]:
        """Ids for clusters that continue no entity: derived from their first record."""
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
                        "record_count": 0,
                        "partner_count": 0,
                        "active": True,
                    }
                )
            used.add(entity_id)
            existing[entity_id] = True
            chosen.append(entity_id)
            events.append(self._event(entity_id, "created", cluster[0].id))
        if fresh:
            session.execute(insert(Entity.__table__), fresh)
        for chunk in _chunks(revived):
            session.execute(
                update(Entity)
                .where(Entity.entity_id.in_(chunk))
                .values(active=True, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return chosen

    def _refresh_entities(
        self, session: Session, entity_ids: list[str], events: list[dict[str, Any]]
    ) -> None:
        if not entity_ids:
            return
        counts: dict[str, tuple[int, int]] = {}
        was_active: dict[str, bool] = {}
        for chunk in _chunks(entity_ids):
            for entity_id, count, partners in session.execute(
                select(Record.entity_id, func.count(), func.count(func.distinct(Record.partner)))
                .where(Record.entity_id.in_(chunk), Record.status == "active")
                .group_by(Record.entity_id)
            ):
                counts[entity_id] = (count, partners)
            was_active.update(
                session.execute(
                    select(Entity.entity_id, Entity.active).where(Entity.entity_id.in_(chunk))
                ).all()
            )
        now = _now()
        rows = []
        for entity_id in entity_ids:
            count, partners = counts.get(entity_id, (0, 0))
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
        session.execute(update(Entity), rows)

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
        if events:
            session.execute(insert(EntityEvent.__table__), events)
