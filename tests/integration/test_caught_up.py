"""``riec match run --until-caught-up`` ends when the group has consumed every partition.

The bundled broker reports the end of a partition as the first offset of its last batch;
a producer that batches many records makes that far short of the true end, which is where
a restarted run used to stop with records left behind.
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from test_fault_tolerance import count_records, create_tables, subjects, wait_for

from consumers.landing import land_batch
from consumers.matching_service import MatchingService
from consumers.progress import GroupProgress
from core.settings import RiecSettings
from riec.broker import ensure_topics

pytestmark = pytest.mark.integration


def produce_in_big_batches(settings: RiecSettings, envelopes: list[dict[str, Any]]) -> None:
    """Send with one producer batch per partition: the broker's end offset is then 0."""
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=2_000,
        batch_size=8 * 1024 * 1024,
        max_request_size=16 * 1024 * 1024,
    )
    for envelope in envelopes:
        producer.send(
            settings.partner_topic(envelope["partner"]),
            key=envelope["partner_record_id"].encode(),
            value=json.dumps(envelope).encode(),
        )
    producer.flush()
    producer.close()


def group_progress(settings: RiecSettings) -> GroupProgress:
    return GroupProgress(
        settings.consumer_group,
        KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers),
        lambda: KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, fetch_max_wait_ms=100),
        lambda topic: topic.startswith(settings.topic_prefix),
    )


def commit(settings: RiecSettings, offsets: dict[TopicPartition, int]) -> None:
    """Commit offsets for the group as a member that has since gone would have."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    try:
        consumer.assign(list(offsets))
        consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
    finally:
        consumer.close()


@pytest.fixture
def settings(settings: RiecSettings) -> RiecSettings:
    return settings.model_copy(
        update={"session_timeout_ms": 3_000, "heartbeat_interval_ms": 500, "poll_max_records": 50}
    )


def test_progress_counts_what_the_group_committed_against_the_true_end(
    settings: RiecSettings,
) -> None:
    topic = settings.partner_topic("gemeente-x")
    ensure_topics(settings.bootstrap_servers, [topic], 2)
    load = [e for e in subjects(200, seed=3) if e["partner"] == "gemeente-x"]
    produce_in_big_batches(settings, load)
    partitions = [TopicPartition(topic, p) for p in (0, 1)]
    progress = group_progress(settings)
    try:
        first = progress.progress()
        ends = {tp: first[tp].end for tp in partitions}
        assert sum(ends.values()) == len(load)
        assert all(first[tp].committed is None and first[tp].lag == ends[tp] for tp in partitions)
        assert not progress.caught_up()

        # A member that has since left committed one partition partway, past the offset
        # the broker reports as its end, and the other to its end.
        halfway = {partitions[0]: ends[partitions[0]] // 2, partitions[1]: ends[partitions[1]]}
        commit(settings, halfway)
        later = progress.progress()
        assert later[partitions[0]].lag == ends[partitions[0]] - halfway[partitions[0]]
        assert later[partitions[1]].lag == 0
        assert not progress.caught_up()

        commit(settings, ends)
        assert progress.caught_up()
    finally:
        progress.close()


def test_a_restarted_run_consumes_everything_left_in_one_pass_and_an_idle_one_exits(
    settings: RiecSettings,
) -> None:
    ensure_topics(
        settings.bootstrap_servers,
        [settings.partner_topic(p) for p in ("gemeente-x", "politie-y", "belastingdienst")],
        3,
    )
    load = subjects(300, seed=7)
    random.Random(1).shuffle(load)
    produce_in_big_batches(settings, load)
    url = create_tables(settings.resolved_database_url)

    # A first run stops (as on SIGTERM) after a few batches, committing what it landed.
    batches = 0

    def land_then_stop(*args: Any) -> Any:
        nonlocal batches
        batches += 1
        if batches >= 3:
            first.stop()
        return land_batch(*args)

    first = MatchingService(settings, lander=land_then_stop)
    first.run(until_caught_up=True, max_seconds=120)
    landed = count_records(url)
    assert 0 < landed < len(load)

    second = MatchingService(settings).run(until_caught_up=True, max_seconds=120)
    assert count_records(url) == len(load)
    assert second.outcomes["stored"] == len(load) - landed

    started = time.monotonic()
    idle = MatchingService(settings).run(until_caught_up=True, max_seconds=120)
    assert idle.messages == 0
    assert time.monotonic() - started < 20


def test_a_member_is_not_caught_up_while_another_members_partitions_lag(
    settings: RiecSettings,
) -> None:
    ensure_topics(
        settings.bootstrap_servers,
        [settings.partner_topic(p) for p in ("gemeente-x", "politie-y", "belastingdienst")],
        2,
    )
    load = subjects(300, seed=8)
    produce_in_big_batches(settings, load)
    url = create_tables(settings.resolved_database_url)

    # A slow member holds part of the partitions for a while.
    def land_slowly(*args: Any) -> Any:
        time.sleep(0.5)
        return land_batch(*args)

    slow = MatchingService(settings, lander=land_slowly)
    worker = threading.Thread(target=lambda: slow.run(max_seconds=300), daemon=True)
    worker.start()
    assert wait_for(lambda: slow.assignments > 0, 60)

    MatchingService(settings).run(until_caught_up=True, max_seconds=240)
    assert count_records(url) == len(load)
    slow.stop()
    worker.join(timeout=60)
