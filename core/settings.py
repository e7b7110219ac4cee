"""Typed settings, read from ``RIEC_*`` environment variables.

Two objects, one per side of the system, sharing the Kafka connection settings:

* :class:`PartnerSettings`, read by the partner toolkit (``riec partner ...``): where to send
  and the pseudonymisation secret.
* :class:`RiecSettings`, read by the RIEC side (matching service, DAGs, workspace, CLI): the
  database, groups, limits. It has no field for the pseudonymisation secret, so no code on the
  RIEC side can read one from its configuration.

Entry points (CLI commands, DAG tasks, the service) build the object and pass it down;
library code takes settings as an argument and never reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.files import parse_umask, set_umask

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

_S = TypeVar("_S", bound=BaseSettings)

_CONFIG = SettingsConfigDict(
    env_prefix="RIEC_",
    extra="ignore",
    env_ignore_empty=True,
    # Settings hold secrets (database URL, SASL and key passwords, the partner secret): an
    # error must never echo the values it was given.
    hide_input_in_errors=True,
)


class KafkaSettings(BaseSettings):
    """How a client reaches the brokers, and where partner topics are."""

    model_config = _CONFIG

    bootstrap_servers: str = Field(
        default="127.0.0.1:19092", description="Kafka bootstrap address(es), comma separated."
    )
    topic_prefix: str = Field(
        default="riec.partner.", description="Partner topics are <prefix><partner id>."
    )
    request_topic_prefix: str = Field(
        default="riec.requests.",
        description="The RIEC publishes approved requests to partner P on <prefix><P>.",
    )
    response_topic_prefix: str = Field(
        default="riec.responses.",
        description="Partner P publishes its answers to requests on <prefix><P>.",
    )
    kafka_bootstrap_timeout_ms: int = Field(
        default=30_000,
        gt=0,
        description="How long a client tries to reach a broker before it reports that none "
        "answered.",
    )
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT",
        description="How every Kafka client (partner push, matching service, CLI) talks to the "
        "brokers: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS).",
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file with the CA certificate(s) that signed the brokers' certificates. "
        "Default: the system's trusted CAs.",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None,
        description="PEM client certificate, for brokers that authenticate clients by mutual TLS.",
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None,
        description="PEM private key of kafka_ssl_certfile. Default: the key is in the "
        "certificate file itself.",
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted kafka_ssl_keyfile."
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True,
        description="Check that the broker's certificate names the host connected to. Turn off "
        "only for brokers reached through an address their certificate does not name; the "
        "certificate chain is verified either way.",
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        default="SCRAM-SHA-512",
        description="SASL mechanism for SASL_PLAINTEXT and SASL_SSL: PLAIN, SCRAM-SHA-256 or "
        "SCRAM-SHA-512.",
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="SASL user name; required with SASL_PLAINTEXT and SASL_SSL."
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password; required with SASL_PLAINTEXT and SASL_SSL."
    )

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Self:
        problems = kafka_security_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def connection(self) -> dict[str, Any]:
        """The Kafka fields of these settings, to build the other side's settings from."""
        return {name: getattr(self, name) for name in KafkaSettings.model_fields}

    def partner_topic(self, partner: str) -> str:
        return f"{self.topic_prefix}{partner}"

    def request_topic(self, partner: str) -> str:
        return f"{self.request_topic_prefix}{partner}"

    def response_topic(self, partner: str) -> str:
        return f"{self.response_topic_prefix}{partner}"

    def environment(self) -> dict[str, str]:
        """These settings as ``RIEC_*`` variables, secrets included, for a child process."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"RIEC_{name.upper()}"] = str(value)
        return env


class FileSettings(BaseSettings):
    """How the files a component writes are protected (see ``core.files``)."""

    model_config = _CONFIG

    umask: str = Field(
        default="077",
        description="Umask for the data directories and files written (databases, hit lists, "
        "exports, rejects files): 077 makes them readable by the running account only "
        "(directories 0700, files 0600); 027 lets its group read them. Key files are 0600 "
        "whatever this says.",
    )

    @field_validator("umask")
    @classmethod
    def _check_umask(cls, value: str) -> str:
        return f"{parse_umask(value):03o}"


class PartnerSettings(KafkaSettings, FileSettings):
    """The partner side: the Kafka connection and the pseudonymisation secret."""

    partner_secret: SecretStr | None = Field(
        default=None,
        description="The pseudonymisation secret (hex). Prefer RIEC_PARTNER_SECRET_FILE.",
    )
    partner_secret_file: Path | None = Field(
        default=None, description="File with the pseudonymisation secret (hex)."
    )
    partner_key_version: str = Field(default="k1", description="Version label of the secret.")


class RiecSettings(KafkaSettings, FileSettings):
    """The RIEC side. Defaults give the embedded demo set-up (SQLite, local broker)."""

    data_dir: Path = Field(
        default=Path("var"),
        description="Working directory for the SQLite database, hit lists and logs.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file <data_dir>/riec.db. "
        "Example: postgresql+psycopg://riec@db/riec",
    )
    dead_letter_topic: str = Field(
        default="riec.deadletter", description="Rejected envelopes land here with the reason."
    )
    consumer_group: str = Field(default="riec-matching", description="Matching service group id.")
    session_timeout_ms: int = Field(default=10_000, description="Consumer group session timeout.")
    heartbeat_interval_ms: int = Field(default=3_000, description="Consumer heartbeat interval.")
    poll_max_records: int = Field(default=500, description="Records per poll batch.")
    accepted_key_versions: str = Field(
        default="k1",
        description="Comma-separated pseudonymisation key versions the RIEC side accepts; "
        "during a rotation both the old and the new version.",
    )
    max_poll_interval_ms: int = Field(
        default=300_000,
        description="Longest time between two polls before the consumer is dropped from the "
        "group; must exceed the time one batch takes to land.",
    )
    metrics_port: int = Field(
        default=9464, description="Port of the matching service's /healthz and /metrics; 0 = off."
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address /healthz and /metrics bind to; 0.0.0.0 to let Prometheus scrape "
        "from another host or container.",
    )
    health_max_poll_age_seconds: float = Field(
        default=60.0,
        description="/healthz reports unhealthy when the consumer loop has not polled for longer.",
    )
    db_retry_initial_seconds: float = Field(
        default=0.5, description="First wait after a database error; doubles on each retry."
    )
    db_retry_max_seconds: float = Field(
        default=30.0, description="Longest wait between two database retries."
    )
    processing_attempts: int = Field(
        default=3,
        description="Tries per message before a message that fails to land (not a database "
        "outage) goes to the dead-letter topic as processing_error.",
    )
    max_message_bytes: int = Field(
        default=256 * 1024, description="Envelopes larger than this go to the dead-letter topic."
    )
    hitlist_dir: Path | None = Field(
        default=None, description="Where hit lists are written. Default: <data_dir>/hitlists."
    )
    hitlist_criteria: Path | None = Field(
        default=None,
        description="Versioned hit-list criteria (TOML). Default: the bundled criteria file.",
    )
    db_auto_migrate: bool = Field(
        default=True,
        description="Bring the database schema up to date when a component connects. Set to "
        "false where a separate migration job runs first (docker-compose.yml does).",
    )
    gate_max_lost_links: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="The approval gate blocks a candidate model that loses more than this share "
        "of its entity type's links (against a relink with the active model).",
    )
    gate_max_lost_hits: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="The approval gate blocks a candidate model that loses more than this share "
        "of its entity type's hit-list subjects (entities with records of two partners or more).",
    )

    web_host: str = Field(
        default="127.0.0.1",
        description="Address the workspace (`riec web`) listens on; 0.0.0.0 in a container.",
    )
    web_port: int = Field(default=8000, description="Port of the workspace.")
    web_secure_cookies: bool = Field(
        default=False,
        description="Mark session cookies Secure (HTTPS only). Set to true behind a TLS "
        "proxy; cookies are Secure anyway when the request itself came over https.",
    )
    web_forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-Proto/-For headers the workspace trusts.",
    )
    web_session_idle_minutes: int = Field(
        default=30, gt=0, description="A workspace session ends after this long unused."
    )
    web_session_max_hours: int = Field(
        default=10, gt=0, description="A workspace session ends this long after sign-in."
    )
    web_sync_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often the workspace publishes approved requests and reads partners' "
        "answers; 0 leaves that to `riec requests sync`.",
    )
    request_due_days: int = Field(
        default=14,
        gt=0,
        description="Days a partner has to answer a request before it is flagged overdue.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL of the organisation's identity provider; set "
        "to sign in there instead of with local passwords.",
    )
    oidc_client_id: str | None = Field(default=None, description="OpenID Connect client id.")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="OpenID Connect client secret."
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="The workspace's callback URL as registered at the identity provider, "
        "e.g. https://workspace.riec.example/oidc/callback.",
    )
    oidc_roles_claim: str = Field(
        default="roles", description="ID-token claim that lists the user's groups or roles."
    )
    oidc_role_map: str = Field(
        default="",
        description="Comma separated claim-value=role pairs, e.g. "
        "'RIEC-Analisten=analyst,RIEC-Coordinatoren=coordinator'. Claim values not listed "
        "give no role.",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'riec.db').resolve()}"

    @property
    def resolved_hitlist_dir(self) -> Path:
        return self.hitlist_dir or self.data_dir / "hitlists"

    @property
    def key_versions(self) -> frozenset[str]:
        return frozenset(v.strip() for v in self.accepted_key_versions.split(",") if v.strip())


def kafka_security_problems(settings: KafkaSettings) -> list[str]:
    """Contradictions in the Kafka security settings, named by their environment variables.

    Settings the chosen protocol would ignore are errors, not warnings: a CA file or a
    password that is silently unused leaves an operator believing a connection is
    encrypted or authenticated when it is not.
    """
    protocol = settings.kafka_security_protocol
    uses_tls = protocol in ("SSL", "SASL_SSL")
    uses_sasl = protocol.startswith("SASL_")
    problems = []
    tls_files = {
        "RIEC_KAFKA_SSL_CAFILE": settings.kafka_ssl_cafile,
        "RIEC_KAFKA_SSL_CERTFILE": settings.kafka_ssl_certfile,
        "RIEC_KAFKA_SSL_KEYFILE": settings.kafka_ssl_keyfile,
    }
    tls_set = [name for name, path in tls_files.items() if path is not None]
    if settings.kafka_ssl_key_password is not None:
        tls_set.append("RIEC_KAFKA_SSL_KEY_PASSWORD")
    if tls_set and not uses_tls:
        problems.append(
            f"{', '.join(tls_set)} set, but RIEC_KAFKA_SECURITY_PROTOCOL={protocol} does not "
            "use TLS; use SSL or SASL_SSL"
        )
    if uses_tls:
        for name, path in tls_files.items():
            if path is not None and not path.is_file():
                problems.append(f"{name}={path}: no such file")
        if settings.kafka_ssl_keyfile is not None and settings.kafka_ssl_certfile is None:
            problems.append("RIEC_KAFKA_SSL_KEYFILE needs RIEC_KAFKA_SSL_CERTFILE")
        if settings.kafka_ssl_key_password is not None and settings.kafka_ssl_certfile is None:
            problems.append("RIEC_KAFKA_SSL_KEY_PASSWORD needs RIEC_KAFKA_SSL_CERTFILE")
    credentials: dict[str, Any] = {
        "RIEC_KAFKA_SASL_USERNAME": settings.kafka_sasl_username,
        "RIEC_KAFKA_SASL_PASSWORD": (
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password is not None
            else None
        ),
    }
    if uses_sasl:
        missing = [name for name, value in credentials.items() if not value]
        if missing:
            problems.append(
                f"RIEC_KAFKA_SECURITY_PROTOCOL={protocol} needs {' and '.join(missing)}"
            )
    else:
        given = [name for name, value in credentials.items() if value is not None]
        if given:
            problems.append(
                f"{', '.join(given)} set, but RIEC_KAFKA_SECURITY_PROTOCOL={protocol} does not "
                "use SASL; use SASL_PLAINTEXT or SASL_SSL"
            )
    return problems


def load_settings(kind: type[_S], **overrides: Any) -> _S:
    """``kind`` read from the environment; a bad variable becomes a :class:`ConfigurationError`.

    The message names the variables and what is wrong with them, never their values. The
    umask setting (``RIEC_UMASK``) is applied to the process here, at its entry point.
    """
    from pydantic import ValidationError

    from core.errors import ConfigurationError

    try:
        settings = kind(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error["loc"])
            name = f"RIEC_{where.upper()}" if where else "RIEC_* settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigurationError("; ".join(problems)) from None
    if isinstance(settings, FileSettings):
        # Settings are loaded once at an entry point: from here on, every file and
        # directory the process creates follows the deployment's umask.
        set_umask(parse_umask(settings.umask))
    return settings
