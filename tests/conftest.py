"""Shared fixtures: offline data location, configs, and one run of the quick DAG per session."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# the suite on several CPUs (pytest-xdist): each shared run made once for all workers
pytest_plugins = ["xdist_groups", "pytester"]
pytest.register_assert_rewrite("xdist_groups")  # imported here, before pytest loads the plugin
from xdist_groups import made_once  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# The standard loaders find the offline copies through these variables (see README).
if (SHARED_DATA / "nltk_data").is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED_DATA / "nltk_data"))
if (SHARED_DATA / "tiktoken_cache").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED_DATA / "tiktoken_cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# What every Snakemake job sets for MKL (see phrenology.pipeline.jobs), for the tests that
# compute in this process or in drivers they start: reproducible bits on Intel and AMD CPUs.
from phrenology.pipeline.jobs import use_reproducible_blas  # noqa: E402

use_reproducible_blas()
# The suite runs DAGs and tests side by side on few CPUs. OpenMP's default is to spin while a
# thread waits, which on a busy machine burns the CPU the other process needs (measured here:
# a 2-thread torch loop with one busy neighbour ran 2.4x as long as alone, 1.2x with PASSIVE).
# Waiting changes no result; alone, passive waiting costs about 5 %.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def dag_timeout() -> float:
    """Seconds a whole quick DAG may take before a test gives up on it.

    A safety net against a hung run, not a benchmark: the quick DAG takes 1–5 minutes on two
    idle cores. Sized from the machine: 30 minutes, times how oversubscribed its CPUs are now
    (load average per core, at least 1); PHRENOLOGY_DAG_TIMEOUT (seconds) overrides it."""
    if os.environ.get("PHRENOLOGY_DAG_TIMEOUT"):
        return float(os.environ["PHRENOLOGY_DAG_TIMEOUT"])
    cores = os.cpu_count() or 1
    return 1800.0 * max(1.0, os.getloadavg()[0] / cores)


def timed_out(what: str, e: subprocess.TimeoutExpired) -> str:
    """One clear line (and the end of the output) for a run that ran out of time."""
    out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    return (
        f"{what} did not finish within {e.timeout:.0f} s on this machine "
        f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}); a slow or busy "
        f"machine: set PHRENOLOGY_DAG_TIMEOUT=<seconds> to allow more.\n"
        f"{out[-2000:]}\n{err[-3000:]}"
    )


def load_yaml(path: Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def paper_config() -> dict:
    return load_yaml(REPO / "config" / "config.yaml")


@pytest.fixture
def quick_config() -> dict:
    return load_yaml(REPO / "config" / "quick.yaml")


def snakemake_cmd(workdir: Path, *args: str, configfile: Path | None = None,
                  prewarm: bool = False) -> list[str]:  # fmt: skip
    """A Snakemake command line for this repo's Snakefile, outputs under ``workdir``; with
    ``prewarm``, its jobs in prewarmed processes (``phrenology prewarm``, as ``make run``)."""
    return [
        *([sys.executable, "-m", "phrenology", "prewarm", "--"] if prewarm else []),
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(configfile or REPO / "config" / "quick.yaml"),
        *args,
    ]  # fmt: skip


def run_snakemake(workdir: Path, *args: str, configfile: Path | None = None,
                  timeout: float | None = None, check: bool = True,
                  prewarm: bool = False) -> subprocess.CompletedProcess:  # fmt: skip
    try:
        proc = subprocess.run(
            snakemake_cmd(workdir, *args, configfile=configfile, prewarm=prewarm),
            capture_output=True, text=True, timeout=timeout or dag_timeout(), cwd=workdir,
        )  # fmt: skip
    except subprocess.TimeoutExpired as e:
        raise AssertionError(timed_out(f"snakemake {' '.join(args)}", e)) from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def config_override(tmp_path, quick_config):
    """Write a modified copy of the quick config: ``config_override({"model": {"n_heads": 0}})``."""

    def make(changes: dict, base: dict | None = None) -> Path:
        cfg = copy.deepcopy(base or quick_config)

        def merge(dst, src):
            for k, v in src.items():
                if isinstance(v, dict) and isinstance(dst.get(k), dict):
                    merge(dst[k], v)
                else:
                    dst[k] = v

        merge(cfg, changes)
        return write_config(tmp_path / "override.yaml", cfg)

    return make


@pytest.fixture(scope="session")
def quick_dag(tmp_path_factory) -> Path:
    """Run the whole quick DAG once per test run (once for all xdist workers), into a temporary
    working directory; return that directory. Read it, never change it: copy it first.

    Set PHRENOLOGY_QUICK_RESULTS to a directory that already holds a finished run
    to reuse it while developing (its results/ is copied, never modified).
    """

    def make(workdir: Path) -> None:
        reuse = os.environ.get("PHRENOLOGY_QUICK_RESULTS")
        if reuse:
            shutil.copytree(Path(reuse) / "results", workdir / "results")
        try:
            # as `make run` does; tests/workflow/test_determinism.py reruns jobs without it
            run_snakemake(workdir, "--cores", "2", prewarm=True)
        except AssertionError as e:
            # pytest keeps a session fixture's failure: every test that needs this run fails
            # with this one message, and the DAG is not run again for each of them
            pytest.fail(f"the session's quick DAG run failed, so the tests that read it cannot "
                        f"run:\n{e}", pytrace=False)  # fmt: skip

    return made_once(tmp_path_factory, "quick_dag", make)


# ---- provenance: a three-step toy workflow (tests/data/toy_workflow) run once per session

TOY_WORKFLOW = REPO / "tests" / "data" / "toy_workflow"


def run_toy_workflow(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the toy workflow in ``workdir`` with this checkout's package on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p)}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config.yaml", *args],
        cwd=workdir, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"toy workflow failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def toy_workflow_run(tmp_path_factory) -> Path:
    def make(root: Path) -> None:
        shutil.copytree(TOY_WORKFLOW, root / "toy")
        run_toy_workflow(root / "toy")

    return made_once(tmp_path_factory, "toy", make) / "toy"


@pytest.fixture
def toy_workflow(toy_workflow_run, tmp_path) -> Path:
    """A private copy of a finished toy-workflow run (Snakefile, config, results, records)."""
    workdir = tmp_path / "toy"
    shutil.copytree(toy_workflow_run, workdir, symlinks=True)
    return workdir


# ---- a git repository with this checkout's files and a finished quick run (DVC, report)


def checkout_files() -> list[str]:
    """This checkout's files as git sees them: tracked, plus untracked ones not ignored."""
    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip("not a git checkout: cannot copy the project")
    return [f for f in proc.stdout.split("\0") if f and (REPO / f).is_file()]


def project_env(project: Path) -> dict[str, str]:
    """Environment for commands run inside a project copy: its own package first, and this
    Python's bin/ first on PATH (DVC stages call `snakemake`)."""
    return {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def run_in(project: Path, *args: str, check: bool = True, timeout: float | None = None):
    """Run a command in ``project`` (``python`` means this interpreter)."""
    cmd = [sys.executable if a == "python" else a for a in args]
    try:
        proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True,
                              timeout=timeout or dag_timeout(), env=project_env(project))  # fmt: skip
    except subprocess.TimeoutExpired as e:
        raise AssertionError(timed_out(" ".join(args), e)) from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


GIT_ID = ["-c", "user.name=phrenology-tests", "-c", "user.email=tests@example.org"]


@pytest.fixture(scope="session")
def quick_project(tmp_path_factory, request) -> Path:
    """A git repository with this checkout's files and a finished quick run, as after the
    Snakemake part of `make run`: every product present and up to date for Snakemake.

    The results come from PHRENOLOGY_QUICK_RESULTS when set (stamped in DAG order with
    `snakemake --touch`, because this checkout's scripts are newer than them; then the
    jobs they lack run), else from the quick_dag fixture. Copy it before changing it.
    """
    project = tmp_path_factory.mktemp("quick_project") / "project"
    project.mkdir()
    for f in checkout_files():
        (project / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, project / f)
    run_in(project, "git", "init", "-q")
    run_in(project, "git", "add", "-A")
    run_in(project, "git", *GIT_ID, "commit", "-qm", "the project")
    reuse = os.environ.get("PHRENOLOGY_QUICK_RESULTS")
    source = Path(reuse) if reuse else request.getfixturevalue("quick_dag")
    shutil.copytree(source / "results", project / "results", symlinks=True)
    smk = ["python", "-m", "snakemake", "--configfile", "config/quick.yaml"]
    try:
        run_in(project, *smk, "--touch", "--cores", "1", "--quiet")
        run_in(project, *smk, "--cores", "2")
    except AssertionError as e:
        pytest.fail(f"the session's quick project could not be made up to date:\n{e}",
                    pytrace=False)  # fmt: skip
    return project
