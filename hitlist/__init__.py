"""Ranked hit lists for RIEC analysts: criteria, selection and ranking, rendering, publishing."""

from hitlist.build import (
    BuiltHitList,
    ContributingRecord,
    FieldContribution,
    HitListRow,
    build_hit_list,
    score,
)
from hitlist.criteria import Criteria, CriteriaError, RankingWeights, load_criteria
from hitlist.publish import PublishedHitList, publish_hit_list
from hitlist.render import render_csv, render_html, suppress_small

__all__ = [
    "BuiltHitList",
    "ContributingRecord",
    "Criteria",
    "CriteriaError",
    "FieldContribution",
    "HitListRow",
    "PublishedHitList",
    "RankingWeights",
    "build_hit_list",
    "load_criteria",
    "publish_hit_list",
    "render_csv",
    "render_html",
    "score",
    "suppress_small",
]
