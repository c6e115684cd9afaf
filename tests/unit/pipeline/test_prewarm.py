"""phrenology.pipeline.prewarm: jobs handed to a warm server run there as they would have run
on their own (streams, directory, argv, threads, exit status), die with their process, and run
on their own, saying why, when the server could not be the process they would have been."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from phrenology.pipeline import prewarm
from phrenology.pipeline.cli import main
from phrenology.pipeline.environment import prepare_job_environment

SRC = Path(prewarm.__file__).resolve().parents[2]

# A stand-in for a Snakemake job's script: it hands itself over first, as snakemake_job does.
JOB = textwrap.dedent("""
    import json, os, sys, tempfile, time
    from phrenology.pipeline import prewarm
    prewarm.hand_over()
    import torch
    print("to stdout"); print("to stderr", file=sys.stderr)
    what = sys.argv[1]
    facts = {"in_copy": prewarm.in_copy(), "pid": os.getpid(), "cwd": os.getcwd(),
             "argv": sys.argv[1:], "threads": torch.get_num_threads(),
             "tmp": tempfile.gettempdir(), "handed_on": os.environ.get(prewarm.ENV_VAR),
             "ancestor": prewarm.job_ancestor()}
    with open("facts.json", "w") as f:
        json.dump(facts, f)
    if what == "raise":
        raise ValueError("the job's own error")
    if what == "sleep":
        time.sleep(120)
    sys.exit(int(what))
""")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server with torch imported (what the copies set threads on), listening; its socket's
    path, and the environment it started with (pytest changes PYTEST_CURRENT_TEST later)."""
    started_with = dict(os.environ)
    with prewarm.running_server(preload=("torch", "threadpoolctl")) as path:
        deadline = time.monotonic() + 120
        while not os.path.exists(path):
            assert time.monotonic() < deadline, "the prewarm server did not start listening"
            time.sleep(0.05)
        yield path, started_with


def job_env(server, **extra: str) -> dict:
    """The environment a job under Snakemake has: the Snakefile's, plus its thread count."""
    socket_path, started_with = server
    env = dict(started_with)
    prepare_job_environment(str(SRC), env)
    env.update({prewarm.ENV_VAR: socket_path, "OMP_NUM_THREADS": "3"}, **extra)
    return env


def start_job(tmp_path: Path, server, *args: str, **extra: str) -> subprocess.Popen:
    script = tmp_path / "job.py"
    script.write_text(JOB)
    return subprocess.Popen([sys.executable, str(script), *args], cwd=tmp_path,
                            env=job_env(server, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def run_job(tmp_path, server, *args, **extra):
    proc = start_job(tmp_path, server, *args, **extra)
    out, err = proc.communicate(timeout=120)
    facts = json.loads((tmp_path / "facts.json").read_text())
    return proc.returncode, out, err, {**facts, "job_process": proc.pid}


def test_a_job_runs_in_a_warm_copy_as_it_would_have_run_on_its_own(server, tmp_path):
    (tmp_path / "tmp").mkdir()
    code, out, err, facts = run_job(tmp_path, server, "7", TMPDIR=str(tmp_path / "tmp"))
    assert facts["in_copy"] is True
    assert code == 7  # the copy's exit status is the job's
    assert (out, err) == ("to stdout\n", "to stderr\n")  # its streams are the job's
    assert facts["cwd"] == str(tmp_path) and facts["argv"] == ["7"]
    assert facts["threads"] == 3  # OMP_NUM_THREADS, as a fresh torch would have read it
    assert facts["tmp"] == str(tmp_path / "tmp")  # the job's TMPDIR, not the server's
    assert facts["handed_on"] is None  # what the job starts runs on its own
    # provenance looks up Snakemake's command line from the job's own process, not the server
    assert facts["ancestor"] == facts["job_process"] != facts["pid"]


def test_the_jobs_error_is_its_traceback_and_exit_status_1(server, tmp_path):
    code, _, err, facts = run_job(tmp_path, server, "raise")
    assert facts["in_copy"] is True
    assert code == 1
    assert "ValueError: the job's own error" in err and "Traceback" in err


def test_a_job_whose_environment_differs_runs_on_its_own_and_says_why(server, tmp_path):
    code, _, err, facts = run_job(tmp_path, server, "0", HF_HUB_OFFLINE="0")
    assert code == 0
    assert facts["in_copy"] is False and facts["pid"] != os.getpid()
    assert "process of its own: its environment variable HF_HUB_OFFLINE differs" in err


def test_without_a_server_a_job_runs_on_its_own_silently(tmp_path):
    code, out, err, facts = run_job(
        tmp_path, (str(tmp_path / "no-such-socket"), dict(os.environ)), "0"
    )
    assert (code, facts["in_copy"]) == (0, False)
    assert (out, err) == ("to stdout\n", "to stderr\n")


def test_the_copy_dies_with_the_jobs_process(server, tmp_path):
    proc = start_job(tmp_path, server, "sleep")
    deadline = time.monotonic() + 60
    while not (tmp_path / "facts.json").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    copy = json.loads((tmp_path / "facts.json").read_text())["pid"]
    assert copy != proc.pid
    proc.kill()  # kill -9, as Snakemake, the OOM killer or a user might
    proc.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{copy}").exists() and "Z" not in Path(f"/proc/{copy}/stat").read_text():
        assert time.monotonic() < deadline, "the prewarmed copy outlived its job"
        time.sleep(0.02)


def test_a_job_on_another_python_is_declined(server):
    request = {"executable": "/opt/conda/envs/x/bin/python", "prefix": "/opt/conda/envs/x",
               "env": dict(os.environ)}  # fmt: skip
    assert "another Python" in prewarm.mismatch(request)


def test_the_cli_runs_the_command_beside_a_server_and_returns_its_status(tmp_path):
    seen = tmp_path / "seen"
    cmd = f'test -n "${prewarm.ENV_VAR}" && echo "${prewarm.ENV_VAR}" > {seen}; exit 5'
    assert main(["prewarm", "--", "sh", "-c", cmd]) == 5
    assert seen.read_text().strip().endswith("/socket")
    assert main(["prewarm"]) == 2  # no command: a clear error, not a server left running


def children(pid: int) -> list[int]:
    return [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
            if _ppid(p) == pid]  # fmt: skip


def _ppid(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


SERVE_AND_WAIT = """
import os, sys, time
from phrenology.pipeline import prewarm
with prewarm.running_server(preload=()) as path:
    while not os.path.exists(path):
        time.sleep(0.02)
    print(os.getpid(), flush=True)
    sys.stdin.readline()  # until the test has seen the server (killed: never)
"""


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("how", ["ends", "killed"])
def test_the_server_stops_when_the_run_ends_or_is_killed(how):
    """A finished run stops its server; so does a run killed with kill -9 (the server asks
    Linux for SIGTERM when its parent dies): no server of a gigabyte is left behind."""
    proc = subprocess.Popen([sys.executable, "-c", SERVE_AND_WAIT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    parent = int(proc.stdout.readline())
    (server,) = children(parent)
    if how == "killed":
        proc.kill()
    proc.communicate("\n", timeout=60)
    assert gone(server, timeout=10)


def test_a_server_whose_imports_initialised_cuda_refuses_to_serve(tmp_path):
    """Forks of a process that initialised CUDA cannot use the GPU: the server then exits
    before listening, and every job runs in a process of its own. (Simulated: no GPU here.)"""
    path = tmp_path / "socket"
    code = ("from phrenology.pipeline import prewarm\n"
            "prewarm._cuda_initialized = lambda: True\n"
            f"prewarm.serve({str(path)!r}, ())\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode != 0 and "initialised CUDA" in proc.stderr
    assert not path.exists()


def test_a_long_temporary_directory_still_gives_a_socket_that_listens(tmp_path, monkeypatch):
    """AF_UNIX paths are limited to 107 bytes; pytest's own temporary paths are longer."""
    long_dir = tmp_path / ("d" * 80)
    long_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    with prewarm.running_server(preload=()) as path:
        assert len(path + ".binding") <= 107
        deadline = time.monotonic() + 60
        while not os.path.exists(path):
            assert time.monotonic() < deadline, "the prewarm server did not start listening"
            time.sleep(0.02)
