"""What every process started through the Makefile inherits (make run, make test, CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def make_env(environ: dict[str, str]) -> dict[str, str]:
    """The environment a Makefile recipe sees, started from ``environ``."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO), "--eval", "show-env:\n\t@env", "show-env"],
        capture_output=True, text=True, env=environ, check=True,
    )  # fmt: skip
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def test_jobs_get_a_bytecode_cache_even_where_the_environment_forbids_writing_one():
    """pip installs the venv --no-compile; without a place to write .pyc files every job would
    compile torch, transformers and snakemake from source again (4-15 s per job)."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
    env = make_env({**base, "PYTHONDONTWRITEBYTECODE": "1"})
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PYTHONPYCACHEPREFIX"] == str(REPO / ".venv" / "pycache")


def test_a_bytecode_cache_location_of_the_user_wins():
    env = make_env({**os.environ, "PYTHONPYCACHEPREFIX": "/somewhere/else"})
    assert env["PYTHONPYCACHEPREFIX"] == "/somewhere/else"


def run_recipe(*args: str) -> list[str]:
    """The commands ``make run`` would run (make -n; the venv's stamp taken as up to date)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(REPO), "-o",
                           ".venv/.installed", "run", *args],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return [line for line in proc.stdout.splitlines() if "snakemake" in line]


def test_make_run_runs_its_jobs_prewarmed_unless_told_not_to():
    (default,) = run_recipe()
    assert default.startswith(".venv/bin/phrenology prewarm -- .venv/bin/snakemake --cores")
    (plain,) = run_recipe("PREWARM=0")
    assert plain.startswith(".venv/bin/snakemake --cores")
