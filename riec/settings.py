"""One typed settings object, read from ``RIEC_*`` environment variables.

Every component (partner push, matching service, DAGs, CLI) reads its configuration
from here, so a deployment changes behaviour only through the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Defaults give the embedded demo set-up (SQLite, local broker)."""

    model_config = SettingsConfigDict(env_prefix="RIEC_", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Field(
        default=Path("var"),
        description="Working directory for the SQLite database, hit lists, rejects and logs.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file <data_dir>/riec.db. "
        "Example: postgresql+psycopg://riec@db/riec",
    )
    bootstrap_servers: str = Field(
        default="127.0.0.1:19092", description="Kafka bootstrap address(es), comma separated."
    )
    topic_prefix: str = Field(
        default="riec.partner.", description="Partner topics are <prefix><partner id>."
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
    partner_secret: str | None = Field(
        default=None,
        description="Partner side only: the pseudonymisation secret. Never set on the RIEC side.",
    )
    partner_key_version: str = Field(
        default="k1", description="Partner side only: version label of partner_secret."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'riec.db').resolve()}"

    @property
    def resolved_hitlist_dir(self) -> Path:
        return self.hitlist_dir or self.data_dir / "hitlists"

    @property
    def resolved_hitlist_criteria(self) -> Path:
        return self.hitlist_criteria or Path(__file__).with_name("hitlist_criteria.toml")

    @property
    def key_versions(self) -> frozenset[str]:
        return frozenset(v.strip() for v in self.accepted_key_versions.split(",") if v.strip())

    def partner_topic(self, partner: str) -> str:
        return f"{self.topic_prefix}{partner}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
