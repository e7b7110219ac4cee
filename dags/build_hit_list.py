"""Build the ranked hit list after each validation that changed something, and daily."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pendulum
from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    dag,
    get_current_context,
    task,
)

from expectations import RECORDS_VALIDATED_URI

RECORDS_VALIDATED = Asset(RECORDS_VALIDATED_URI)

DOC_MD = """
### Build hit list

Scheduled on the asset `riec://records/validated`, which `validate_partner_records` emits
when a batch's data or validation outcome changed, and in any case daily at 05:00
Europe/Amsterdam, so records whose retention or signal window ran out leave the list even when
no new data arrives. Trigger it by hand after changing the criteria.

Selects the entities on which at least `min_partners` partners have signals, under the
versioned criteria in `RIEC_HITLIST_CRITERIA` (default `hitlist/criteria.toml`), ranks
them, and writes `hitlist-<timestamp>.csv` and `.html` (plus `latest.*`) to the hit-list
directory, a `hit_lists` row and a `hitlist.created` audit event.

Build and publish are one task on purpose: the hit-list content never passes through XCom,
so it does not end up in Airflow's metadata database. The task returns only ids and paths.

See `docs/hit-lists.md`.
"""


@dag(
    dag_id="build_hit_list",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 5 * * *", timezone="Europe/Amsterdam"),
        assets=[RECORDS_VALIDATED],
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["riec", "hit-list"],
    doc_md=DOC_MD,
)
def build_hit_list() -> None:
    @task
    def build_and_publish() -> dict[str, Any]:
        """Build, render and store one hit list; return where it went."""
        # Imported here, not at the top: DAG files are parsed often and these load slowly.
        from core.settings import RiecSettings, load_settings
        from hitlist import build_hit_list, load_criteria, publish_hit_list
        from storage import connect

        context = get_current_context()
        settings = load_settings(RiecSettings)
        criteria = load_criteria(settings.hitlist_criteria)
        # Partners date their signals in Dutch local time; a UTC date would be a day behind
        # around midnight and make today's signals look like they lie in the future.
        today = context["dag_run"].run_after.astimezone(ZoneInfo("Europe/Amsterdam")).date()
        db = connect(settings.resolved_database_url)
        try:
            with db.session() as session:
                built = build_hit_list(session, criteria, today=today)
            published = publish_hit_list(
                db,
                built,
                out_dir=settings.resolved_hitlist_dir,
                actor="dag:build_hit_list",
                dag_run_id=context["run_id"],
            )
        finally:
            db.dispose()
        return published.to_dict()

    build_and_publish()


build_hit_list()
