"""The end-to-end path as functions, shared by the demo, the tests and the benchmarks.

partner files -> ``push_file`` (partner side) -> topics -> matching service -> database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from consumers.matching_service import MatchingService, RunStats
from core.kafka import client_options
from core.settings import KafkaSettings, PartnerSettings, RiecSettings
from matching.linker import Linker
from partner.gemeente import PostcodeGemeenten
from partner.pseudonymise import Pseudonymiser
from partner.push import PushOptions, PushReport, new_batch_id
from partner.service import push_file
from riec.broker import ensure_topics
from storage import Database, connect


@dataclass(frozen=True)
class PartnerFile:
    """One file a partner pushes: who, what kind of records, and under which basis."""

    partner: str
    partner_type: str
    entity_type: str
    path: Path
    legal_basis: str | None = None
    #: A gemeente's own gemeentecode, for rows that name no gemeente or known postcode.
    own_gemeentecode: str | None = None


def create_topics(settings: RiecSettings, partners: Iterable[str], partitions: int = 3) -> None:
    topics = [settings.partner_topic(p) for p in sorted(set(partners))]
    ensure_topics(
        settings.bootstrap_servers,
        [*topics, settings.dead_letter_topic],
        partitions,
        **client_options(settings),
    )


def push_files(
    settings: KafkaSettings,
    files: Iterable[PartnerFile],
    pseudonymiser: Pseudonymiser,
    *,
    rejects_dir: Path | None = None,
    progress: bool = False,
    postcode_gemeenten: PostcodeGemeenten | None = None,
) -> list[PushReport]:
    """Push each file as its partner would, over the connection ``settings`` describe.

    ``postcode_gemeenten`` is the postcode mapping every partner loads (``--postcode-gemeente``).
    """
    partner_settings = PartnerSettings(**settings.connection())
    reports = []
    for item in files:
        options = PushOptions(
            partner=item.partner,
            partner_type=item.partner_type,
            entity_type=item.entity_type,
            batch_id=new_batch_id(),
            legal_basis=item.legal_basis,
            postcode_gemeenten=postcode_gemeenten,
            own_gemeentecode=item.own_gemeentecode,
        )
        rejects = (rejects_dir or item.path.parent) / f"{item.partner}-{item.path.stem}.rejects.csv"
        reports.append(
            push_file(
                item.path,
                options,
                settings=partner_settings,
                pseudonymiser=pseudonymiser,
                rejects_path=rejects,
                progress=progress,
            )
        )
    return reports


def match_until_caught_up(
    settings: RiecSettings,
    db: Database | None = None,
    linker: Linker | None = None,
    max_seconds: float | None = 600,
) -> RunStats:
    service = MatchingService(settings, db or connect(settings.resolved_database_url), linker)
    return service.run(until_caught_up=True, max_seconds=max_seconds)
