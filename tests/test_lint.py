"""The code base stays clean: ruff (lint and format) and mypy over every package,
benchmarks and tools included, with the settings in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["protocol", "sync_server", "data", "admin_app", "bench", "tools", "tests"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_ruff_check_is_clean() -> None:
    result = run("ruff", "check", "--output-format", "concise", *PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_ruff_format_is_clean() -> None:
    result = run("ruff", "format", "--check", *PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    # The packages come from [tool.mypy] in pyproject.toml.
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
