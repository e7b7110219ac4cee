"""The import layers hold: `lint-imports` (import-linter) over the contracts in pyproject.toml.

The partner toolkit is installed alone at partners, so a partner module that imports the
RIEC side is a broken installation there, not a style issue.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("core", "contract", "partner", "storage", "matching", "consumers", "hitlist")
PACKAGES += ("expectations", "synthetic", "workspace", "riec")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_layers_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _copy_of_the_project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return copy


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("partner/push.py", "import storage", "partner toolkit imports nothing"),
        ("partner/encode.py", "from riec.cli import app", "partner toolkit imports nothing"),
        ("contract/envelope.py", "import sqlalchemy", "partner toolkit imports nothing"),
        ("riec/cli/partner.py", "from matching import linker", "partner commands need only"),
        ("storage/models.py", "import matching.linker", "nothing imports upward"),
        ("matching/linker.py", "from partner import encode", "never runs the partner"),
    ],
)
def test_a_forbidden_import_breaks_the_contracts(
    tmp_path: Path, module: str, statement: str, contract: str
) -> None:
    copy = _copy_of_the_project(tmp_path)
    target = copy / module
    # Inside a function, as the commands import: the contracts count those too.
    target.write_text(
        target.read_text(encoding="utf-8") + f"\n\ndef _planted() -> None:\n    {statement}\n",
        encoding="utf-8",
    )
    result = lint_imports(copy)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout


def test_dag_files_import_the_riec_side_only_inside_their_tasks() -> None:
    # DAG files are parsed every few seconds by the dag-processor: at their top level they
    # import Airflow, the standard library and the asset names (`expectations/__init__.py`,
    # which loads nothing); project code is imported by the tasks.
    allowed = {"__future__", "airflow", "pendulum", "datetime", "typing", "zoneinfo", "pathlib"}
    allowed |= {"expectations"}
    for path in sorted((ROOT / "dags").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {node.module.split(".")[0]}
            else:
                continue
            assert names <= allowed, f"{path.name} imports {names - allowed} at its top level"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in {"riec", "partner"}, path.name
