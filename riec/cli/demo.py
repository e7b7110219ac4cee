"""``riec demo``: the whole system on embedded defaults, from partner files to hit list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riec.cli.common import acting_person, console


def demo(
    out: Annotated[Path, typer.Option(help="Working directory of the demo.")] = Path("var/demo"),
    subjects: Annotated[int, typer.Option(help="Synthetic subjects to generate.")] = 400,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 7,
    by: Annotated[
        str | None, typer.Option("--by", help="Who is acting. Default: the operating-system user.")
    ] = None,
) -> None:
    """Generate data, push it, match it, run the DAGs and show the hit list."""
    from riec.demo import run_demo

    run_demo(out, subjects=subjects, seed=seed, console=console, actor=acting_person(by))
