"""The matching service: partner topics -> validation -> database -> entities.

One poll batch is one unit of work: every message in it is either landed (in one
database transaction) or sent to the dead-letter topic, and only then are the offsets
committed. A crash anywhere before the commit replays the batch, which landing
recognises, so nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy.exc import OperationalError

from consumers.dead_letter import DeadLetters
from consumers.landing import Source, land
from consumers.leak_guard import check_envelope
from contract import EnvelopeError, decode_envelope, load_sharing_rules
from matching.linker import Linker
from matching.params_store import active_params, active_versions
from riec.settings import Settings
from storage import Database, connect

log = logging.getLogger("riec.matching")


@dataclass
class RunStats:
    batches: int = 0
    messages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        landed = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items())) or "none"
        dead = ", ".join(f"{k}={v}" for k, v in sorted(self.dead_letters.items())) or "none"
        return (
            f"{self.messages} messages in {self.batches} batches; "
            f"landed: {landed}; dead-lettered: {dead}"
        )


class MatchingService:
    def __init__(
        self,
        settings: Settings,
        db: Database | None = None,
        linker: Linker | None = None,
    ) -> None:
        self.settings = settings
        self.db = db or connect(settings.resolved_database_url)
        self.linker = linker or Linker(params=active_params(self.db))
        self._params_checked = time.monotonic()
        self.rules = load_sharing_rules()
        self.stats = RunStats()
        self._stop = False
        self.consumer: KafkaConsumer | None = None
        self.dead_letters: DeadLetters | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def _connect(self) -> None:
        s = self.settings
        self.consumer = KafkaConsumer(
            bootstrap_servers=s.bootstrap_servers.split(","),
            group_id=s.consumer_group,
            client_id="riec-matching",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            max_poll_records=s.poll_max_records,
            metadata_max_age_ms=5_000,
        )
        self.consumer.subscribe(pattern=f"^{re.escape(s.topic_prefix)}.+")
        producer = KafkaProducer(
            bootstrap_servers=s.bootstrap_servers.split(","),
            acks="all",
            retries=10,
            client_id="riec-matching-dlq",
        )
        self.dead_letters = DeadLetters(producer, s.dead_letter_topic)

    def stop(self, *_: Any) -> None:
        """Finish the current batch, commit, leave the group and exit."""
        self._stop = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()  # leaves the group, so partitions move on at once
        if self.dead_letters is not None:
            self.dead_letters.producer.close()

    def run(
        self,
        *,
        until_caught_up: bool = False,
        max_seconds: float | None = None,
        min_idle_polls: int = 2,
    ) -> RunStats:
        """Consume until stopped; with ``until_caught_up``, until no partition lags."""
        self._connect()
        assert self.consumer is not None
        started = time.monotonic()
        idle = 0
        try:
            while not self._stop:
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    log.warning("stopping after max_seconds=%s", max_seconds)
                    break
                batch = self.consumer.poll(timeout_ms=500)
                if batch:
                    idle = 0
                    self._process(batch)
                    continue
                idle += 1
                if until_caught_up and idle >= min_idle_polls and self._caught_up():
                    break
        finally:
            self.close()
        log.info("matching service stopped: %s", self.stats.summary())
        return self.stats

    def _caught_up(self) -> bool:
        assert self.consumer is not None
        assigned = self.consumer.assignment()
        if not assigned:
            # No partitions yet: either no partner topics exist or the group is joining.
            return bool(self.stats.batches) or not self._partner_topics_exist()
        ends = self.consumer.end_offsets(list(assigned))
        for tp in assigned:
            position = self.consumer.position(tp)
            highwater = self.consumer.highwater(tp)
            end = max(ends.get(tp) or 0, highwater or 0)
            if position is None or position < end:
                return False
        return True

    def _partner_topics_exist(self) -> bool:
        assert self.consumer is not None
        return any(t.startswith(self.settings.topic_prefix) for t in self.consumer.topics())

    # -- one batch ----------------------------------------------------------------------

    def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self.consumer is not None and self.dead_letters is not None
        accepted: list[tuple[ConsumerRecord, dict[str, Any]]] = []
        for messages in batch.values():
            for message in messages:
                self.stats.messages += 1
                try:
                    accepted.append((message, self._validate(message)))
                except EnvelopeError as exc:
                    self.stats.dead_letters[exc.reason] += 1
                    log.warning(
                        "dead-lettered %s[%d]@%d: %s",
                        message.topic,
                        message.partition,
                        message.offset,
                        exc.reason,
                    )
                    self.dead_letters.send(message, exc.reason, exc.detail)
        self.dead_letters.flush()
        self._refresh_model()
        self._land_with_retry(accepted)
        offsets = {
            tp: OffsetAndMetadata(messages[-1].offset + 1, "", -1) for tp, messages in batch.items()
        }
        self.consumer.commit(offsets)
        self.stats.batches += 1

    def _refresh_model(self, every_seconds: float = 60.0) -> None:
        """Pick up a retrained model without a restart."""
        if time.monotonic() - self._params_checked < every_seconds:
            return
        self._params_checked = time.monotonic()
        current = {t: p.version for t, p in self.linker.params.items()}
        if active_versions(self.db) != current:
            self.linker.use_params(active_params(self.db))
            log.info("linkage model updated: %s", active_versions(self.db))

    def _validate(self, message: ConsumerRecord) -> dict[str, Any]:
        envelope = decode_envelope(
            message.value, max_bytes=self.settings.max_message_bytes, rules=self.rules
        )
        expected_partner = message.topic.removeprefix(self.settings.topic_prefix)
        if envelope["partner"] != expected_partner:
            raise EnvelopeError(
                "wrong_partner_for_topic",
                f"envelope of partner {envelope['partner']} on topic {message.topic}",
            )
        key_version = envelope["pseudonymisation"]["key_version"]
        if key_version not in self.settings.key_versions:
            raise EnvelopeError(
                "unknown_key_version", f"key version {key_version!r} is not accepted here"
            )
        check_envelope(envelope)
        return envelope

    def _land_with_retry(self, accepted: list[tuple[ConsumerRecord, dict[str, Any]]]) -> None:
        """Land the batch in one transaction; wait out database outages with backoff."""
        delay = 0.5
        while True:
            try:
                outcomes: Counter[str] = Counter()
                with self.db.session() as session:
                    for message, envelope in accepted:
                        source = Source(message.topic, message.partition, message.offset)
                        outcomes[land(session, self.linker, envelope, source)] += 1
                self.stats.outcomes.update(outcomes)
                return
            except OperationalError as exc:
                # Offsets are not committed, so nothing is skipped; keep the group membership
                # alive while waiting by polling nothing.
                log.error("database unavailable (%s); retrying in %.1fs", type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                if self._stop:
                    raise
