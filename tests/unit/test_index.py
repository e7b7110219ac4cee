"""The linker's in-memory replica: blocks, counted values, encodings, and a batch's view."""

from __future__ import annotations

import numpy as np

from matching.index import (
    BlockIndex,
    Delta,
    Entry,
    Replica,
    View,
    encoded_columns,
    index_hashes,
    key_hash,
    value_hash,
)
from matching.linker import index_keys
from partner.pseudonymise import Pseudonymiser

P = Pseudonymiser(bytes(range(32)), "k1")


def encoded(surname: str, birth: str | None = None) -> dict[str, dict[str, str]]:
    tokens = {"birth_date": P.token("birth_date", birth)} if birth else {}
    return {"tokens": tokens, "filters": {"surname": P.bloom("surname", surname)}}


def entry(surname: str, blocks: list[str], birth: str | None = None) -> Entry:
    e = encoded(surname, birth)
    keys = index_keys("person", e["tokens"], blocks, e["filters"])
    block_keys, counted = index_hashes("person", keys)
    return Entry("person", "k1", block_keys, counted, e)


def test_keys_hash_apart_by_prefix_and_entity_type() -> None:
    token = P.token("bsn", "111222333")
    assert key_hash("person", f"bsn:{token}") != key_hash("company", f"bsn:{token}")
    assert key_hash("person", f"bsn:{token}") != key_hash("person", f"kvk:{token}")
    assert key_hash("person", token) != key_hash("person", f"bsn:{token}")
    assert 0 < value_hash(token) < 1 << 60


def test_blocks_grow_shrink_and_count() -> None:
    index = BlockIndex()
    index.add(1, [10, 11], [99])
    index.add(2, [10], [99])
    index.add(3, [10, 12], [])
    assert index.size(10) == 3 and list(index.members(10)) == [1, 2, 3]
    assert index.size(11) == 1 and list(index.members(11)) == [1]
    assert index.size(99) == 2 and index.members(99) == ()  # counted only
    index.remove(2)
    assert list(index.members(10)) == [1, 3] and index.size(99) == 1
    index.add(1, [12], [])  # a changed record: its old keys leave
    assert list(index.members(10)) == [3] and index.size(11) == 0 and index.size(99) == 0
    assert sorted(index.members(12)) == [1, 3]


def test_a_view_shows_the_batch_on_top_and_applies_only_when_told() -> None:
    replica = Replica()
    replica.put({1: entry("jansen", ["a"]), 2: entry("jansen", ["a", "b"])})
    a = key_hash("person", "a")
    delta = Delta()
    view = View(replica, delta)
    delta.remove(replica, 2)  # record 2 changes: it leaves block a
    delta.add(2, entry("jansen", ["b"]))
    delta.add(3, entry("devries", ["a"]))
    assert view.size(a) == 2 and sorted(view.members(a)) == [1, 3]
    assert replica.index.size(a) == 2 and sorted(replica.index.members(a)) == [1, 2]
    assert view.total("person") == 3
    replica.apply(delta, {"person": 7})
    assert sorted(replica.index.members(a)) == [1, 3]
    assert replica.seen == {"person": 7} and replica.totals["person"] == 3


def test_encodings_come_back_from_the_store_as_they_went_in() -> None:
    records = [encoded("jansen", "1980-05-17"), encoded("devries"), encoded("bakker", "1975-01-02")]
    columns = encoded_columns("person", records, ["k1", "k1", "k2"])
    replica = Replica()
    replica.put(
        {
            10 + n: Entry("person", v, [], [], r)
            for n, (r, v) in enumerate(zip(records, ["k1", "k1", "k2"], strict=True))
        }
    )
    back = replica.store("person").columns([12, 10, 11])
    assert back.key_versions == ["k2", "k1", "k1"]
    values, present = back.tokens["birth_date"]
    assert present.tolist() == [True, True, False]
    assert values[0] == value_hash(records[2]["tokens"]["birth_date"])
    matrix, present = back.filters["surname"]
    assert present.all()
    assert np.array_equal(matrix[1], columns.filters["surname"][0][0])
    # The digest of a counted name is kept with the record, for term frequencies.
    assert back.tokens["tf:surname"][1].all()

    replica.drop(10)
    replica.put({13: Entry("person", "k1", [], [], encoded("smit"))})  # reuses the row
    assert replica.store("person").columns([13]).tokens["birth_date"][1].tolist() == [False]
