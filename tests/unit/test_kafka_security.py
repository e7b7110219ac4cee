"""RIEC_KAFKA_* settings -> kafka-python client options, their validation, and secrecy."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from pydantic import SecretStr, ValidationError

from core.errors import ConfigurationError
from core.kafka import client_options
from core.settings import RiecSettings
from riec.broker import free_port

SASL_SECRET = "sasl-pw-7f3e9c1b"
KEY_SECRET = "key-pw-2d8a4e6f"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets itself: no RIEC_* variable of the shell that runs the tests."""
    for name in list(os.environ):
        if name.startswith("RIEC_"):
            monkeypatch.delenv(name)


@pytest.fixture
def pem_files(tmp_path: Path) -> dict[str, Path]:
    # Existence is all the settings check; kafka-python reads the contents on connecting.
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in files.values():
        path.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    return files


def settings_from_env(monkeypatch: pytest.MonkeyPatch, **variables: str | Path) -> RiecSettings:
    for name, value in variables.items():
        monkeypatch.setenv(f"RIEC_KAFKA_{name.upper()}", str(value))
    return RiecSettings()


def test_plaintext_is_the_default() -> None:
    assert client_options(RiecSettings()) == {
        "security_protocol": "PLAINTEXT",
        "bootstrap_timeout_ms": 30_000,
    }


def test_sasl_ssl_with_a_client_certificate_maps_every_variable(
    monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path]
) -> None:
    settings = settings_from_env(
        monkeypatch,
        security_protocol="SASL_SSL",
        ssl_cafile=pem_files["ca"],
        ssl_certfile=pem_files["cert"],
        ssl_keyfile=pem_files["key"],
        ssl_key_password=KEY_SECRET,
        ssl_check_hostname="false",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="gemeente-tilburg",
        sasl_password=SASL_SECRET,
    )
    assert client_options(settings) == {
        "security_protocol": "SASL_SSL",
        "bootstrap_timeout_ms": 30_000,
        "ssl_check_hostname": False,
        "ssl_cafile": str(pem_files["ca"]),
        "ssl_certfile": str(pem_files["cert"]),
        "ssl_keyfile": str(pem_files["key"]),
        "ssl_password": KEY_SECRET,
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "gemeente-tilburg",
        "sasl_plain_password": SASL_SECRET,
    }


def test_ssl_checks_the_hostname_and_sends_no_sasl_options(
    monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path]
) -> None:
    settings = settings_from_env(monkeypatch, security_protocol="SSL", ssl_cafile=pem_files["ca"])
    assert client_options(settings) == {
        "security_protocol": "SSL",
        "bootstrap_timeout_ms": 30_000,
        "ssl_check_hostname": True,
        "ssl_cafile": str(pem_files["ca"]),
    }


def test_sasl_plaintext_sends_no_tls_options_and_defaults_to_scram_sha_512(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from_env(
        monkeypatch,
        security_protocol="SASL_PLAINTEXT",
        sasl_username="politie-zwb",
        sasl_password=SASL_SECRET,
    )
    assert client_options(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "bootstrap_timeout_ms": 30_000,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "politie-zwb",
        "sasl_plain_password": SASL_SECRET,
    }


@pytest.mark.parametrize("client", [KafkaProducer, KafkaConsumer, KafkaAdminClient])
def test_every_option_is_a_parameter_of_the_installed_kafka_python(
    client: type, pem_files: dict[str, Path]
) -> None:
    settings = RiecSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=pem_files["ca"],
        kafka_ssl_certfile=pem_files["cert"],
        kafka_ssl_keyfile=pem_files["key"],
        kafka_ssl_key_password=SecretStr(KEY_SECRET),
        kafka_sasl_username="u",
        kafka_sasl_password=SecretStr(SASL_SECRET),
    )
    assert set(client_options(settings)) <= set(client.DEFAULT_CONFIG)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"security_protocol": "SASL_SSL"},
            "RIEC_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs RIEC_KAFKA_SASL_USERNAME and "
            "RIEC_KAFKA_SASL_PASSWORD",
        ),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_username": "u"},
            "RIEC_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT needs RIEC_KAFKA_SASL_PASSWORD",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_password": SASL_SECRET},
            "RIEC_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs RIEC_KAFKA_SASL_USERNAME",
        ),
        (
            {"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"},
            "RIEC_KAFKA_SSL_CAFILE=/nonexistent/ca.pem: no such file",
        ),
        (
            {"security_protocol": "SASL_SSL", "ssl_certfile": "/nonexistent/client.pem"},
            "RIEC_KAFKA_SSL_CERTFILE=/nonexistent/client.pem: no such file",
        ),
        (
            {"ssl_cafile": "/nonexistent/ca.pem"},
            "RIEC_KAFKA_SSL_CAFILE set, but RIEC_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not "
            "use TLS",
        ),
        (
            {"security_protocol": "SSL", "sasl_username": "u", "sasl_password": SASL_SECRET},
            "RIEC_KAFKA_SASL_USERNAME, RIEC_KAFKA_SASL_PASSWORD set, but "
            "RIEC_KAFKA_SECURITY_PROTOCOL=SSL does not use SASL",
        ),
        ({"security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_contradictory_settings_fail_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError) as error:
        settings_from_env(monkeypatch, **variables)
    assert message in str(error.value)
    assert SASL_SECRET not in str(error.value)


def test_a_key_file_or_key_password_needs_a_certificate_file(
    monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path]
) -> None:
    with pytest.raises(ValidationError) as error:
        settings_from_env(
            monkeypatch,
            security_protocol="SSL",
            ssl_keyfile=pem_files["key"],
            ssl_key_password=KEY_SECRET,
        )
    text = str(error.value)
    assert "RIEC_KAFKA_SSL_KEYFILE needs RIEC_KAFKA_SSL_CERTFILE" in text
    assert "RIEC_KAFKA_SSL_KEY_PASSWORD needs RIEC_KAFKA_SSL_CERTFILE" in text
    assert KEY_SECRET not in text


def test_settings_changed_without_validation_are_checked_before_use() -> None:
    unchecked = RiecSettings().model_copy(update={"kafka_security_protocol": "SASL_SSL"})
    with pytest.raises(ConfigurationError, match="needs RIEC_KAFKA_SASL_USERNAME"):
        client_options(unchecked)


def test_passwords_never_show_in_the_settings_or_the_options(
    monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path]
) -> None:
    settings = settings_from_env(
        monkeypatch,
        security_protocol="SASL_SSL",
        ssl_cafile=pem_files["ca"],
        ssl_certfile=pem_files["cert"],
        ssl_key_password=KEY_SECRET,
        sasl_username="gemeente-tilburg",
        sasl_password=SASL_SECRET,
    )
    options = client_options(settings)
    shown = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        repr(options),
        str(options),
    ]
    for text in shown:
        assert SASL_SECRET not in text
        assert KEY_SECRET not in text
    assert "gemeente-tilburg" in repr(settings)  # the check above looked at real output


def test_a_validation_error_does_not_echo_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as error:
        settings_from_env(monkeypatch, security_protocol="SSL", sasl_password=SASL_SECRET)
    assert "RIEC_KAFKA_SASL_PASSWORD set" in str(error.value)
    assert SASL_SECRET not in str(error.value)
    assert SASL_SECRET not in repr(error.value)


def test_the_admin_clients_debug_log_of_its_configuration_hides_the_passwords(
    caplog: pytest.LogCaptureFixture, pem_files: dict[str, Path]
) -> None:
    settings = RiecSettings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="gemeente-tilburg",
        kafka_sasl_password=SecretStr(SASL_SECRET),
        kafka_bootstrap_timeout_ms=500,
    )
    caplog.set_level(logging.DEBUG, logger="kafka")
    # Nothing listens there: the configuration is logged before the first connection attempt.
    with pytest.raises(KafkaError):
        KafkaAdminClient(
            bootstrap_servers=f"127.0.0.1:{free_port()}",
            **client_options(settings),
        )
    configuration = [r.getMessage() for r in caplog.records if "configuration" in r.getMessage()]
    assert configuration and "sasl_plain_password" in configuration[0]
    assert SASL_SECRET not in caplog.text
