"""The matching service: partner topics -> validation -> database -> entities.

One poll batch is one unit of work: every message in it is either landed (in one
database transaction) or sent to the dead-letter topic, and only then are the offsets
committed. A crash anywhere before the commit replays the batch, which landing
recognises, so nothing is lost and nothing is stored twice.

Failures are told apart by kind:

* a message that breaks the contract goes to the dead-letter topic at once, with its reason;
* a database outage (connection refused or lost, database locked, deadlock) is waited out
  with capped exponential backoff; meanwhile the consumer pauses its partitions and keeps
  polling, so it stays in the group and nothing is skipped;
* any other error while landing makes the service land the batch message by message, so
  that the message that keeps failing goes to the dead-letter topic as ``processing_error``
  and the rest of the batch lands, instead of the service crashing on it again and again.
"""

from __future__ import annotations

import logging
import random
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import (
    ConsumerRebalanceListener,
    KafkaAdminClient,
    KafkaConsumer,
    KafkaProducer,
    OffsetAndMetadata,
    TopicPartition,
)
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from sqlalchemy import text
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from consumers.dead_letter import DeadLetters
from consumers.landing import Outcome, Source, land_batch
from consumers.leak_guard import check_envelope
from consumers.logs import describe_error, log_event
from consumers.metrics import Health, MetricsServer, ServiceMetrics
from consumers.progress import GroupProgress
from contract import EnvelopeError, decode_envelope, load_sharing_rules
from core.kafka import BOOTSTRAP_ERRORS, broker_unreachable, client_options
from core.settings import RiecSettings
from matching.linker import Linker
from matching.params_store import active_params, active_versions
from storage import Database, connect

log = logging.getLogger("riec.matching")

#: Lands validated envelopes in order, returning one outcome each:
#: :func:`consumers.landing.land_batch`, unless a caller passes another (a test that needs
#: a message to fail inside landing wraps it).
Lander = Callable[[Session, Linker, Sequence[tuple[dict[str, Any], Source]]], list[Outcome]]
#: Validated messages of a batch, each with its decoded envelope.
Accepted = list[tuple[ConsumerRecord, dict[str, Any]]]

# Outcomes that changed the stored state, and so have a link latency worth measuring.
_APPLIED = frozenset({"stored", "retracted", "unchanged"})
_LAG_EVERY_SECONDS = 5.0


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable or busy, not that the data is bad."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class _StopRequested(Exception):
    """Stop was asked for while waiting out an outage: leave the batch uncommitted."""


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


@dataclass
class BatchResult:
    """What landing a batch did: each landed message with its outcome, and the failures."""

    landed: list[tuple[ConsumerRecord, dict[str, Any], Outcome]] = field(default_factory=list)
    #: Messages that could not be landed, with a description free of message content.
    failed: list[tuple[ConsumerRecord, str]] = field(default_factory=list)
    #: Unix time of the (last) database commit.
    committed_at: float = 0.0


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: MatchingService) -> None:
        self.service = service

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        log_event(log, "partitions_revoked", partitions=_names(revoked))

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.service.assignments += 1
        log_event(log, "partitions_assigned", partitions=_names(assigned))


class MatchingService:
    def __init__(
        self,
        settings: RiecSettings,
        db: Database | None = None,
        linker: Linker | None = None,
        *,
        lander: Lander = land_batch,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.db = db or connect(settings.resolved_database_url)
        self.linker = linker or Linker(params=active_params(self.db))
        self.lander = lander
        self._params_checked = time.monotonic()
        self.rules = load_sharing_rules()
        self.stats = RunStats()
        self.metrics = metrics or ServiceMetrics()
        self.health = Health(self._probe_database, settings.health_max_poll_age_seconds)
        #: How often the group handed this member its partitions (1 = no rebalance).
        self.assignments = 0
        self._stop = False
        self._lag_updated = 0.0
        self.consumer: KafkaConsumer | None = None
        self.progress: GroupProgress | None = None
        self.dead_letters: DeadLetters | None = None
        self.metrics_server: MetricsServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def _connect(self) -> None:
        s = self.settings
        security = client_options(s)
        try:
            self._open_clients(security)
        except BOOTSTRAP_ERRORS:
            raise broker_unreachable(s) from None

    def _open_clients(self, security: dict[str, Any]) -> None:
        s = self.settings
        self.consumer = KafkaConsumer(
            bootstrap_servers=s.bootstrap_list,
            group_id=s.consumer_group,
            client_id="riec-matching",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            max_poll_interval_ms=s.max_poll_interval_ms,
            max_poll_records=s.poll_max_records,
            metadata_max_age_ms=5_000,
            **security,
        )
        self.consumer.subscribe(
            pattern=f"^{re.escape(s.topic_prefix)}.+", listener=_Rebalance(self)
        )

        def probe() -> KafkaConsumer:
            # Outside the group: it only fetches, to find where partitions end.
            return KafkaConsumer(
                bootstrap_servers=s.bootstrap_servers.split(","),
                group_id=None,
                client_id="riec-matching-progress",
                enable_auto_commit=False,
                fetch_max_wait_ms=100,
                max_partition_fetch_bytes=64 * 1024,
                **security,
            )

        admin = KafkaAdminClient(
            bootstrap_servers=s.bootstrap_servers.split(","),
            client_id="riec-matching-progress",
            request_timeout_ms=10_000,
            **security,
        )
        self.progress = GroupProgress(
            s.consumer_group,
            admin,
            probe,
            lambda t: t.startswith(s.topic_prefix) and t != s.topic_prefix,
        )
        producer = KafkaProducer(
            bootstrap_servers=s.bootstrap_list,
            acks="all",
            retries=10,
            client_id="riec-matching-dlq",
            **security,
        )
        self.dead_letters = DeadLetters(producer, s.dead_letter_topic)

    def stop(self, signum: int | None = None, _frame: Any = None) -> None:
        """Finish the current batch, commit, leave the group and exit."""
        self._stop = True
        if signum is not None:
            # A second signal ends the process at once, for when a clean stop hangs.
            signal.signal(signum, signal.SIG_DFL)

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()
        if self.consumer is not None:
            # Leaves the group, so partitions move on at once; bounded for an absent broker.
            self.consumer.close(autocommit=False, timeout_ms=10_000)
            log_event(log, "left_group", group=self.settings.consumer_group)
        if self.dead_letters is not None:
            self.dead_letters.producer.close()

    def _start_metrics_server(self) -> None:
        if self.settings.metrics_port:
            self.metrics_server = MetricsServer(
                self.metrics, self.health, self.settings.metrics_host, self.settings.metrics_port
            ).start()

    def _load_index(self) -> None:
        """Read the linker's in-memory index before joining the group, so that partitions
        are not held while it loads (it takes time in proportion to the records stored)."""
        started = time.monotonic()
        with self.db.session() as session:
            self.linker.load(session)
        log_event(
            log,
            "index_loaded",
            records=len(self.linker.replica),
            seconds=round(time.monotonic() - started, 1),
        )

    def _probe_database(self) -> None:
        with self.db.engine.connect() as connection:
            connection.execute(text("select 1"))

    def run(
        self,
        *,
        until_caught_up: bool = False,
        max_seconds: float | None = None,
        min_idle_polls: int = 2,
    ) -> RunStats:
        """Consume until stopped; with ``until_caught_up``, until no partition lags."""
        self._start_metrics_server()
        reason = "stopped"
        try:
            self._load_index()
            self._connect()
            assert self.consumer is not None
            self.health.loop_started()
            self.metrics.up.set(1)
            log_event(
                log,
                "service_started",
                group=self.settings.consumer_group,
                topics=f"{self.settings.topic_prefix}*",
                until_caught_up=until_caught_up,
            )
            started = time.monotonic()
            idle = 0
            while True:
                if self._stop:
                    reason = "stop requested"
                    break
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    reason = f"max_seconds={max_seconds:g} reached"
                    log_event(log, "max_seconds_reached", logging.WARNING, seconds=max_seconds)
                    break
                batch = self.consumer.poll(timeout_ms=500)
                self.health.polled()
                if batch:
                    idle = 0
                    self._process(batch)
                    self._update_lag()
                    continue
                idle += 1
                if until_caught_up and idle >= min_idle_polls and self._caught_up():
                    reason = "caught up"
                    break
                self._update_lag()
        except _StopRequested:
            reason = "stop requested while the database was unavailable; batch not committed"
        finally:
            self.health.loop_stopped()
            self.metrics.up.set(0)
            try:
                self.close()
            finally:
                if self.metrics_server is not None:
                    self.metrics_server.stop()
        log_event(
            log,
            "service_stopped",
            reason=reason,
            messages=self.stats.messages,
            batches=self.stats.batches,
            outcomes=dict(self.stats.outcomes),
            dead_letters=dict(self.stats.dead_letters),
        )
        return self.stats

    # -- progress -----------------------------------------------------------------------

    def _partition_lags(self) -> dict[TopicPartition, int] | None:
        """Messages behind per assigned partition; ``None`` while a position is unknown."""
        assert self.consumer is not None
        assigned = self.consumer.assignment()
        if not assigned:
            return {}
        ends = self.consumer.end_offsets(list(assigned))
        lags: dict[TopicPartition, int] = {}
        for tp in assigned:
            position = self.consumer.position(tp)
            if position is None:
                return None
            # Some brokers (the bundled test broker among them) report an end offset short
            # of the high watermark the fetches saw; the larger of the two is the end.
            end = max(ends.get(tp) or 0, self.consumer.highwater(tp) or 0)
            lags[tp] = max(end - position, 0)
        return lags

    def _update_lag(self, force: bool = False) -> dict[TopicPartition, int] | None:
        if not force and time.monotonic() - self._lag_updated < _LAG_EVERY_SECONDS:
            return None
        self._lag_updated = time.monotonic()
        try:
            lags = self._partition_lags()
        except KafkaError as exc:
            log_event(log, "lag_unknown", logging.DEBUG, error=describe_error(exc))
            return None
        if lags is not None:
            self.metrics.set_lag({(tp.topic, tp.partition): n for tp, n in lags.items()})
        return lags

    def _caught_up(self) -> bool:
        """Whether the group has committed every partition of its topics to the end.

        Not only this member's partitions: a member that owns none, or a few, is not done
        while another partition lags, and is done when nothing is left, whoever consumed it.
        """
        assert self.progress is not None
        try:
            progress = self.progress.progress()
        except KafkaError as exc:
            log_event(log, "progress_unknown", logging.DEBUG, error=describe_error(exc))
            return False
        lagging = _names(tp for tp, p in progress.items() if p.lag)
        if lagging:
            log_event(log, "not_caught_up", logging.DEBUG, partitions=lagging[:10])
        return not lagging

    # -- one batch ----------------------------------------------------------------------

    def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self.consumer is not None and self.dead_letters is not None
        accepted: Accepted = []
        for messages in batch.values():
            for message in messages:
                self.stats.messages += 1
                try:
                    accepted.append((message, self._validate(message)))
                except EnvelopeError as exc:
                    self._dead_letter(message, exc.reason, exc.detail)
        self.dead_letters.flush()
        self._refresh_model()
        result = self._land_with_retry(accepted) if accepted else BatchResult()
        for message, detail in result.failed:
            self._dead_letter(message, "processing_error", detail)
        if result.failed:
            self.dead_letters.flush()
        outcomes = Counter(outcome for _, _, outcome in result.landed)
        self.stats.outcomes.update(outcomes)
        self.metrics.count_outcomes(outcomes)
        self.metrics.observe_latencies(
            result.committed_at - _produced_at(envelope)
            for _, envelope, outcome in result.landed
            if outcome in _APPLIED
        )
        self._commit(batch)
        self.stats.batches += 1
        self.metrics.batch_committed()
        log_event(
            log,
            "batch_committed",
            messages=sum(len(m) for m in batch.values()),
            outcomes=dict(outcomes),
            dead_lettered=sum(len(m) for m in batch.values()) - len(result.landed),
        )

    def _dead_letter(self, message: ConsumerRecord, reason: str, detail: str) -> None:
        assert self.dead_letters is not None
        self.stats.dead_letters[reason] += 1
        self.metrics.count_dead_letter(reason)
        # Coordinates and reason only: the value, and even the detail, may quote the data.
        log_event(
            log,
            "dead_lettered",
            logging.WARNING,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            reason=reason,
        )
        self.dead_letters.send(message, reason, detail)

    def _commit(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self.consumer is not None
        offsets = {
            tp: OffsetAndMetadata(messages[-1].offset + 1, "", -1) for tp, messages in batch.items()
        }
        # After a rebalance during an outage a partition may belong to another member now;
        # it re-reads from the last commit, and landing recognises the replays.
        owned = self.consumer.assignment()
        lost = sorted(tp for tp in offsets if tp not in owned)
        if lost:
            log_event(log, "commit_skipped", logging.WARNING, partitions=_names(lost))
        try:
            self.consumer.commit({tp: o for tp, o in offsets.items() if tp in owned})
        except CommitFailedError:
            log_event(log, "commit_failed_after_rebalance", logging.WARNING)

    def _refresh_model(self, every_seconds: float = 60.0) -> None:
        """Pick up a retrained model without a restart."""
        if time.monotonic() - self._params_checked < every_seconds:
            return
        self._params_checked = time.monotonic()
        current = {t: p.version for t, p in self.linker.params.items()}
        try:
            versions = active_versions(self.db)
            if versions != current:
                self.linker.use_params(active_params(self.db))
                log_event(log, "linkage_model_updated", versions=versions)
        except SQLAlchemyError as exc:
            # Landing waits out the outage; the model check comes round again.
            log_event(log, "model_check_failed", logging.WARNING, error=describe_error(exc))

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

    # -- landing ------------------------------------------------------------------------

    def _land_with_retry(self, accepted: Accepted) -> BatchResult:
        """Land the batch in one transaction; wait out database outages with backoff.

        The one place where a batch is written. Any failure other than an outage hands
        the batch to :meth:`_land_one_by_one`, which isolates the message at fault.
        """
        retries = 0
        while True:
            try:
                with self.db.session() as session:
                    outcomes = self.lander(
                        session, self.linker, [(env, _source(msg)) for msg, env in accepted]
                    )
                landed = [(m, e, o) for (m, e), o in zip(accepted, outcomes, strict=True)]
                result = BatchResult(landed=landed, committed_at=time.time())
                break
            except Exception as exc:
                if not is_outage(exc):
                    log_event(
                        log,
                        "batch_failed",
                        logging.WARNING,
                        messages=len(accepted),
                        error=describe_error(exc),
                        action="landing the messages one by one",
                    )
                    return self._land_one_by_one(accepted)
                retries += 1
                self._wait_out_outage(exc, retries)
        if retries:
            log_event(log, "database_recovered", retries=retries)
        return result

    def _land_one_by_one(self, accepted: Accepted) -> BatchResult:
        """Land each message in its own transaction; give up on one after a few tries."""
        result = BatchResult()
        for message, envelope in accepted:
            failures = retries = 0
            while True:
                try:
                    with self.db.session() as session:
                        [outcome] = self.lander(
                            session, self.linker, [(envelope, _source(message))]
                        )
                except Exception as exc:
                    if is_outage(exc):
                        retries += 1
                        self._wait_out_outage(exc, retries)
                        continue
                    failures += 1
                    if failures < self.settings.processing_attempts:
                        continue
                    log_event(
                        log,
                        "processing_error",
                        logging.ERROR,
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                        attempts=failures,
                        error=describe_error(exc),
                        exc=exc,
                    )
                    result.failed.append(
                        (message, f"landing failed {failures} times: {describe_error(exc)}")
                    )
                    break
                result.landed.append((message, envelope, outcome))
                break
        result.committed_at = time.time()
        return result

    def _wait_out_outage(self, exc: BaseException, retry: int) -> None:
        """Back off before retry number ``retry``; raise ``_StopRequested`` on a stop."""
        s = self.settings
        ceiling = min(s.db_retry_initial_seconds * 2 ** (retry - 1), s.db_retry_max_seconds)
        # Jitter keeps replicas that lost the database together from retrying in lockstep.
        delay = ceiling * random.uniform(0.8, 1.0)
        self.metrics.db_retries.inc()
        log_event(
            log,
            "database_unavailable",
            logging.ERROR,
            retry=retry,
            retry_in_seconds=round(delay, 2),
            error=describe_error(exc),
        )
        self._wait_in_group(delay)
        if self._stop:
            raise _StopRequested

    def _wait_in_group(self, seconds: float) -> None:
        """Sleep ``seconds`` without leaving the consumer group.

        The partitions are paused and the consumer keeps polling, which fetches nothing
        but keeps the member within ``max_poll_interval_ms``.
        """
        consumer = self.consumer
        assert consumer is not None
        deadline = time.monotonic() + seconds
        consumer.pause(*consumer.assignment())
        try:
            while not self._stop and time.monotonic() < deadline:
                delivered = consumer.poll(timeout_ms=0)
                # A rebalance while waiting brings fresh partitions that are not paused:
                # put back what they delivered so that it is read again after the wait.
                for tp, messages in delivered.items():
                    consumer.seek(tp, messages[0].offset)
                consumer.pause(*consumer.assignment())
                self.health.polled()
                time.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))
        finally:
            consumer.resume(*consumer.paused())


def _source(message: ConsumerRecord) -> Source:
    return Source(message.topic, message.partition, message.offset)


def _produced_at(envelope: dict[str, Any]) -> float:
    produced_at = datetime.fromisoformat(envelope["produced_at"])
    if produced_at.tzinfo is None:
        produced_at = produced_at.replace(tzinfo=UTC)
    return produced_at.timestamp()


def _names(partitions: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
