"""The dead-letter topic: every rejected message, with why and where it came from."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

# For these reasons the original value and key may themselves hold personal data in
# plaintext: the dead-letter copy keeps only digests and the coordinates of the original.
REDACTED_REASONS = frozenset({"plaintext_identifier"})


class DeadLetters:
    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.sent = 0

    def send(self, message: ConsumerRecord, reason: str, detail: str) -> None:
        value: bytes = message.value or b""
        headers = [
            ("riec.error.reason", reason.encode()),
            ("riec.error.detail", detail.encode()[:1000]),
            ("riec.source.topic", message.topic.encode()),
            ("riec.source.partition", str(message.partition).encode()),
            ("riec.source.offset", str(message.offset).encode()),
            ("riec.failed_at", datetime.now(UTC).isoformat().encode()),
            ("riec.value.sha256", hashlib.sha256(value).hexdigest().encode()),
        ]
        key = message.key
        if reason in REDACTED_REASONS:
            # The key is the partner record id, which is what may have been refused.
            value = b""
            key = hashlib.sha256(key).hexdigest().encode() if key else None
            headers.append(("riec.value.redacted", b"true"))
        self.producer.send(self.topic, key=key, value=value, headers=headers)
        self.sent += 1

    def flush(self) -> None:
        self.producer.flush()
