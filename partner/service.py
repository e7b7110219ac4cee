"""Push a partner file to its topic: the I/O around :mod:`partner.push`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer
from kafka.errors import KafkaError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from contract import batch_report
from core.errors import BrokerUnavailable, ConfigurationError, InputFileError
from core.kafka import BOOTSTRAP_ERRORS, broker_unreachable, client_options
from core.settings import PartnerSettings
from partner.csv_source import SourceRow, count_rows, read_header, read_rows
from partner.preview import PushPreview
from partner.pseudonymise import SCHEME, Pseudonymiser, load_secret
from partner.push import EnvelopeBuilder, PushOptions, PushReport, RejectsWriter, build_envelopes


def load_pseudonymiser(
    settings: PartnerSettings, secret_file: Path | None, *, key_version: str | None = None
) -> Pseudonymiser:
    """The partner's pseudonymiser: ``secret_file``, else RIEC_PARTNER_SECRET(_FILE).

    ``key_version`` overrides ``settings.partner_key_version`` (RIEC_PARTNER_KEY_VERSION).
    """
    secret_file = secret_file or settings.partner_secret_file
    if secret_file is not None:
        try:
            text = secret_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"cannot read the secret file {secret_file}: {exc}") from None
    elif settings.partner_secret is not None:
        text = settings.partner_secret.get_secret_value()
    else:
        raise ConfigurationError("no secret: pass --secret-file or set RIEC_PARTNER_SECRET_FILE")
    try:
        return Pseudonymiser(load_secret(text), key_version or settings.partner_key_version)
    except ValueError as exc:
        # The message says what is wrong with the secret, never the secret.
        raise ConfigurationError(f"the pseudonymisation secret: {exc}") from None


def new_producer(settings: PartnerSettings, partner: str) -> KafkaProducer:
    """The producer a partner pushes with: the one place its connection is configured."""
    try:
        return KafkaProducer(
            bootstrap_servers=settings.bootstrap_list,
            acks="all",
            retries=10,
            linger_ms=20,
            max_in_flight_requests_per_connection=1,  # keeps a record's versions in order
            client_id=f"riec-partner-{partner}",
            **client_options(settings),
        )
    except BOOTSTRAP_ERRORS:
        raise broker_unreachable(settings) from None


def _with_progress(rows: Iterator[SourceRow], total: int, label: str) -> Iterator[SourceRow]:
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), transient=False) as progress:
        task = progress.add_task(label, total=total)
        for row in rows:
            yield row
            progress.advance(task)


def _source(
    path: Path,
    mapping: Mapping[str, str] | None,
    report: PushReport,
    *,
    progress: bool,
    label: str,
) -> Iterator[SourceRow]:
    """The rows of ``path``, counted into ``report`` (and its preview, on a dry run)."""
    preview = report.preview

    def counted() -> Iterator[SourceRow]:
        for row in read_rows(path, mapping):
            report.read += 1
            if preview is not None:
                preview.add_row(row.row)
            yield row

    source = counted()
    if progress:
        source = _with_progress(source, count_rows(path), label)
    return source


def push_file(
    path: Path,
    options: PushOptions,
    *,
    settings: PartnerSettings,
    secret_file: Path | None = None,
    pseudonymiser: Pseudonymiser | None = None,
    mapping: Mapping[str, str] | None = None,
    rejects_path: Path | None = None,
    progress: bool = False,
    producer: KafkaProducer | None = None,
    dry_run: bool = False,
) -> PushReport:
    """Push every good row of ``path``; write bad rows to the rejects file.

    With ``dry_run`` every row is read, checked, normalised and pseudonymised and the
    rejects file written exactly as in a real push, but no producer is created and nothing
    is sent, so no broker need be reachable (nor is the topic checked). The report then
    counts the rows that would be sent and carries a :class:`PushPreview`.
    """
    pseudonymiser = pseudonymiser or load_pseudonymiser(settings, secret_file)
    builder = EnvelopeBuilder(pseudonymiser, options)
    rejects = RejectsWriter(rejects_path or path.with_suffix(".rejects.csv"))
    preview = (
        PushPreview(options.entity_type, dict(mapping or {}), read_header(path))
        if dry_run
        else None
    )
    report = PushReport(
        batch_id=options.batch_id,
        dry_run=dry_run,
        preview=preview,
        key_version=pseudonymiser.key_version,
        key_fingerprint=pseudonymiser.fingerprint,
    )

    def rows() -> Iterator[SourceRow]:
        label = f"{options.partner} {path.name}"
        return _source(path, mapping, report, progress=progress, label=label)

    if preview is None:
        _send(rows, builder, rejects, report, settings, options.partner, producer)
    else:
        try:
            for envelope in build_envelopes(rows(), builder, rejects):
                preview.add_envelope(envelope)
                report.would_send += 1
        finally:
            rejects.close()
    report.rejected = rejects.count
    report.reasons = rejects.reasons
    report.dropped = rejects.dropped
    report.dropped_reasons = rejects.dropped_reasons
    report.rejects_path = rejects.path if rejects.written else None
    return report


def _send(
    rows: Callable[[], Iterator[SourceRow]],
    builder: EnvelopeBuilder,
    rejects: RejectsWriter,
    report: PushReport,
    settings: PartnerSettings,
    partner: str,
    producer: KafkaProducer | None,
) -> None:
    """Send the envelopes of the good rows to the partner's topic (acks=all)."""
    topic = settings.partner_topic(partner)
    own_producer = producer is None
    producer = producer or new_producer(settings, partner)
    try:
        if not producer.partitions_for(topic):
            raise ConfigurationError(f"topic {topic} does not exist; ask the RIEC to create it")
        futures = []
        for envelope in build_envelopes(rows(), builder, rejects):
            futures.append(
                producer.send(
                    topic, key=envelope["partner_record_id"].encode(), value=_json(envelope)
                )
            )
            if len(futures) >= 5000:
                _settle(futures)
                report.sent += len(futures)
                futures.clear()
        producer.flush()
        _settle(futures)
        report.sent += len(futures)
        # After the records: the counts of what was read, sent and rejected, by reason.
        summary = _batch_report(builder, report, rejects)
        future = producer.send(topic, key=summary["batch_id"].encode(), value=_json(summary))
        producer.flush()
        _settle([future])
    finally:
        rejects.close()
        if own_producer:
            producer.close()


def _json(message: dict[str, object]) -> bytes:
    return json.dumps(message, separators=(",", ":"), sort_keys=True).encode()


def _batch_report(
    builder: EnvelopeBuilder, report: PushReport, rejects: RejectsWriter
) -> dict[str, object]:
    """The batch report of a push (contract 1.1): counts by reason, never a value."""
    options = builder.options
    return batch_report(
        message_id=uuid.uuid4().hex,
        partner=options.partner,
        partner_type=options.partner_type,
        batch_id=options.batch_id,
        entity_type=options.entity_type,
        produced_at=datetime.now(UTC),
        scheme=SCHEME,
        key_version=builder.key_version,
        read=report.read,
        sent=report.sent,
        rejected=rejects.reasons,
        dropped=rejects.dropped_reasons,
    )


def _settle(futures: list) -> None:  # type: ignore[type-arg]
    for future in futures:
        try:
            future.get(timeout=60)
        except KafkaError as exc:
            raise BrokerUnavailable(f"the broker did not acknowledge a record: {exc}") from exc
