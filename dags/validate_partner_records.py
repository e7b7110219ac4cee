"""Hourly data-quality validation of landed partner records (Great Expectations)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from expectations import RECORDS_VALIDATED_URI

RECORDS_VALIDATED = Asset(RECORDS_VALIDATED_URI)

DOC_MD = """
### Validate partner records

Runs the expectation suite `expectations/partner_records.json` over the `records` table, once
per **partner and batch**, and stores one row per batch in `validation_runs` (success, counts,
and a compact summary of the failed expectations with sample partner record ids).

Only batches that need it are validated: new or changed batches, batches that failed last time,
and batches last validated under another suite or sharing-rules version. Trigger with
`{"revalidate_all": true}` to validate everything.

A failing batch does **not** fail this DAG: the outcome is data, stored per batch, and the
hit-list builder leaves records of failed batches out. When a batch's records or its outcome
changed, the task emits the asset `riec://records/validated`, which schedules
`build_hit_list`. When nothing changed (no batch validated, or only failed batches that failed
again) the task is skipped, so no asset event is emitted and no identical hit list is built.

See `docs/data-quality.md`.
"""


@dag(
    dag_id="validate_partner_records",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["riec", "data-quality", "great-expectations"],
    doc_md=DOC_MD,
    params={
        "revalidate_all": Param(
            False, type="boolean", description="Validate every batch, not only pending ones."
        )
    },
)
def validate_partner_records() -> None:
    @task(outlets=[RECORDS_VALIDATED])
    def validate_pending_batches() -> list[dict[str, Any]]:
        """Validate pending batches; return per-batch outcomes (no record contents)."""
        # Imported here, not at the top: DAG files are parsed often and pandas/GX load slowly.
        from core.settings import RiecSettings, load_settings
        from expectations.validate import validate_records
        from storage import connect

        context = get_current_context()
        # Partners date their signals in Dutch local time; a UTC date would be a day behind
        # around midnight and make today's signals look like they lie in the future.
        run_date = context["dag_run"].run_after.astimezone(ZoneInfo("Europe/Amsterdam")).date()
        db = connect(load_settings(RiecSettings).resolved_database_url)
        try:
            outcomes = validate_records(
                db,
                run_date=run_date,
                dag_run_id=context["run_id"],
                revalidate_all=bool(context["params"].get("revalidate_all", False)),
            )
        finally:
            db.dispose()
        failed = [f"{o.partner}/{o.batch_id}" for o in outcomes if not o.success]
        if not any(outcome.changed for outcome in outcomes):
            # Skipping is what keeps the asset event, and so a new hit list, from happening.
            raise AirflowSkipException(
                f"{len(outcomes)} batches validated, none changed; still failing: {failed}"
            )
        context["outlet_events"][RECORDS_VALIDATED].extra = {
            "batches": len(outcomes),
            "failed_batches": len(failed),
        }
        return [
            {
                "partner": outcome.partner,
                "batch_id": outcome.batch_id,
                "success": outcome.success,
                "failed": outcome.failed,
                "record_count": outcome.record_count,
                "validation_run_id": outcome.validation_run_id,
            }
            for outcome in outcomes
        ]

    validate_pending_batches()


validate_partner_records()
