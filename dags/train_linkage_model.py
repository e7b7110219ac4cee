"""Re-estimate the linkage model from the landed records, without labels, as candidates."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

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
many records would change entity if everything were relinked with it, what it would change
for its entity type (links, entities and hit-list subjects gained and lost), the largest
weight changes per comparison level, flags for suspicious estimates, and the approval
gate's verdict: a candidate that loses more than a set share of its type's links or hits,
or whose levels are out of order, is blocked.

This DAG never activates anything. Read the report with `riec model show` and
`riec model report ENTITY_TYPE VERSION`; make a candidate active with
`riec model approve ENTITY_TYPE VERSION --by NAME --reason TEXT` (recorded on the version and
in the audit log; a blocked candidate also needs `--override-gate REASON`). The matching
service picks it up within a minute. Leaving a candidate alone changes nothing. Roll back
the same way, with an earlier version.
"""

#: How the audit trail names this DAG (the person who approves is named by the approval).
ACTOR = "dag:train_linkage_model"


@dag(
    dag_id="train_linkage_model",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["riec", "linkage"],
    doc_md=DOC_MD,
)
def train_linkage_model() -> None:
    @task
    def train() -> list[dict[str, Any]]:
        from core.settings import RiecSettings, load_settings
        from matching.training import train_all
        from storage import connect

        db = connect(load_settings(RiecSettings).resolved_database_url)
        try:
            reports = train_all(db, actor=ACTOR)
        finally:
            db.dispose()
        return [report.to_dict() for report in reports]

    @task
    def validate(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from core.settings import RiecSettings, load_settings
        from matching.gate import GatePolicy
        from matching.validation import validate_candidates
        from storage import connect

        trained = [(r["entity_type"], r["version"]) for r in reports if not r.get("skipped")]
        settings = load_settings(RiecSettings)
        policy = GatePolicy(
            max_lost_links=settings.gate_max_lost_links, max_lost_hits=settings.gate_max_lost_hits
        )
        db = connect(settings.resolved_database_url)
        try:
            validated = validate_candidates(db, trained, actor=ACTOR, policy=policy)
        finally:
            db.dispose()
        return [
            {
                "entity_type": t,
                "version": v,
                "against": r["against"],
                **r["headline"],
                "gate": r["gate"]["reasons"],
            }
            for (t, v), r in validated.items()
        ]

    validate(train())


train_linkage_model()
