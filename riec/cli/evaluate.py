"""``riec evaluate``: linkage quality of exported entities against a ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from core.errors import InputFileError
from core.files import write_private_text
from riec.cli.common import console, out


def evaluate(
    entities: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="CSV from `riec entities export`.")
    ],
    truth: Annotated[
        Path,
        typer.Option(
            exists=True, dir_okay=False, help="Ground truth: partner, record id, true entity id."
        ),
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the metrics as JSON here.")
    ] = None,
    record_id_column: Annotated[
        str | None, typer.Option(help="Truth column with the record id. Default: record_id.")
    ] = None,
    entity_column: Annotated[
        str | None,
        typer.Option(help="Truth column with the true entity id. Default: true_entity_id."),
    ] = None,
    by_type: Annotated[bool, typer.Option(help="Also score each entity type apart.")] = False,
) -> None:
    """Score exported entities against a ground truth (pairwise, B-cubed, clusters)."""
    from matching.evaluation import evaluate, evaluate_by_type, read_entities, read_truth

    try:
        predicted = read_entities(entities)
        expected = read_truth(truth, record_id_column=record_id_column, entity_column=entity_column)
    except (ValueError, KeyError) as exc:
        raise InputFileError(str(exc)) from None
    metrics = evaluate(predicted, expected)
    out.print(metrics.render())
    result: dict[str, object] = {"overall": metrics.to_dict()}
    if by_type:
        per_type = evaluate_by_type(predicted, expected)
        for entity_type, type_metrics in per_type.items():
            out.print(type_metrics.render(title=f"Linkage quality: {entity_type}"))
        result["by_entity_type"] = {t: m.to_dict() for t, m in per_type.items()}
    if json_out is not None:
        write_private_text(json_out, json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {json_out}", markup=False)
