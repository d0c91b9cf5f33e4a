"""The project's own checks run with the suite: ruff (lint, format), mypy, import-linter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECKS = {
    "ruff-lint": [sys.executable, "-m", "ruff", "check", "."],
    "ruff-format": [sys.executable, "-m", "ruff", "format", "--check", "."],
    "mypy": [sys.executable, "-m", "mypy"],
    "import-linter": ["lint-imports"],
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(CHECKS), ids=sorted(CHECKS))
def test_check_passes(name: str) -> None:
    cmd = CHECKS[name]
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
        pytest.fail(f"{cmd[0]} is not installed: pip install -e '.[test]'")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    command = ci[-1]
    assert command == "pip install -e '.[test]' && python -m pytest -q"
    assert f"```\n{command}\n```" in readme
    assert (
        "```\npip install -e . && sluice submit examples/workflows/dag-diamond.yaml --watch\n```"
        in readme
    )
