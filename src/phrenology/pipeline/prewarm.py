"""Jobs in prewarmed processes: a local run that does not pay every job's imports again.

Most of a small run is start-up, not work (docs/performance.md): each job is a new Python
process, and one that builds a model spends 6–8 s importing TransformerLens before its first
line of science. ``phrenology prewarm -- snakemake …`` (what ``make run`` does) starts one
server that imports the heavy libraries once, then runs the command with ``PHRENOLOGY_PREWARM``
naming the server's socket. Each job's script, on entering
:func:`phrenology.pipeline.jobs.snakemake_job`, hands itself over: the server forks a copy of
its warm self, which takes the job's standard streams, working directory, environment, thread
count and argv, and runs the same script file (Snakemake's, preamble and all) from the top. The
job's process waits and exits with the copy's status; if the job's process dies (killed by
Snakemake, by Ctrl-C, by kill -9), the copy kills itself.

A job runs in its own process as before, without a word, when there is no server (Slurm, DVC,
a plain ``snakemake``) or it is not listening yet (still importing); and, saying why on
stderr, when the copy could not be the process the job would have had: another Python (a
``conda:`` environment) or an environment that differs in anything but what is applied at run
time (thread counts, temporary directory), because libraries such as ``huggingface_hub`` read
their variables once, at import. The outputs are the same bytes as without the server
(tests/workflow/test_determinism.py runs one job of each kind both ways).

Not the same: Snakemake's ``benchmark:`` files measure the job's own process tree, so under
the server their wall time is right but their CPU and memory columns are the waiting job's,
not the work's. Measure those with a plain ``snakemake`` (``make run PREWARM=0``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

ENV_VAR = "PHRENOLOGY_PREWARM"

# Imported once by the server so that no job imports them again: what the model, analysis and
# plotting jobs import. Only libraries that read no job-specific setting at import: not
# numba/umap (NUMBA_NUM_THREADS), not nltk (NLTK_DATA is copied into nltk.data.path at import).
PRELOAD = (
    "numpy",
    "pandas",
    "scipy.sparse",
    "sklearn.decomposition",
    "matplotlib.pyplot",
    "torch",
    "transformer_lens",
    "threadpoolctl",
    "snakemake.iocontainers",
    "phrenology.pipeline.jobs",
    "phrenology.models.model",
    "phrenology.models.train",
    "phrenology.models.capture",
    "phrenology.analysis.knockout",
)

# Set for each job at run time, so a job may differ from the server in them: the thread counts
# Snakemake exports for the job (applied below to torch and to every BLAS/OpenMP pool), its
# temporary directory, and what the shell that starts the job sets for itself.
RUNTIME_VARS = frozenset(
    {"OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS",
     "TMPDIR", "TMP", "TEMP", "TEMPDIR", "PWD", "OLDPWD", "SHLVL", "_"}
)  # fmt: skip

_in_copy = False  # set in a forked copy: the script it runs must not be handed over again
_job_pid = 0  # in a copy: the job's own process, which waits for it
# The server's environment before its imports: some of them set variables (threadpoolctl and
# scikit-learn set KMP_DUPLICATE_LIB_OK) that a job's own imports would set again.
_started_with: dict[str, str] = {}


def in_copy() -> bool:
    """Whether this process is a prewarmed copy running a job."""
    return _in_copy


def job_ancestor() -> int:
    """Where to start looking up the processes that started this job (the shell, Snakemake):
    this process's parent; in a prewarmed copy, whose parent is the server, the job's own
    waiting process."""
    return _job_pid if _in_copy else os.getppid()


def _send(conn: socket.socket, message: dict) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


# --- the job's side ---------------------------------------------------------------------------


def hand_over() -> None:
    """Under a prewarm server, run this job's script in a warm copy and end this process with
    the copy's exit status. Return, and let the job run here, if there is no server or the copy
    could not be the process this job would have been."""
    path = os.environ.get(ENV_VAR)
    if _in_copy or not path or os.environ.get("SLURM_JOB_ID"):
        return
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:  # not listening yet (still importing), or gone: run here
        conn.close()
        return
    request = {"executable": sys.executable, "prefix": sys.prefix, "cwd": os.getcwd(),
               "argv": sys.argv, "env": dict(os.environ), "pid": os.getpid()}  # fmt: skip
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        replies = conn.makefile("rb")
        line = replies.readline()
    except OSError as e:  # the server went away before starting anything: run here
        reply = {"declined": f"could not hand it over ({e})"}
    else:
        reply = json.loads(line) if line else {"declined": "the server closed the connection"}
    if "declined" in reply:
        print(f"prewarm: this job runs in a process of its own: {reply['declined']}",
              file=sys.stderr, flush=True)  # fmt: skip
        conn.close()
        return
    line = replies.readline()  # the copy runs the job; this process waits, and if it dies...
    if not line:
        print("prewarm: the job's prewarmed copy ended without an exit status (killed?)",
              file=sys.stderr, flush=True)  # fmt: skip
    os._exit(json.loads(line)["exit"] if line else 1)


# --- the server's side ------------------------------------------------------------------------


def mismatch(request: dict) -> str | None:
    """Why a copy of the server would not be the process the job would have been, or None."""
    if (request["executable"], request["prefix"]) != (sys.executable, sys.prefix):
        return f"it runs another Python ({request['executable']}) than the server's"
    theirs, ours = request["env"], _started_with or dict(os.environ)
    for key in sorted((theirs.keys() | ours.keys()) - RUNTIME_VARS - {ENV_VAR}):
        if theirs.get(key) != ours.get(key):
            return f"its environment variable {key} differs from the server's"
    return None


def _become_job(request: dict, fds: Sequence[int]) -> None:
    """Turn this forked copy into the job's process: streams, directory, environment, threads."""
    for fd, target in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.pop(ENV_VAR, None)  # whatever the job starts runs on its own
    tempfile.tempdir = None  # read TMPDIR again
    import threadpoolctl
    import torch

    # a fresh process would have read these at import (torch: its intra-op threads; numpy's and
    # scipy's OpenBLAS: their pools); MKL and numba still read theirs when first used
    threads = int(request["env"].get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads)
    sys.argv = list(request["argv"])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    while data and not data.endswith(b"\n"):
        more = conn.recv(1 << 16)
        if not more:
            break
        data += more
    return json.loads(data), fds


def _run_script(path: str) -> int:
    """Run a script file as ``__main__``; its exit status, as Python itself would give it."""
    import runpy
    import traceback

    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:  # in the forked copy (ForkingMixIn)
        global _in_copy, _job_pid
        conn = self.request
        request, fds = _read_request(conn)
        reason = mismatch(request) if len(fds) == 3 else "its standard streams did not arrive"
        if reason is not None:
            _send(conn, {"declined": reason})
            os._exit(0)
        _send(conn, {"accepted": os.getpid()})
        _become_job(request, fds)

        def die_with_the_job() -> None:  # the job's process ended: it was killed, so is this
            with contextlib.suppress(OSError):
                conn.recv(1)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=die_with_the_job, daemon=True).start()
        _in_copy, _job_pid = True, request["pid"]
        code = _run_script(request["argv"][0])
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with contextlib.suppress(OSError):
            _send(conn, {"exit": code})
        os._exit(code)


class _Server(socketserver.ForkingMixIn, socketserver.UnixStreamServer):
    max_children = 1 << 16  # Snakemake already bounds how many jobs run at once


def _die_with_parent(parent: int | None) -> None:
    """Linux: SIGTERM this process when the one that started it (``parent``) dies, even by
    kill -9. (Linux sends it when the thread that forked exits: running_server is called from
    the main thread.)"""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:  # it died before the line above
        raise SystemExit("prewarm: the process that started the server is gone")


def _cuda_initialized() -> bool:
    """Whether this process has initialised CUDA (torch's runtime, or the driver underneath)."""
    import ctypes

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return True
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:  # no NVIDIA driver: nothing to initialise
        return False
    count = ctypes.c_int()
    return driver.cuDeviceGetCount(ctypes.byref(count)) != 3  # 3: CUDA_ERROR_NOT_INITIALIZED


def serve(path: str, preload: Sequence[str] = PRELOAD, parent: int | None = None) -> None:
    """Import ``preload``, then serve jobs on the socket ``path`` until terminated (or until
    the process ``parent`` ends)."""
    import importlib

    _started_with.update(os.environ)
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is Snakemake's to handle, not ours
    from phrenology.pipeline.jobs import use_reproducible_blas

    use_reproducible_blas()  # as every job does, before MKL's first use
    # A process that has initialised CUDA cannot be forked into ones that use it, and
    # torch.cuda.is_available() initialises the driver unless asked to ask NVML instead (some
    # libraries call it at import). The copies take the job's environment, without this.
    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    for name in preload:
        importlib.import_module(name)
    if _cuda_initialized():
        raise SystemExit(
            "prewarm: importing the preloaded libraries initialised CUDA, so a fork of this "
            "server could not use the GPU; every job runs in a process of its own"
        )
    binding = path + ".binding"
    with _Server(binding, _Handler) as server:
        os.replace(binding, path)  # jobs find the socket only once everything is imported
        server.serve_forever()


@contextlib.contextmanager
def running_server(preload: Sequence[str] = PRELOAD) -> Iterator[str]:
    """Start a server (its socket in a private temporary folder), yield the socket's path, and
    stop the server afterwards."""
    from phrenology.pipeline.environment import prepare_job_environment

    # the environment the Snakefile gives every job (rules/common.smk), so that the jobs' and
    # the server's agree and the server imports the package from the same checkout
    env = dict(os.environ)
    prepare_job_environment(str(Path(__file__).resolve().parents[2]), env)
    env.pop(ENV_VAR, None)
    # a socket's path may not exceed 107 bytes: a long TMPDIR falls back to /tmp
    base = tempfile.gettempdir()
    if len(base) > 60 and os.path.isdir("/tmp"):
        base = "/tmp"
    with tempfile.TemporaryDirectory(prefix="phrenology-prewarm-", dir=base) as folder:
        path = str(Path(folder, "socket"))
        code = f"from phrenology.pipeline import prewarm; prewarm.serve({path!r}, {list(preload)!r}, {os.getpid()})"
        server = subprocess.Popen([sys.executable, "-c", code], env=env)
        try:
            yield path
        finally:
            server.terminate()
            server.wait()


def run(command: Sequence[str]) -> int:
    """Run ``command`` (snakemake and its arguments) with a prewarm server beside it; return
    the command's exit status."""
    with running_server() as path:
        child = subprocess.Popen(list(command), env={**os.environ, ENV_VAR: path})
        # Ctrl-C reaches the command too (same process group): let Snakemake stop its jobs and
        # clean up, and wait for it, as a shell would
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return child.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
