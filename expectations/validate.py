"""Run the partner-records expectation suite per partner batch and store the outcomes.

The suite lives in ``partner_records.json`` next to this module and is loaded at run time, so a
change to the expectations is a reviewed data change, not a code change. Each (partner,
batch_id) is validated on its own and gets one ``validation_runs`` row, which makes failures
visible per partner and batch and lets the hit-list builder leave failed batches out.

Tokens and filters are never loaded into the validated frame: only their counts are, so no
pseudonym can end up in a validation result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contract.sharing_rules import SharingRules, load_sharing_rules
from expectations import RECORDS_VALIDATED_URI
from storage.database import Database
from storage.models import Record, ValidationRun

log = logging.getLogger(__name__)

__all__ = [
    "FRAME_COLUMNS",
    "RECORDS_VALIDATED_URI",
    "SUITE_PATH",
    "BatchOutcome",
    "PendingBatch",
    "allowed_legal_bases",
    "load_suite",
    "pending_batches",
    "records_frame",
    "summarise",
    "validate_records",
]

SUITE_PATH = Path(__file__).with_name("partner_records.json")

#: Columns of the validated frame: the ``records`` columns minus the pseudonyms themselves.
FRAME_COLUMNS: tuple[str, ...] = (
    "id",
    "partner",
    "partner_type",
    "partner_record_id",
    "batch_id",
    "entity_type",
    "status",
    "key_version",
    "signal_code",
    "signal_theme",
    "signal_date",
    "person_category",
    "legal_basis",
    "retention_until",
    "token_count",
    "filter_count",
)
_DATE_COLUMNS = ("signal_date", "retention_until")
_SAMPLE_SIZE = 10
# Reasons for validating that mean the records themselves are new or different.
_DATA_CHANGED = frozenset({"new", "new_records"})
_RESULT_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    # Failing rows are reported by the partner's own reference, which the partner can look up;
    # the offending values themselves are not kept.
    "unexpected_index_column_names": ["partner_record_id"],
    "partial_unexpected_count": _SAMPLE_SIZE,
}


@dataclass(frozen=True)
class BatchOutcome:
    """The stored outcome for one partner batch."""

    validation_run_id: int
    partner: str
    batch_id: str
    success: bool
    evaluated: int
    failed: int
    record_count: int
    results: dict[str, Any]
    changed: bool
    """True when the batch's data or its outcome changed since the previous run: only then
    can a hit list built now differ from the last one."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_suite(path: Path = SUITE_PATH) -> dict[str, Any]:
    """The suite as stored in the repository (GX 1.x suite JSON)."""
    suite = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(suite, dict) or not suite.get("name") or not suite.get("expectations"):
        raise ValueError(f"{path}: not an expectation suite (needs a name and expectations)")
    return suite


def suite_version(suite: dict[str, Any]) -> str:
    return str(suite.get("meta", {}).get("suite_version", "unversioned"))


def validate_records(
    db: Database,
    *,
    run_date: date,
    dag_run_id: str | None = None,
    revalidate_all: bool = False,
    suite_path: Path = SUITE_PATH,
    rules: SharingRules | None = None,
) -> list[BatchOutcome]:
    """Validate every pending partner batch and store one ``ValidationRun`` per batch.

    A batch is pending when it was never validated, received records since its last run,
    failed its last run (date checks change with time, and the partner may have corrected
    records), or was last validated under another suite or sharing-rules version.
    ``revalidate_all`` validates every batch.
    """
    suite = load_suite(suite_path)
    rules = rules or load_sharing_rules()
    with db.session() as session:
        batches = pending_batches(
            session,
            suite_version=suite_version(suite),
            rules_version=rules.version,
            revalidate_all=revalidate_all,
        )
    if not batches:
        log.info("No partner batch needs validation")
        return []

    runner = _SuiteRunner(suite)
    outcomes: list[BatchOutcome] = []
    for batch in batches:
        partner, batch_id = batch.partner, batch.batch_id
        # Taken before loading: a record landing while the batch is validated is newer than
        # the run, so the next run picks it up.
        started = datetime.now(UTC)
        with db.session() as session:
            frame = records_frame(session, partner, batch_id)
        allowed = allowed_legal_bases(frame, rules)
        result = runner.run(frame, run_date=run_date, allowed_legal_bases=allowed)
        summary = summarise(result)
        summary.update(
            reason=batch.reason,
            suite_version=suite_version(suite),
            sharing_rules_version=rules.version,
            run_date=run_date.isoformat(),
            allowed_legal_bases=allowed,
        )
        evaluated = int(summary["statistics"]["evaluated"])
        failed = int(summary["statistics"]["failed"])
        with db.session() as session:
            row = ValidationRun(
                run_at=started,
                partner=partner,
                batch_id=batch_id,
                suite=str(suite["name"]),
                success=bool(result.success),
                evaluated=evaluated,
                failed=failed,
                record_count=len(frame),
                results=summary,
                dag_run_id=dag_run_id,
            )
            session.add(row)
            session.flush()
            outcome = BatchOutcome(
                validation_run_id=row.id,
                partner=partner,
                batch_id=batch_id,
                success=row.success,
                evaluated=evaluated,
                failed=failed,
                record_count=len(frame),
                results=summary,
                changed=batch.reason in _DATA_CHANGED or batch.previous_success != row.success,
            )
        if not outcome.success:
            log.warning(
                "Batch %s of %s failed %d of %d expectations: %s",
                batch_id,
                partner,
                failed,
                evaluated,
                ", ".join(f["id"] for f in summary["failures"]),
            )
        outcomes.append(outcome)
    return outcomes


@dataclass(frozen=True)
class PendingBatch:
    """A partner batch to validate, why, and how its previous run ended (None: never run)."""

    partner: str
    batch_id: str
    reason: str
    previous_success: bool | None


def pending_batches(
    session: Session,
    *,
    suite_version: str,
    rules_version: str,
    revalidate_all: bool = False,
) -> list[PendingBatch]:
    """Batches that need a validation run, in a stable order (see :func:`validate_records`)."""
    received = session.execute(
        select(Record.partner, Record.batch_id, func.max(Record.received_at))
        .group_by(Record.partner, Record.batch_id)
        .order_by(Record.partner, Record.batch_id)
    ).all()
    latest_ids = (
        select(func.max(ValidationRun.id))
        .group_by(ValidationRun.partner, ValidationRun.batch_id)
        .scalar_subquery()
    )
    last_runs = {
        (run.partner, run.batch_id): run
        for run in session.scalars(select(ValidationRun).where(ValidationRun.id.in_(latest_ids)))
    }
    pending: list[PendingBatch] = []
    for partner, batch_id, last_received in received:
        run = last_runs.get((partner, batch_id))
        if run is None:
            reason = "new"
        elif _utc(last_received) > _utc(run.run_at):
            reason = "new_records"
        elif not run.success:
            reason = "failed_before"
        elif run.results.get("suite_version") != suite_version:
            reason = "suite_changed"
        elif run.results.get("sharing_rules_version") != rules_version:
            reason = "sharing_rules_changed"
        elif revalidate_all:
            reason = "revalidate_all"
        else:
            continue
        pending.append(
            PendingBatch(partner, batch_id, reason, None if run is None else run.success)
        )
    return pending


def records_frame(session: Session, partner: str, batch_id: str) -> pd.DataFrame:
    """The batch's records as a DataFrame with :data:`FRAME_COLUMNS` (token counts only)."""
    rows = []
    for record in session.scalars(
        select(Record)
        .where(Record.partner == partner, Record.batch_id == batch_id)
        .order_by(Record.id)
    ):
        row = {column: getattr(record, column) for column in FRAME_COLUMNS[:-2]}
        row["token_count"] = len(record.tokens or {})
        row["filter_count"] = len(record.filters or {})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    for column in _DATE_COLUMNS:
        # GX compares datetime64 columns with timestamps; plain date objects fail its checks.
        frame[column] = pd.to_datetime(frame[column])
    return frame


def allowed_legal_bases(frame: pd.DataFrame, rules: SharingRules) -> list[str]:
    """Legal bases the sharing rules allow for every partner type in ``frame``."""
    partner_types = {str(t) for t in frame["partner_type"].dropna().unique()}
    if not partner_types:
        return []
    allowed = frozenset.intersection(
        *(rules.allowed.get(partner_type, frozenset()) for partner_type in partner_types)
    )
    return sorted(allowed)


def summarise(result: Any) -> dict[str, Any]:
    """A compact, value-free summary of a GX suite result: statistics plus the failures."""
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        detail = item.result or {}
        failure: dict[str, Any] = {
            "id": (config.meta or {}).get("id", config.type),
            "expectation": config.type,
            "columns": _columns(config.kwargs),
            "element_count": detail.get("element_count"),
            "unexpected_count": detail.get("unexpected_count"),
            "unexpected_percent": _rounded(detail.get("unexpected_percent")),
            "sample_partner_record_ids": _sample_ids(detail.get("partial_unexpected_index_list")),
        }
        error = _error_message(item.exception_info)
        if error:
            failure["error"] = error
        failures.append(failure)
    statistics = result.statistics
    return {
        "statistics": {
            "evaluated": int(statistics.get("evaluated_expectations", 0)),
            "failed": int(statistics.get("unsuccessful_expectations", 0)),
            "success_percent": _rounded(statistics.get("success_percent")),
        },
        "failures": failures,
    }


class _SuiteRunner:
    """One ephemeral GX context with the suite loaded, reused for every batch of a run."""

    def __init__(self, suite: dict[str, Any]) -> None:
        # GX logs dozens of INFO lines about its own API registry on import; they bury the
        # per-batch outcomes in the task log.
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                progress_bars=ProgressBarsConfig(globally=False),
                analytics_enabled=False,
            ),
        )
        batch_definition = (
            context.data_sources.add_pandas("riec")
            .add_dataframe_asset("records")
            .add_batch_definition_whole_dataframe("partner_batch")
        )
        gx_suite = context.suites.add(gx.ExpectationSuite(**_suite_arguments(suite)))
        if len(gx_suite.expectations) != len(suite["expectations"]):
            # GX logs and drops expectations it cannot parse; a silently shorter suite would
            # pass batches it should fail.
            raise ValueError("the expectation suite holds expectations GX cannot load")
        self._definition = context.validation_definitions.add(
            gx.ValidationDefinition(name="partner_records", data=batch_definition, suite=gx_suite)
        )

    def run(self, frame: pd.DataFrame, *, run_date: date, allowed_legal_bases: list[str]) -> Any:
        return self._definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters={
                "run_date": pd.Timestamp(run_date),
                "allowed_legal_bases": allowed_legal_bases,
            },
            result_format=_RESULT_FORMAT,
        )


def _suite_arguments(suite: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "expectations", "meta", "notes")
    # Copies: GX mutates what it is given, and the loaded JSON is reused.
    return {key: json.loads(json.dumps(suite[key])) for key in keys if key in suite}


def _columns(kwargs: dict[str, Any]) -> list[str]:
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list", []))


def _sample_ids(index_list: Iterable[Any] | None) -> list[str]:
    ids: list[str] = []
    for entry in index_list or []:
        if isinstance(entry, dict) and entry.get("partner_record_id") is not None:
            value = str(entry["partner_record_id"])
            if value not in ids:
                ids.append(value)
    return ids[:_SAMPLE_SIZE]


def _error_message(exception_info: Any) -> str | None:
    if not isinstance(exception_info, dict):
        return None
    # GX reports either one exception or one per metric that failed to compute.
    infos = (
        exception_info.values() if "raised_exception" not in exception_info else [exception_info]
    )
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message") or "expectation could not be evaluated")[:300]
    return None


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
