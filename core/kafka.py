"""TLS and SASL options for every Kafka client, from the ``RIEC_KAFKA_*`` settings.

Pass the result to ``KafkaProducer``, ``KafkaConsumer`` or ``KafkaAdminClient`` as keyword
arguments, next to ``bootstrap_servers``. The names are kafka-python's (3.x).
"""

from __future__ import annotations

from typing import Any

from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from core.errors import BrokerUnavailable, ConfigurationError
from core.settings import KafkaSettings, kafka_security_problems


class _Masked(str):
    """A secret that kafka-python can use as a string but that prints as asterisks.

    ``KafkaAdminClient`` logs its whole configuration at DEBUG level, and a dict prints its
    values with ``repr``; masking ``repr`` keeps passwords out of that log.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'**********'"


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments that make a kafka-python client connect as ``settings`` say."""
    # Checked again here: ``model_copy(update=...)`` skips validation, and a clear error now
    # beats a TLS handshake that fails later on a missing file.
    if problems := kafka_security_problems(settings):
        raise ConfigurationError("Kafka security settings: " + "; ".join(problems))
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "security_protocol": protocol,
        "bootstrap_timeout_ms": settings.kafka_bootstrap_timeout_ms,
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_check_hostname"] = settings.kafka_ssl_check_hostname
        if settings.kafka_ssl_cafile is not None:
            options["ssl_cafile"] = str(settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile is not None:
            options["ssl_certfile"] = str(settings.kafka_ssl_certfile)
        if settings.kafka_ssl_keyfile is not None:
            options["ssl_keyfile"] = str(settings.kafka_ssl_keyfile)
        if settings.kafka_ssl_key_password is not None:
            options["ssl_password"] = _Masked(settings.kafka_ssl_key_password.get_secret_value())
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        assert settings.kafka_sasl_password is not None  # checked above
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = _Masked(settings.kafka_sasl_password.get_secret_value())
    return options


#: What a kafka-python client raises when it is created but no broker answers.
BOOTSTRAP_ERRORS = (KafkaTimeoutError, KafkaConnectionError)


def broker_unreachable(settings: KafkaSettings) -> BrokerUnavailable:
    """The error for "no broker answered", saying what to check."""
    return BrokerUnavailable(
        f"no Kafka broker answered at {settings.bootstrap_servers}: check "
        "RIEC_BOOTSTRAP_SERVERS (host and port) and that the broker runs; the connection "
        f"uses RIEC_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol}"
    )
