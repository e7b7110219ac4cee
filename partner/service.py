"""Push a partner file to its topic: the I/O around :mod:`partner.push`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from kafka import KafkaProducer
from kafka.errors import KafkaError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from partner.csv_source import SourceRow, count_rows, read_rows
from partner.pseudonymise import Pseudonymiser, load_secret
from partner.push import EnvelopeBuilder, PushOptions, PushReport, RejectsWriter, build_envelopes
from riec.settings import Settings


def load_pseudonymiser(settings: Settings, secret_file: Path | None) -> Pseudonymiser:
    if secret_file is not None:
        text = secret_file.read_text(encoding="utf-8")
    elif settings.partner_secret:
        text = settings.partner_secret
    elif env := os.environ.get("RIEC_PARTNER_SECRET_FILE"):
        text = Path(env).read_text(encoding="utf-8")
    else:
        raise ValueError("no secret: pass --secret-file or set RIEC_PARTNER_SECRET(_FILE)")
    return Pseudonymiser(load_secret(text), settings.partner_key_version)


def _with_progress(rows: Iterator[SourceRow], total: int, label: str) -> Iterator[SourceRow]:
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), transient=False) as progress:
        task = progress.add_task(label, total=total)
        for row in rows:
            yield row
            progress.advance(task)


def push_file(
    path: Path,
    options: PushOptions,
    *,
    settings: Settings,
    secret_file: Path | None = None,
    pseudonymiser: Pseudonymiser | None = None,
    mapping: Mapping[str, str] | None = None,
    rejects_path: Path | None = None,
    progress: bool = False,
    producer: KafkaProducer | None = None,
) -> PushReport:
    """Push every good row of ``path``; write bad rows to the rejects file."""
    pseudonymiser = pseudonymiser or load_pseudonymiser(settings, secret_file)
    builder = EnvelopeBuilder(pseudonymiser, options)
    rejects = RejectsWriter(rejects_path or path.with_suffix(".rejects.csv"))
    report = PushReport(batch_id=options.batch_id)
    topic = settings.partner_topic(options.partner)
    own_producer = producer is None
    producer = producer or KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers.split(","),
        acks="all",
        retries=10,
        linger_ms=20,
        max_in_flight_requests_per_connection=1,  # keeps a record's versions in order
        client_id=f"riec-partner-{options.partner}",
    )
    try:
        if not producer.partitions_for(topic):
            raise ValueError(f"topic {topic} does not exist; ask the RIEC to create it")
        rows: Iterator[SourceRow] = read_rows(path, mapping)

        def counted() -> Iterator[SourceRow]:
            for row in rows:
                report.read += 1
                yield row

        source = counted()
        if progress:
            source = _with_progress(source, count_rows(path), f"{options.partner} {path.name}")
        futures = []
        for envelope in build_envelopes(source, builder, rejects):
            value = json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()
            futures.append(
                producer.send(topic, key=envelope["partner_record_id"].encode(), value=value)
            )
            if len(futures) >= 5000:
                _settle(futures)
                report.sent += len(futures)
                futures.clear()
        producer.flush()
        _settle(futures)
        report.sent += len(futures)
    finally:
        rejects.close()
        if own_producer:
            producer.close()
    report.rejected = rejects.count
    report.reasons = rejects.reasons
    report.dropped = rejects.dropped
    report.dropped_reasons = rejects.dropped_reasons
    report.rejects_path = rejects.path if rejects.written else None
    return report


def _settle(futures: list) -> None:  # type: ignore[type-arg]
    for future in futures:
        try:
            future.get(timeout=60)
        except KafkaError as exc:
            raise ValueError(f"the broker did not acknowledge a record: {exc}") from exc
