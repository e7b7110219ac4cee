"""Re-estimate the linkage model from the landed records, without labels, as candidates."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

DOC_MD = """
### Train linkage model

Estimates the Fellegi-Sunter parameters per entity type from the data itself: u from
randomly sampled record pairs (corrected for the few matches among them), m and the prior
by expectation maximisation in sessions, each over the pairs that agree on one strong field
and so are mostly matches, as in Splink (see `matching/training.py` and `docs/linkage.md`).
Entity types with too little data keep their current model.

Each run stores a new version per entity type in `model_versions` as a **candidate**: it
scores nothing until a person approves it. The task `validate` then computes each
candidate's validation report against the active model (`matching/validation.py`): how
many records would change entity if everything were relinked with it, the largest weight
changes per comparison level, and flags for suspicious estimates (a less similar level
weighing more than a more similar one, an agreement level with negative weight, a prior
that moved more than 10x). Flags never block; they say where to look.

Read the report with `riec model show` and `riec model report ENTITY_TYPE VERSION`; make a
candidate active with `riec model approve ENTITY_TYPE VERSION --by NAME --reason TEXT`
(recorded on the version and in the audit log). The matching service picks it up within a
minute. Leaving a candidate alone changes nothing. Roll back the same way, with an earlier
version.

`activate` (default off) approves the new candidates at the end of the run; it needs
`approved_by` and `reason`, and the run fails before training without them.
"""


def _approval(params: dict[str, Any] | None) -> tuple[bool, str, str]:
    values = params or {}
    return (
        bool(values.get("activate", False)),
        str(values.get("approved_by") or ""),
        str(values.get("reason") or ""),
    )


@dag(
    dag_id="train_linkage_model",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["riec", "linkage"],
    doc_md=DOC_MD,
    params={
        "activate": Param(
            False,
            type="boolean",
            description="Approve and activate the new versions (needs approved_by and reason).",
        ),
        "approved_by": Param("", type="string", description="Who approves, with activate."),
        "reason": Param("", type="string", description="Why, with activate."),
    },
)
def train_linkage_model() -> None:
    @task
    def train(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        from core.settings import RiecSettings, load_settings
        from matching.params_store import Approval
        from matching.training import train_all
        from storage import connect

        activate, by, reason = _approval(params)
        if activate:
            Approval.required(by, reason)  # refuse before hours of training, not after
        db = connect(load_settings(RiecSettings).resolved_database_url)
        try:
            reports = train_all(db)
        finally:
            db.dispose()
        return [report.to_dict() for report in reports]

    @task
    def validate(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from core.settings import RiecSettings, load_settings
        from matching.validation import validate_candidates
        from storage import connect

        trained = [(r["entity_type"], r["version"]) for r in reports if not r.get("skipped")]
        db = connect(load_settings(RiecSettings).resolved_database_url)
        try:
            validated = validate_candidates(db, trained)
        finally:
            db.dispose()
        return [
            {"entity_type": t, "version": v, "against": r["against"], **r["headline"]}
            for (t, v), r in validated.items()
        ]

    @task
    def activate(
        validated: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> list[str]:
        from core.settings import RiecSettings, load_settings
        from matching.params_store import Approval, approve_version
        from storage import connect

        wanted, by, reason = _approval(params)
        if not wanted:
            return []
        approval = Approval.required(by, reason)
        db = connect(load_settings(RiecSettings).resolved_database_url)
        try:
            for row in validated:
                approve_version(db, row["entity_type"], row["version"], approval)
        finally:
            db.dispose()
        return [f"{row['entity_type']} {row['version']}" for row in validated]

    activate(validate(train()))


train_linkage_model()
