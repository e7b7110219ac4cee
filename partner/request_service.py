"""Requests from the RIEC, partner side: read them from the partner's request topic and send
answers on its response topic. The I/O around :mod:`partner.requests`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from contract.disclosure import DisclosureError, decode, encode, validate_request, validate_response
from core.errors import BrokerUnavailable, UsageError
from core.kafka import BOOTSTRAP_ERRORS, broker_unreachable, client_options
from core.settings import PartnerSettings
from partner.requests import OpenRequest, build_answer, combine


def _read_topic(
    consumer: KafkaConsumer, topic: str, *, max_seconds: float, must_exist: bool = False
) -> tuple[list[Any], int]:
    """Every message value on ``topic`` from the beginning, and how many were unreadable."""
    numbers = consumer.partitions_for_topic(topic)
    if numbers is None and not must_exist:
        return [], 0
    if numbers is None:
        # A cluster that creates no topics on demand: most likely a mistyped partner id.
        raise UsageError(
            f"there is no topic {topic}: check --partner (your own partner id) and "
            "RIEC_REQUEST_TOPIC_PREFIX / RIEC_RESPONSE_TOPIC_PREFIX"
        )
    partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
    if not partitions:
        return [], 0
    consumer.assign(partitions)
    ends = consumer.end_offsets(partitions)
    consumer.seek_to_beginning()
    pending = {tp for tp in partitions if ends.get(tp)}
    values: list[Any] = []
    bad = 0
    deadline = time.monotonic() + max_seconds
    while pending and time.monotonic() < deadline:
        for tp, messages in consumer.poll(timeout_ms=500).items():
            for message in messages:
                try:
                    values.append(decode(message.value))
                except DisclosureError:
                    bad += 1
            if consumer.position(tp) >= (ends.get(tp) or 0):
                pending.discard(tp)
    return values, bad


def list_requests(
    settings: PartnerSettings, partner: str, *, max_seconds: float = 30.0
) -> tuple[list[OpenRequest], int]:
    """The requests addressed to ``partner`` with their answers; and how many were invalid."""
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_list,
            enable_auto_commit=False,
            client_id=f"riec-partner-{partner}-requests",
            **client_options(settings),
        )
    except BOOTSTRAP_ERRORS:
        raise broker_unreachable(settings) from None
    try:
        raw_requests, bad = _read_topic(
            consumer, settings.request_topic(partner), max_seconds=max_seconds, must_exist=True
        )
        raw_answers, _ = _read_topic(
            consumer, settings.response_topic(partner), max_seconds=max_seconds
        )
    finally:
        consumer.close()
    requests = []
    for value in raw_requests:
        try:
            request = validate_request(value)
        except DisclosureError:
            bad += 1
            continue
        if request["partner"] == partner:
            requests.append(request)
        else:
            bad += 1
    answers = []
    for value in raw_answers:
        try:
            answers.append(validate_response(value))
        except DisclosureError:
            continue
    return combine(requests, answers), bad


def answer_request(
    settings: PartnerSettings,
    partner: str,
    request_id: str,
    *,
    status: str,
    note: str,
    by: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Send the answer to ``request_id`` on the partner's response topic (acks=all)."""
    requests, _ = list_requests(settings, partner)
    found = next((r for r in requests if r.request_id == request_id.strip().upper()), None)
    if found is None:
        raise UsageError(
            f"no request {request_id.strip()} for {partner}: see `riec partner requests list "
            f"--partner {partner}`"
        )
    message = build_answer(found, partner=partner, status=status, note=note, by=by, now=now)
    try:
        producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_list,
            acks="all",
            retries=5,
            client_id=f"riec-partner-{partner}-answers",
            **client_options(settings),
        )
    except BOOTSTRAP_ERRORS:
        raise broker_unreachable(settings) from None
    try:
        producer.send(
            settings.response_topic(partner), key=found.request_id.encode(), value=encode(message)
        ).get(timeout=30)
    except KafkaError as exc:
        raise BrokerUnavailable(
            f"the broker did not acknowledge the answer ({type(exc).__name__}); nothing was "
            "recorded, try again"
        ) from None
    finally:
        producer.close()
    return message
