"""Validating a model version before anyone approves it.

A report says, against the model active at the time:

* **what it would change**: every stored record linked again in bulk with the candidate
  (:func:`matching.relink.relink_all`, nothing applied), compared with the current
  entities: pairwise agreement and the number of records whose entity would change. The
  same relink with the active model is the baseline: streaming and a batch relink can
  differ a little even under one model, and that part is not the candidate's doing;
* **how its weights moved**: old and new weight (log2 m/u, in bits) of every comparison
  level, largest change first, and the prior;
* **what looks suspicious**: flags for what the candidate brings in: a less similar level
  weighing more than a more similar one, an agreement level counting against a match (or
  a disagreement for one), a prior that moved more than tenfold. An estimate can be odd
  and right (the data may really say so), so a person decides; the flags say where to
  look;
* **what it would change for its entity type** (:mod:`matching.gate`): links, entities and
  hit-list subjects gained and lost against the relink with the active model, and the
  gate's verdict. A candidate that loses more than a set share of its type's links or
  hits, or whose levels are out of order, is blocked: it can be approved only with an
  override and its reason.

Relinking covers every entity type at once (types never link to each other); the other
types keep their active model, so what differs from the baseline is the candidate's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from matching.comparisons import COMPARISONS, graded_levels
from matching.gate import GatePolicy, type_impact, verdict
from matching.linker import Linker
from matching.model import ModelParams
from matching.params_store import (
    UnknownModelVersion,
    active_params,
    get_version,
    load_params,
    store_validation,
)
from matching.relink import RelinkReport, relink_all
from storage import Database

#: A prior that moved by more than this factor (either way) is flagged.
PRIOR_RATIO_FLAG = 10.0
#: Weights closer than this (in bits) to what a check expects are not flagged: EM
#: estimates of rare levels are noisy, and a few hundredths of a bit change no link.
TOLERANCE_BITS = 0.1

#: Keys of a relink report kept in a validation report (timings and ``applied`` are not).
_RELINK_KEYS = ("records", "candidate_pairs", "links", "entities", "changed_records", "agreement")


@dataclass(frozen=True)
class Flag:
    """One suspicious estimate: which check, where, and in words."""

    check: str  # level_order | agreement_negative | disagreement_positive | prior_moved
    comparison: str | None
    level: str | None
    message: str


def weight_changes(old: ModelParams, new: ModelParams) -> list[dict[str, Any]]:
    """Old and new weight of every comparison level, the largest change (in bits) first."""
    rows = []
    for comparison in COMPARISONS[new.entity_type]:
        before, after = old.comparisons[comparison.name], new.comparisons[comparison.name]
        for level, label in enumerate(comparison.labels):
            old_weight, new_weight = before.weight(level), after.weight(level)
            rows.append(
                {
                    "comparison": comparison.name,
                    "level": label,
                    "old": round(old_weight, 3),
                    "new": round(new_weight, 3),
                    "change": round(new_weight - old_weight, 3),
                }
            )
    rows.sort(key=lambda row: (-abs(row["change"]), row["comparison"], row["level"]))
    return rows


def prior_change(old: ModelParams, new: ModelParams) -> dict[str, float]:
    return {
        "old": old.prior,
        "new": new.prior,
        "ratio": new.prior / old.prior,
        "old_weight": round(_log_odds(old.prior), 3),
        "new_weight": round(_log_odds(new.prior), 3),
    }


def sanity_flags(old: ModelParams, new: ModelParams) -> list[Flag]:
    """Estimates of ``new`` that deserve a second look before ``old`` is replaced by it.

    Only what ``new`` brings in is flagged: an oddity the replaced model has as well was
    accepted with it, or is by design (the defaults give a surname at Dice 0.5, a typo in a
    short name, more weight than one at 0.6, which many unrelated names reach), and a flag
    raised every week teaches people to skip flags.
    """
    known = {(f.check, f.comparison, f.level) for f in model_flags(old)}
    flags = [f for f in model_flags(new) if (f.check, f.comparison, f.level) not in known]
    ratio = new.prior / old.prior
    if ratio > PRIOR_RATIO_FLAG or ratio < 1 / PRIOR_RATIO_FLAG:
        flags.append(
            Flag(
                "prior_moved",
                None,
                None,
                f"the prior moved {ratio:.3g}x, from {old.prior:.3g} to {new.prior:.3g}",
            )
        )
    return flags


def model_flags(params: ModelParams) -> list[Flag]:
    """Weights of one model that go against the meaning of their levels."""
    flags: list[Flag] = []
    for comparison in COMPARISONS[params.entity_type]:
        probabilities = params.comparisons[comparison.name]
        labels = comparison.labels
        weights = [probabilities.weight(level) for level in range(len(labels))]
        for more, less in pairwise(graded_levels(comparison)):
            if weights[less] > weights[more] + TOLERANCE_BITS:
                flags.append(
                    Flag(
                        "level_order",
                        comparison.name,
                        labels[less],
                        f"{comparison.name} '{labels[less]}' weighs {weights[less]:+.2f} bits, "
                        f"more than the more similar '{labels[more]}' ({weights[more]:+.2f})",
                    )
                )
        if weights[0] < -TOLERANCE_BITS:
            flags.append(
                Flag(
                    "agreement_negative",
                    comparison.name,
                    labels[0],
                    f"{comparison.name} '{labels[0]}' counts against a match "
                    f"({weights[0]:+.2f} bits)",
                )
            )
        if weights[-1] > TOLERANCE_BITS:
            flags.append(
                Flag(
                    "disagreement_positive",
                    comparison.name,
                    labels[-1],
                    f"{comparison.name} '{labels[-1]}' counts for a match "
                    f"({weights[-1]:+.2f} bits)",
                )
            )
    return flags


def validate_candidates(
    db: Database,
    versions: Sequence[tuple[str, str]],
    *,
    actor: str,
    relink: bool = True,
    policy: GatePolicy | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Validate stored versions ``(entity type, version)`` and store each report with it.

    The baseline relink with the active model runs once for all of them. ``policy`` says
    when the gate blocks (default :class:`~matching.gate.GatePolicy`); without ``relink``
    the gate cannot tell what a candidate would change, and blocks it. ``actor`` (the
    person, or the DAG) is recorded with each report in the audit trail.
    """
    policy = policy or GatePolicy()
    candidates: dict[tuple[str, str], ModelParams] = {}
    for entity_type, version in versions:
        row = get_version(db, entity_type, version)
        if row is None:
            raise UnknownModelVersion(f"no stored {entity_type} model version {version!r}")
        with db.session() as session:
            candidates[(entity_type, version)] = load_params(session, row)
    if not candidates:
        return {}
    active = active_params(db)
    baseline = relink_all(db, Linker(params=active), keep_outcome=True) if relink else None
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    for (entity_type, version), candidate in candidates.items():
        summary = impact = None
        if baseline is not None and baseline.outcome is not None:
            with_candidate = relink_all(
                db, Linker(params={**active, entity_type: candidate}), keep_outcome=True
            )
            assert with_candidate.outcome is not None
            summary = {
                "candidate": _relink_summary(with_candidate),
                "active": _relink_summary(baseline),
            }
            impact = type_impact(
                entity_type,
                baseline.outcome,
                with_candidate.outcome,
                min_partners=policy.min_partners,
            )
        report = build_report(active[entity_type], candidate, summary, impact=impact, policy=policy)
        store_validation(db, entity_type, version, report, actor=actor)
        reports[(entity_type, version)] = report
    return reports


def validate_version(
    db: Database,
    entity_type: str,
    version: str,
    *,
    actor: str,
    relink: bool = True,
    policy: GatePolicy | None = None,
) -> dict[str, Any]:
    """Validate one stored version against the active model; the report is stored too."""
    reports = validate_candidates(
        db, [(entity_type, version)], actor=actor, relink=relink, policy=policy
    )
    return reports[(entity_type, version)]


def build_report(
    active: ModelParams,
    candidate: ModelParams,
    relink: dict[str, Any] | None,
    *,
    impact: dict[str, Any] | None = None,
    policy: GatePolicy | None = None,
) -> dict[str, Any]:
    """The validation report of ``candidate`` against ``active`` (JSON-ready).

    ``impact`` is what a relink with the candidate changes for its type
    (:func:`matching.gate.type_impact`); the gate's verdict follows from it and the flags.
    """
    changes = weight_changes(active, candidate)
    flags = sanity_flags(active, candidate)
    prior = prior_change(active, candidate)
    gate = verdict(
        impact, [f.message for f in flags if f.check == "level_order"], policy or GatePolicy()
    )
    with_candidate = (relink or {}).get("candidate") or {}
    baseline = (relink or {}).get("active") or {}
    return {
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "against": active.version,
        "headline": {
            "changed_records": with_candidate.get("changed_records"),
            "changed_records_active_model": baseline.get("changed_records"),
            "pairwise_f1": (with_candidate.get("agreement") or {}).get("pairwise_f1"),
            "flags": len(flags),
            "largest_weight_change": changes[0]["change"] if changes else 0.0,
            "prior_ratio": prior["ratio"],
            "blocked": gate["blocked"],
        },
        "relink": relink,
        "impact": impact,
        "gate": gate,
        "prior": prior,
        "weight_changes": changes,
        "flags": [asdict(flag) for flag in flags],
    }


def headline_text(report: dict[str, Any] | None) -> str:
    """One line for listings: what would change, and how many flags."""
    if not report:
        return "not validated"
    head = report.get("headline", {})
    parts = []
    changed = head.get("changed_records")
    if changed is None:
        parts.append("relink not run")
    else:
        baseline = head.get("changed_records_active_model")
        parts.append(
            f"{changed} records change entity"
            + (f" ({baseline} with {report.get('against')})" if baseline is not None else "")
        )
    flags = int(head.get("flags", 0))
    parts.append(f"{flags} flag{'s' if flags != 1 else ''}" if flags else "no flags")
    if "blocked" in head:
        parts.append("blocked by the gate" if head["blocked"] else "passes the gate")
    return "; ".join(parts)


def _relink_summary(report: RelinkReport) -> dict[str, Any]:
    data = report.to_dict()
    summary = {key: data[key] for key in _RELINK_KEYS}
    summary["agreement"] = {k: float(v) for k, v in summary["agreement"].items()}
    summary["seconds"] = round(float(data["seconds"].get("total", 0.0)), 2)
    return summary


def _log_odds(prior: float) -> float:
    return math.log2(prior / (1 - prior))
