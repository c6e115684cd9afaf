"""`snakemake --profile slurm`: the profile, what jobs need on compute nodes, and a real Slurm.

The first tests are static (no Slurm). The `slurm`-marked ones start a one-node Slurm on
localhost with .ci/slurm.sh (slurmctld, slurmd, slurmdbd + MariaDB so that sacct works, fake
GPUs), run the quick configuration through the profile exactly as a user types it from the
repository root, and check every job against Slurm's accounting. They are skipped, with the
reason, where Slurm cannot start (not root, packages not installable, a foreign Slurm running),
and always stop what they started.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from workflow_info import HEAVY_MODULES, REPO, job_rules, parse_workflow, quick_workflow

PROFILE = REPO / "slurm" / "profile.yaml"
SLURM_SH = REPO / ".ci" / "slurm.sh"
# Seconds a whole `snakemake --profile slurm` run of the quick DAG may take before it is killed.
RUN_TIMEOUT = int(os.environ.get("PHRENOLOGY_SLURM_TIMEOUT", "1200"))


def load_profile() -> dict:
    return yaml.safe_load(PROFILE.read_text())


# --- the profile ---------------------------------------------------------------------------------


def test_profile_name_resolves_from_the_repo_root():
    """`--profile slurm` typed in the repository root finds slurm/profile.yaml (Snakemake's own lookup)."""
    code = "from snakemake.cli import get_profile_dir; print(get_profile_dir('slurm')[1])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert (REPO / out).resolve() == PROFILE


def test_profile_dry_run_from_the_repo_root(tmp_path):
    proc = subprocess.run(
        [
            sys.executable, "-m", "snakemake", "--profile", "slurm", "-n",
            "--configfile", "config/quick.yaml", "--directory", str(tmp_path),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Using profile slurm" in proc.stdout + proc.stderr


def test_profile_settings():
    p = load_profile()
    assert p["executor"] == "slurm"
    assert p["jobs"] >= 1 and p["retries"] >= 1 and p["latency-wait"] >= 5
    assert p["slurm-logdir"] == "logs/slurm"
    # squeue: status polling that does not hang where sacct exists but accounting is off
    assert p["slurm-status-command"] == "squeue"
    # the plugin keeps squeue only while MinJobAge (default 300 s) >= 3 x this
    assert 3 * p["slurm-init-seconds-before-status-checks"] <= 300
    defaults = p["default-resources"]
    assert {"runtime", "mem_mb", "cpus_per_task", "slurm_account", "slurm_partition"} <= set(
        defaults
    )
    # the small job most rules are; rules state only what differs (next test)
    assert (defaults["mem_mb"], defaults["runtime"]) == (1000, 5)


def test_rules_state_only_resources_that_differ_from_the_defaults():
    defaults = load_profile()["default-resources"]
    restated = [
        f"{path.name}: {m.group(0)}"
        for path in sorted((REPO / "rules").glob("*.smk"))
        for name in ("mem_mb", "runtime")
        for m in re.finditer(rf"\b{name}\s*=\s*{defaults[name]}\s*,", path.read_text())
    ]
    assert not restated, f"rules restate the profile's default-resources: {restated}"


def test_every_gpu_rule_is_in_the_profile_gpu_block():
    """One block of site GPU settings (partition, model) reaches every rule that asks for a GPU."""
    gpu_rules = {r["name"] for r in job_rules(quick_workflow()) if r["gpu"]}
    assert gpu_rules, "no rule declares gpu=1"
    block = load_profile().get("set-resources", {})
    assert gpu_rules <= set(block), (
        f"GPU rules missing from set-resources: {gpu_rules - set(block)}"
    )
    unknown = set(block) - {r["name"] for r in quick_workflow()["rules"]}
    assert not unknown, f"set-resources names rules the workflow does not have: {unknown}"
    blocks = [block[name] for name in sorted(gpu_rules)]
    assert all(b == blocks[0] for b in blocks), "GPU rules must share one block (&gpu_jobs)"
    assert {"slurm_partition", "gpu_model"} <= set(blocks[0])


def test_rules_declare_only_portable_resources():
    """Cluster details (partition, account, GPU model, sbatch flags) live in the profile only."""
    site_keys = re.compile(r"\b(slurm_partition|slurm_account|gpu_model|gres|slurm_extra|qos)\s*=")
    offenders = [
        f"{path.name}: {m.group(1)}"
        for path in sorted((REPO / "rules").glob("*.smk"))
        for m in site_keys.finditer(path.read_text())
    ]
    assert not offenders, offenders


# --- what every job does before it runs ---------------------------------------------------------


def test_parsing_the_workflow_imports_no_heavy_library():
    """Each Slurm job parses the workflow before running; that must stay cheap."""
    info = quick_workflow()
    heavy = sorted(set(info["parse_imports"]) & set(HEAVY_MODULES))
    assert not heavy, f"parsing the workflow imports {heavy}"


def test_data_locations_reach_jobs_as_absolute_paths(tmp_path):
    """Relative NLTK_DATA / TIKTOKEN_CACHE_DIR are resolved against the working directory at
    parse time, so jobs (which inherit the environment) do not depend on where they start."""
    info = parse_workflow(
        workdir=tmp_path,
        env={"NLTK_DATA": f"nltk{os.pathsep}/opt/nltk", "TIKTOKEN_CACHE_DIR": "cache/tiktoken"},
    )
    assert info["env"]["NLTK_DATA"] == f"{tmp_path / 'nltk'}{os.pathsep}/opt/nltk"
    assert info["env"]["TIKTOKEN_CACHE_DIR"] == str(tmp_path / "cache" / "tiktoken")
    assert str(REPO / "src") in info["env"]["PYTHONPATH"].split(os.pathsep)


# --- a real Slurm ------------------------------------------------------------------------------


def _slurm_sh(command: str, env: dict, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SLURM_SH), command], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory):
    """Environment for talking to a running one-node Slurm; started here, stopped afterwards."""
    if os.environ.get("PHRENOLOGY_SKIP_SLURM"):
        pytest.skip("PHRENOLOGY_SKIP_SLURM is set")
    if sys.platform != "linux" or not shutil.which("bash"):
        pytest.skip("the Slurm test needs Linux")
    env = dict(os.environ)
    env.setdefault("SLURM_CI_DIR", "/tmp/phrenology-slurm")
    env["SLURM_CONF"] = f"{env['SLURM_CI_DIR']}/etc/slurm.conf"
    was_running = _slurm_sh("status", env, 60).returncode == 0
    started = _slurm_sh("start", env, 600)
    if started.returncode == 3:
        reason = [line for line in started.stderr.splitlines() if "cannot run Slurm" in line]
        pytest.skip((reason or [started.stderr.strip()])[-1])
    assert started.returncode == 0, f".ci/slurm.sh start failed:\n{started.stderr[-6000:]}"
    try:
        yield env
    finally:
        _cancel_jobs(env, JOB_PREFIX)
        if not was_running:
            stopped = _slurm_sh("stop", env, 120)
            assert stopped.returncode == 0, stopped.stderr


# Slurm job names are <prefix>_<run uuid>; the prefix marks this test session's jobs.
JOB_PREFIX = f"phrenotest{os.getpid()}"


def _cancel_jobs(env: dict, prefix: str) -> None:
    """Cancel jobs a killed test run left behind (only this session's, by job name)."""
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i %j"], env=env, capture_output=True, text=True
    ).stdout
    ids = []
    for line in out.splitlines():
        job_id, name = line.split(maxsplit=1)
        if name.startswith(prefix):
            ids.append(job_id)
    if ids:
        subprocess.run(["scancel", *ids], env=env, check=False)


def run_profile(env: dict, workdir: Path, *args: str, path_prefix: str = "") -> subprocess.CompletedProcess:  # fmt: skip
    """`snakemake --profile slurm ...` from the repository root, outputs under ``workdir``.

    Test-only overrides: fast status polling (the profile's 40 s suits clusters, not a test),
    one thread per job so two jobs share this small node, kept Slurm logs, and the job name
    prefix that marks this session's jobs.
    """
    run_env = dict(env)
    if path_prefix:
        run_env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    cmd = [
        "timeout", "-k", "10", str(RUN_TIMEOUT),
        sys.executable, "-m", "snakemake", "--profile", "slurm", "--directory", str(workdir),
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
        "--max-threads", "1", "--slurm-keep-successful-logs",
        "--slurm-jobname-prefix", JOB_PREFIX, *args,
    ]  # fmt: skip
    return subprocess.run(
        cmd, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=RUN_TIMEOUT + 60
    )


def run_id(log: str) -> str:
    match = re.search(r"SLURM run ID: (\S+)", log)
    assert match, f"no SLURM run ID in the log:\n{log[-3000:]}"
    return match.group(1)


def planned_jobs(log: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table (the DAG it planned): {rule: number of jobs}."""
    table = log.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def sacct_jobs(env: dict, name: str, since: float, expect: int) -> list[dict]:
    """This run's jobs as Slurm's accounting has them, once ``expect`` of them are finished."""
    fields = ["JobIDRaw", "State", "ExitCode", "Comment", "AllocTRES"]
    cmd = [
        "sacct", "-X", "-P", "-n", "--name", name, "-o", ",".join(fields),
        "--starttime", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since - 120)),
    ]  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        jobs = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
        done = [j for j in jobs if j["State"] not in ("PENDING", "RUNNING", "COMPLETING")]
        if len(done) >= expect or time.monotonic() > deadline:
            break
        time.sleep(1)
    for job in jobs:
        # the plugin's --comment: rule_<rule> or rule_<rule>_wildcards_<values>
        job["rule"] = re.sub(r"_wildcards_.*$", "", job["Comment"]).removeprefix("rule_")
    return sorted(jobs, key=lambda j: int(j["JobIDRaw"]))


def failure_report(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-8000:]}"


@pytest.mark.slurm
@pytest.mark.slow
def test_quick_dag_runs_as_slurm_jobs(slurm_env, tmp_path):
    """Every job of the quick DAG runs as a Slurm job that sacct reports COMPLETED; GPU rules
    get a GPU; the config (relative path) and the data reach the jobs on the compute node."""
    started = time.time()
    proc = run_profile(slurm_env, tmp_path, "--configfile", "config/quick.yaml")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, failure_report(proc)

    local = {r["name"] for r in quick_workflow()["rules"] if r["local"]}
    expected = {rule: n for rule, n in planned_jobs(log).items() if rule not in local}
    jobs = sacct_jobs(slurm_env, run_id(log), started, sum(expected.values()))
    ran: dict[str, int] = {}
    for job in jobs:
        ran[job["rule"]] = ran.get(job["rule"], 0) + 1
    assert ran == expected, f"Slurm jobs per rule {ran}, Snakemake planned {expected}"
    assert all(j["State"] == "COMPLETED" and j["ExitCode"] == "0:0" for j in jobs), jobs

    gpu_rules = {r["name"]: r["gpu"] for r in quick_workflow()["rules"] if r["gpu"]}
    for job in jobs:
        tres = job["AllocTRES"]
        if job["rule"] in gpu_rules:
            assert f"gres/gpu={gpu_rules[job['rule']]}" in tres, job
        else:
            assert "gres/gpu" not in tres, job

    # the profile's slurm-logdir, inside the working directory: one sbatch log per job
    slurm_logs = {p.stem for p in (tmp_path / "logs" / "slurm").rglob("*.log")}
    assert {j["JobIDRaw"] for j in jobs} <= slurm_logs
    assert (tmp_path / "results" / "heads.tsv").is_file()


@pytest.mark.slurm
@pytest.mark.slow
def test_failed_job_is_reported_and_retried_without_sacct(slurm_env, tmp_path):
    """A job that fails once is retried and succeeds; one that always fails is reported and
    fails the run. Snakemake sees a `sacct` that fails as on clusters without accounting:
    the profile's squeue polling must still see every outcome instead of waiting forever."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "sacct").write_text(
        "#!/bin/sh\necho 'sacct: error: Slurm accounting storage is disabled' >&2\nexit 1\n"
    )
    (fake / "sacct").chmod(0o755)
    workdir = tmp_path / "run"
    started = time.time()
    proc = run_profile(
        slurm_env, workdir, "--snakefile", "tests/slurm/retry.smk", path_prefix=str(fake)
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, failure_report(proc)  # not 124/137: it did not hang
    assert "Error in rule broken" in log and "Error in rule flaky" in log
    assert (workdir / "flaky.txt").read_text().strip() == "attempt 2"
    assert not (workdir / "broken.txt").exists()

    retries = load_profile()["retries"]
    jobs = sacct_jobs(slurm_env, run_id(log), started, 2 + (1 + retries))
    states = {rule: [j["State"] for j in jobs if j["rule"] == rule] for rule in ("flaky", "broken")}
    assert states == {"flaky": ["FAILED", "COMPLETED"], "broken": ["FAILED"] * (1 + retries)}
