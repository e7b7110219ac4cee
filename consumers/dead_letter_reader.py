"""Reading the dead-letter topic back: headers only, for ``riec deadletters list``."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from core.kafka import BOOTSTRAP_ERRORS, broker_unreachable, client_options
from core.settings import RiecSettings


def read_dead_letters(settings: RiecSettings, max_seconds: float = 60.0) -> list[dict[str, object]]:
    """Headers of every message on the dead-letter topic, read without a consumer group.

    Message values are never read out: a rejected value may hold plaintext.
    """
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_list,
            enable_auto_commit=False,
            client_id="riec-deadletters-list",
            **client_options(settings),
        )
    except BOOTSTRAP_ERRORS:
        raise broker_unreachable(settings) from None
    rows: list[dict[str, object]] = []
    try:
        numbers = consumer.partitions_for_topic(settings.dead_letter_topic) or set()
        partitions = [TopicPartition(settings.dead_letter_topic, p) for p in sorted(numbers)]
        if not partitions:
            return rows
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        pending = {tp for tp in partitions if ends.get(tp)}
        deadline = time.monotonic() + max_seconds
        while pending and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    headers = {k: v.decode(errors="replace") for k, v in message.headers or []}
                    rows.append(
                        {
                            "partition": message.partition,
                            "offset": message.offset,
                            "failed_at": headers.get("riec.failed_at", ""),
                            "reason": headers.get("riec.error.reason", ""),
                            "source": f"{headers.get('riec.source.topic', '?')}"
                            f"[{headers.get('riec.source.partition', '?')}]"
                            f"@{headers.get('riec.source.offset', '?')}",
                            "detail": headers.get("riec.error.detail", ""),
                            "bytes": len(message.value or b""),
                            "redacted": headers.get("riec.value.redacted") == "true",
                        }
                    )
                # Some brokers report end offsets short of the high watermark; take the larger.
                if consumer.position(tp) >= max(ends.get(tp) or 0, consumer.highwater(tp) or 0):
                    pending.discard(tp)
    finally:
        consumer.close()
    return rows
