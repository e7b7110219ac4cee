"""The linker's view of the active records, in memory: blocks, and encodings by column.

Candidate retrieval must not read blocks from the database batch after batch: that cost
grows with the database. Instead every matching service instance keeps a *replica*:

* a **block index**: for every blocking key and exact token, the records that hold it (and
  so the size of the block, which decides whether it makes candidate pairs); for counted
  values (``tf:`` keys) only how many records hold them;
* an **encoding store**: the decoded tokens and Bloom filters of every active record,
  column by column, so that a batch's candidates are scored without reading or decoding
  them again.

Keys and tokens are held as 60-bit hashes (a key's prefix and entity type mixed in), never
as the strings, which keeps the replica to roughly a kilobyte per record.

The replica is built from the database when the service starts and kept current in two
ways: a batch's own changes are collected in a :class:`Delta` and applied once its
transaction has committed (a rolled-back batch leaves the replica untouched), and records
that other instances linked meanwhile are read back by their ``link_seq`` (see
:meth:`Replica.catch_up`), which orders the commits of linking transactions per entity
type.
"""

from __future__ import annotations

import hashlib
from array import array
from binascii import a2b_base64 as b64decode
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matching.comparisons import COMPARISONS
from matching.similarity import FILTER_WORDS
from storage.models import BlockingKey, Record

MASK = (1 << 60) - 1
FREQUENCY_PREFIX = "tf:"
#: Filter fields whose values are counted for term frequencies, per entity type. Their
#: index entries only count: they never make candidate pairs (a surname is no block).
FREQUENCY_FIELDS: dict[str, tuple[str, ...]] = {"person": ("surname", "given_names")}
CHUNK_ROWS = 1 << 15


def value_hash(value: str) -> int:
    """A 60-bit number for a token, a blocking key or a digest (never 0)."""
    digest = hashlib.blake2b(value.encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") & MASK) or 1


@cache
def salt(entity_type: str, prefix: str) -> int:
    """What sets apart equal values under different prefixes or entity types."""
    return value_hash(f"{entity_type}|{prefix}|salt")


def key_hash(entity_type: str, key: str) -> int:
    """The hash of an index entry: a blocking key, ``<field>:<token>`` or ``tf:<field>:<hex>``."""
    prefix, _, value = key.rpartition(":")
    return (value_hash(value) ^ salt(entity_type, prefix)) or 1


def is_frequency_key(key: str) -> bool:
    return key.startswith(FREQUENCY_PREFIX)


def filter_digest(words: np.ndarray) -> str:
    """The digest that stands for a filter's value in a counted index entry.

    A filter is the same for the same value under one key, so its digest says no more
    about the value than the stored filter does.
    """
    return hashlib.blake2b(words.tobytes(), digest_size=12).hexdigest()


@cache
def stored_fields(entity_type: str) -> frozenset[str]:
    """The encoded fields some comparison of the type reads (tokens and filters by name)."""
    return frozenset(name for c in COMPARISONS.get(entity_type, ()) for name in c.inputs)


# -- the block index -----------------------------------------------------------------


class BlockIndex:
    """Which records hold each key.

    A block is held as one record id (a block of one, the common case), or a list of
    ids. Counted values (``tf:`` entries) are held as a count only: they never make pairs.
    """

    def __init__(self) -> None:
        self._blocks: dict[int, int | list[int]] = {}
        self._counts: dict[int, int] = {}
        # Per record its keys: block keys as they are, counted ones negated.
        self._keys: dict[int, array[int]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, record_id: int) -> bool:
        return record_id in self._keys

    def size(self, key: int) -> int:
        held = self._blocks.get(key)
        if held is None:
            return self._counts.get(key, 0)
        return 1 if isinstance(held, int) else len(held)

    def members(self, key: int) -> Sequence[int]:
        held = self._blocks.get(key)
        if held is None:
            return ()
        return (held,) if isinstance(held, int) else held

    def count(self, key: int) -> int:
        return self._counts.get(key, 0)

    def keys_of(self, record_id: int) -> tuple[list[int], list[int]]:
        """(block keys, counted keys) of a record in the index."""
        held = self._keys.get(record_id)
        if held is None:
            return [], []
        return [k for k in held if k > 0], [-k for k in held if k < 0]

    def add(self, record_id: int, block_keys: Iterable[int], counted: Iterable[int]) -> None:
        if record_id in self._keys:
            self.remove(record_id)
        blocks, counts = self._blocks, self._counts
        keys = array("q")
        for key in set(block_keys):
            keys.append(key)
            held = blocks.get(key)
            if held is None:
                blocks[key] = record_id
            elif isinstance(held, int):
                blocks[key] = [held, record_id]
            else:
                held.append(record_id)
        for key in set(counted):
            keys.append(-key)
            counts[key] = counts.get(key, 0) + 1
        self._keys[record_id] = keys

    def remove(self, record_id: int) -> None:
        keys = self._keys.pop(record_id, None)
        if keys is None:
            return
        blocks, counts = self._blocks, self._counts
        for key in keys:
            if key < 0:
                left = counts.get(-key, 0) - 1
                if left > 0:
                    counts[-key] = left
                else:
                    counts.pop(-key, None)
                continue
            held = blocks.get(key)
            if held is None:
                continue
            if isinstance(held, int):
                if held == record_id:
                    del blocks[key]
                continue
            if record_id in held:
                held.remove(record_id)
            if len(held) == 1:
                blocks[key] = held[0]


# -- the encoding store --------------------------------------------------------------


class _Chunked:
    """A growable column of fixed-width rows, allocated in chunks (no copy on growth)."""

    def __init__(self, width: int, dtype: Any) -> None:
        self.width, self.dtype = width, dtype
        self.chunks: list[np.ndarray] = []

    def _shape(self) -> tuple[int, ...]:
        return (CHUNK_ROWS, self.width) if self.width > 1 else (CHUNK_ROWS,)

    def put(self, rows: np.ndarray, values: np.ndarray | bool | int) -> None:
        """Write ``values`` (one per row, or one for all) at ``rows``."""
        if not len(rows):
            return
        which = rows >> 15
        within = rows & (CHUNK_ROWS - 1)
        while len(self.chunks) <= int(which.max()):
            self.chunks.append(np.zeros(self._shape(), dtype=self.dtype))
        scalar = not isinstance(values, np.ndarray)
        for chunk in np.unique(which):
            mask = which == chunk
            self.chunks[chunk][within[mask]] = values if scalar else values[mask]

    def take(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), self.width) if self.width > 1 else len(rows), dtype=self.dtype)
        if not len(rows):
            return out
        which = rows >> 15
        within = rows & (CHUNK_ROWS - 1)
        for chunk in np.unique(which):
            if chunk >= len(self.chunks):
                continue  # never written: all zero
            mask = which == chunk
            out[mask] = self.chunks[chunk][within[mask]]
        return out

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.chunks)


@dataclass
class Columns:
    """Encodings of some records, by field: token hashes, filter words, and presence.

    Tokens are held as :func:`value_hash` numbers; a name filter's digest (what its
    counted index entry is made of) as a token named ``tf:<field>``.
    """

    size: int
    tokens: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    filters: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    key_versions: list[str] = field(default_factory=list)

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(
            len(rows),
            {k: (v[rows], p[rows]) for k, (v, p) in self.tokens.items()},
            {k: (v[rows], p[rows]) for k, (v, p) in self.filters.items()},
            [self.key_versions[r] for r in rows.tolist()],
        )

    @staticmethod
    def concat(parts: Sequence[Columns]) -> Columns:
        out = Columns(sum(p.size for p in parts))
        for kind, width, dtype in (("tokens", 1, np.int64), ("filters", FILTER_WORDS, np.uint64)):
            names = sorted({n for p in parts for n in getattr(p, kind)})
            for name in names:
                values, present = [], []
                for p in parts:
                    column = getattr(p, kind).get(name)
                    if column is None:
                        shape = (p.size, width) if width > 1 else (p.size,)
                        column = (np.zeros(shape, dtype=dtype), np.zeros(p.size, dtype=bool))
                    values.append(column[0])
                    present.append(column[1])
                getattr(out, kind)[name] = (np.concatenate(values), np.concatenate(present))
        out.key_versions = [v for p in parts for v in p.key_versions]
        return out


def encoded_columns(
    entity_type: str, encoded: Sequence[Mapping[str, Any]], key_versions: Sequence[str]
) -> Columns:
    """Columns of records from their encodings (dicts of tokens and base64 filters)."""
    n = len(encoded)
    wanted = stored_fields(entity_type)
    frequency = FREQUENCY_FIELDS.get(entity_type, ())
    out = Columns(n, key_versions=list(key_versions))
    token_names = {f for e in encoded for f in e["tokens"] if f in wanted}
    for name in sorted(token_names):
        values = np.zeros(n, dtype=np.int64)
        present = np.zeros(n, dtype=bool)
        for i, e in enumerate(encoded):
            if token := e["tokens"].get(name):
                values[i] = value_hash(token)
                present[i] = True
        out.tokens[name] = (values, present)
    filter_names = {f for e in encoded for f in e["filters"] if f in wanted or f in frequency}
    for name in sorted(filter_names):
        present = np.zeros(n, dtype=bool)
        raw: list[bytes] = []
        for i, e in enumerate(encoded):
            value = e["filters"].get(name)
            if value is None:
                raw.append(bytes(FILTER_WORDS * 8))
                continue
            present[i] = True
            raw.append(value.tobytes() if isinstance(value, np.ndarray) else b64decode(value))
        matrix = np.frombuffer(b"".join(raw), dtype="<u8").reshape(n, FILTER_WORDS)
        matrix = matrix.astype(np.uint64)
        if name in wanted:
            out.filters[name] = (matrix, present)
        if name in frequency:
            digests = np.zeros(n, dtype=np.int64)
            for i in np.flatnonzero(present).tolist():
                digests[i] = value_hash(filter_digest(matrix[i]))
            out.tokens[FREQUENCY_PREFIX + name] = (digests, present.copy())
    return out


class _TypeStore:
    """The encodings of one entity type's records, column by column."""

    def __init__(self, entity_type: str) -> None:
        self.entity_type = entity_type
        self.rows: dict[int, int] = {}
        self.next_row = 0
        self.free: list[int] = []
        self.versions: dict[str, int] = {}
        self.version_column = _Chunked(1, np.int16)
        self.tokens: dict[str, tuple[_Chunked, _Chunked]] = {}
        self.filters: dict[str, tuple[_Chunked, _Chunked]] = {}

    def version_code(self, key_version: str) -> int:
        """A small number per key version (0: no record)."""
        return self.versions.setdefault(key_version, len(self.versions) + 1)

    def put(self, record_ids: Sequence[int], columns: Columns) -> None:
        """Store the records' encodings (replacing what a record had)."""
        rows = np.empty(len(record_ids), dtype=np.int64)
        for i, record_id in enumerate(record_ids):
            row = self.rows.get(record_id)
            if row is None:
                if self.free:
                    row = self.free.pop()
                else:
                    row, self.next_row = self.next_row, self.next_row + 1
                self.rows[record_id] = row
            rows[i] = row
        codes = np.array([self.version_code(v) for v in columns.key_versions], dtype=np.int16)
        self.version_column.put(rows, codes)
        for kind, width, dtype in (("tokens", 1, np.int64), ("filters", FILTER_WORDS, np.uint64)):
            stored: dict[str, tuple[_Chunked, _Chunked]] = getattr(self, kind)
            given: dict[str, tuple[np.ndarray, np.ndarray]] = getattr(columns, kind)
            for name in given.keys() - stored.keys():
                stored[name] = (_Chunked(width, dtype), _Chunked(1, bool))
            for name, (values, present) in stored.items():
                if name in given:
                    values.put(rows, given[name][0])
                    present.put(rows, given[name][1])
                else:
                    present.put(rows, False)

    def drop(self, record_id: int) -> None:
        row = self.rows.pop(record_id, None)
        if row is None:
            return
        at = np.array([row])
        self.version_column.put(at, 0)
        for columns in (self.tokens, self.filters):
            for _, present in columns.values():
                present.put(at, False)
        self.free.append(row)

    def columns(self, record_ids: Sequence[int]) -> Columns:
        rows = np.fromiter(
            (self.rows[r] for r in record_ids), dtype=np.int64, count=len(record_ids)
        )
        out = Columns(len(rows))
        for name, (values, present) in self.tokens.items():
            out.tokens[name] = (values.take(rows), present.take(rows))
        for name, (matrix, present) in self.filters.items():
            out.filters[name] = (matrix.take(rows), present.take(rows))
        names = {c: v for v, c in self.versions.items()}
        out.key_versions = [names.get(c, "") for c in self.version_column.take(rows).tolist()]
        return out

    @property
    def nbytes(self) -> int:
        columns = [self.version_column]
        for pair in (*self.tokens.values(), *self.filters.values()):
            columns.extend(pair)
        return sum(c.nbytes for c in columns)


# -- the replica and a transaction's changes -----------------------------------------


@dataclass
class Entry:
    """A record as the replica holds it."""

    entity_type: str
    key_version: str
    block_keys: list[int]
    counted: list[int]
    encoded: Mapping[str, Any]


class Delta:
    """One transaction's changes to the replica, applied once it commits."""

    def __init__(self) -> None:
        self.removed: dict[int, str] = {}  # record id -> entity type: its keys leave
        self.added: dict[int, Entry] = {}
        self._plus: dict[int, list[int]] = defaultdict(list)
        self._minus: dict[int, set[int]] = defaultdict(set)
        self._count_delta: Counter[int] = Counter()
        self.totals: Counter[str] = Counter()
        #: Per entity type, the ``link_seq`` the transaction stamped its records with.
        self.seen: dict[str, int] = {}
        self._columns: dict[str, tuple[Columns, dict[int, int]]] = {}

    def remove(self, replica: Replica, record_id: int) -> None:
        """The record's current keys leave (it changes, or is retracted)."""
        self._unadd(record_id)
        entity_type = replica.entity_type_of(record_id)
        if entity_type is None or record_id in self.removed:
            return
        self.removed[record_id] = entity_type
        self.totals[entity_type] -= 1
        block_keys, counted = replica.index.keys_of(record_id)
        for key in block_keys:
            self._minus[key].add(record_id)
        for key in counted:
            self._count_delta[key] -= 1

    def add(self, record_id: int, entry: Entry) -> None:
        """The record's new keys and encodings (after :meth:`remove` if it was there)."""
        self._unadd(record_id)  # landed twice in one transaction: the last one stands
        self._columns.pop(entry.entity_type, None)
        self.added[record_id] = entry
        self.totals[entry.entity_type] += 1
        for key in set(entry.block_keys):
            self._plus[key].append(record_id)
        for key in set(entry.counted):
            self._count_delta[key] += 1

    def _unadd(self, record_id: int) -> None:
        previous = self.added.pop(record_id, None)
        if previous is None:
            return
        self._columns.pop(previous.entity_type, None)
        self.totals[previous.entity_type] -= 1
        for key in set(previous.block_keys):
            self._plus[key].remove(record_id)
        for key in set(previous.counted):
            self._count_delta[key] -= 1

    def touched_keys(self) -> set[int]:
        return set(self._plus) | set(self._minus)

    def columns(self, entity_type: str) -> tuple[Columns, dict[int, int]]:
        """Encodings of the records added of ``entity_type``, and each one's row."""
        cached = self._columns.get(entity_type)
        if cached is None:
            ids = [r for r, e in self.added.items() if e.entity_type == entity_type]
            entries = [self.added[r] for r in ids]
            cached = (
                encoded_columns(
                    entity_type, [e.encoded for e in entries], [e.key_version for e in entries]
                ),
                {r: n for n, r in enumerate(ids)},
            )
            self._columns[entity_type] = cached
        return cached


class View:
    """The replica as a transaction sees it: what is committed plus its own changes."""

    def __init__(self, replica: Replica, delta: Delta) -> None:
        self.replica, self.delta = replica, delta

    def size(self, key: int) -> int:
        d = self.delta
        plus, minus = d._plus.get(key), d._minus.get(key)
        return (
            self.replica.index.size(key)
            + (len(plus) if plus else 0)
            - (len(minus) if minus else 0)
            + d._count_delta.get(key, 0)
        )

    def members(self, key: int) -> list[int]:
        d = self.delta
        minus = d._minus.get(key)
        base = self.replica.index.members(key)
        kept = [m for m in base if m not in minus] if minus else list(base)
        plus = d._plus.get(key)
        return kept + plus if plus else kept

    def total(self, entity_type: str) -> int:
        return self.replica.totals[entity_type] + self.delta.totals[entity_type]

    def columns(self, entity_type: str, record_ids: Sequence[int]) -> Columns:
        """Encodings of the records, in this order: the delta's own, else the store's."""
        store = self.replica.store(entity_type)
        ours = [r for r in record_ids if r in self.delta.added]
        if not ours:
            return store.columns(record_ids)
        theirs = [r for r in record_ids if r not in self.delta.added]
        added, row_of = self.delta.columns(entity_type)
        mine = added.take(np.array([row_of[r] for r in ours], dtype=np.int64))
        joined = Columns.concat([mine, store.columns(theirs)])
        order = {r: n for n, r in enumerate([*ours, *theirs])}
        take = np.fromiter((order[r] for r in record_ids), dtype=np.int64, count=len(record_ids))
        return joined.take(take)


class Replica:
    """The block index and encodings of every active record, per service instance."""

    def __init__(self) -> None:
        self.index = BlockIndex()
        self._stores: dict[str, _TypeStore] = {}
        self._types: dict[int, str] = {}
        self.totals: Counter[str] = Counter()
        #: Per entity type, the highest ``link_seq`` whose records are in the replica.
        self.seen: dict[str, int] = {}
        self.loaded = False

    def store(self, entity_type: str) -> _TypeStore:
        if entity_type not in self._stores:
            self._stores[entity_type] = _TypeStore(entity_type)
        return self._stores[entity_type]

    def entity_type_of(self, record_id: int) -> str | None:
        return self._types.get(record_id)

    def __len__(self) -> int:
        return len(self._types)

    @property
    def nbytes(self) -> int:
        """Bytes of the encoding columns (the index is Python objects: see docs/scaling.md)."""
        return sum(s.nbytes for s in self._stores.values())

    # -- changes -------------------------------------------------------------------------

    def put(
        self, entries: Mapping[int, Entry], columns: Mapping[str, Columns] | None = None
    ) -> None:
        """Add records (replacing what a record had); ``columns`` per entity type, in the
        order of ``entries``, if they are decoded already."""
        for record_id in entries:
            self.drop(record_id)
        by_type: dict[str, list[int]] = defaultdict(list)
        for record_id, entry in entries.items():
            self.index.add(record_id, entry.block_keys, entry.counted)
            self._types[record_id] = entry.entity_type
            self.totals[entry.entity_type] += 1
            by_type[entry.entity_type].append(record_id)
        for entity_type, ids in by_type.items():
            given = (columns or {}).get(entity_type)
            if given is None:
                chosen = [entries[r] for r in ids]
                given = encoded_columns(
                    entity_type, [e.encoded for e in chosen], [e.key_version for e in chosen]
                )
            self.store(entity_type).put(ids, given)

    def drop(self, record_id: int) -> None:
        entity_type = self._types.pop(record_id, None)
        if entity_type is None:
            return
        self.index.remove(record_id)
        self._stores[entity_type].drop(record_id)
        self.totals[entity_type] -= 1

    def apply(self, delta: Delta, seen: Mapping[str, int]) -> None:
        for record_id in delta.removed:
            self.drop(record_id)
        by_type: dict[str, dict[int, Entry]] = defaultdict(dict)
        for record_id, entry in delta.added.items():
            by_type[entry.entity_type][record_id] = entry
        for entity_type, entries in by_type.items():
            columns, _ = delta.columns(entity_type)  # in the order of delta.added
            self.put(entries, {entity_type: columns})
        for entity_type, seq in seen.items():
            self.seen[entity_type] = max(self.seen.get(entity_type, 0), seq)

    # -- from the database ---------------------------------------------------------------

    def load(self, session: Session, chunk: int = 5_000) -> None:
        """Build the replica from the database: every active record and its keys."""
        self.__init__()  # type: ignore[misc]
        seen = {
            t: int(s or 0)
            for t, s in session.execute(
                select(Record.entity_type, func.max(Record.link_seq)).group_by(Record.entity_type)
            )
        }
        low, high = session.execute(select(func.min(Record.id), func.max(Record.id))).one()
        if low is not None:
            for start in range(low, high + 1, chunk):
                self.put(dict(read_entries(session, (start, start + chunk - 1))))
        self.seen = seen
        self.loaded = True

    def catch_up(
        self, session: Session, entity_types: Iterable[str], skip: Collection[int] = ()
    ) -> dict[str, list[int]]:
        """Read what other instances linked since the replica last looked.

        Run by a linking transaction once it holds its entity types' turn (see
        :func:`matching.linker.take_turns`; on SQLite the write lock), so that every
        linking transaction that committed before it is visible. Records in ``skip`` (the
        transaction's own) are left to its delta. Returns, per entity type, the active
        records read.
        """
        found: dict[str, list[int]] = {}
        for entity_type in sorted(set(entity_types)):
            since = self.seen.get(entity_type, 0)
            changed = [
                (record_id, seq)
                for record_id, seq in session.execute(
                    select(Record.id, Record.link_seq).where(
                        Record.entity_type == entity_type, Record.link_seq > since
                    )
                )
                if record_id not in skip
            ]
            found[entity_type] = []
            if not changed:
                continue
            ids = sorted(record_id for record_id, _ in changed)
            active: dict[int, Entry] = {}
            for start in range(0, len(ids), 500):
                active.update(read_entries(session, ids[start : start + 500]))
            for record_id in ids:
                if record_id not in active:
                    self.drop(record_id)
            self.put(active)
            # Committed by others, so known even if this transaction rolls back.
            self.seen[entity_type] = max(since, max(seq for _, seq in changed))
            found[entity_type] = sorted(active)
        return found


def index_hashes(entity_type: str, keys: Iterable[str]) -> tuple[list[int], list[int]]:
    """(block keys, counted keys) of a record's index entries, as hashes."""
    block_keys: list[int] = []
    counted: list[int] = []
    for key in keys:
        (counted if is_frequency_key(key) else block_keys).append(key_hash(entity_type, key))
    return block_keys, counted


def read_entries(
    session: Session, ids: tuple[int, int] | Sequence[int]
) -> Iterator[tuple[int, Entry]]:
    """Replica entries of the active records with ids in a range ``(low, high)`` or a list."""
    if isinstance(ids, tuple):
        in_keys = BlockingKey.record_id.between(*ids)
        in_records = Record.id.between(*ids)
    else:
        in_keys = BlockingKey.record_id.in_(ids)
        in_records = Record.id.in_(ids)
    keys: dict[int, list[str]] = defaultdict(list)
    for record_id, key in session.execute(
        select(BlockingKey.record_id, BlockingKey.key).where(in_keys)
    ):
        keys[record_id].append(key)
    for row in session.execute(
        select(
            Record.id, Record.entity_type, Record.key_version, Record.tokens, Record.filters
        ).where(in_records, Record.status == "active")
    ):
        block_keys, counted = index_hashes(row.entity_type, keys.pop(row.id, ()))
        yield (
            row.id,
            Entry(
                row.entity_type,
                row.key_version,
                block_keys,
                counted,
                {"tokens": row.tokens or {}, "filters": row.filters or {}},
            ),
        )
