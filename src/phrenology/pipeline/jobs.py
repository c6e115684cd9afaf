"""What every Snakemake job does around its science: log file, threads, clean errors.

Used by the adapters in ``workflow/scripts/``::

    with snakemake_job(snakemake) as job:
        ...  # read snakemake.input, call the package, write snakemake.output

Inside the block stdout/stderr go to the rule's log file; an expected failure
(:class:`PhrenologyError`) ends the job with its one-line message instead of a
traceback. When the block succeeds, every output gets a provenance record beside
it (:mod:`phrenology.provenance.records`); a failed job writes none, and a problem with
provenance itself only warns: it never fails a job or hides the job's own error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from phrenology.pipeline import prewarm
from phrenology.pipeline.errors import PhrenologyError
from phrenology.provenance import records

# Read by MKL (torch's BLAS on x86) at its first call, i.e. after this is set: a job's matrix
# products give the same bits on every run with the same thread count, on Intel and on AMD
# CPUs alike. MKL_CBWR=AUTO is MKL's conditional numerical reproducibility on the CPU's own
# code path (bit-identical to the default path on the Intel Xeon the quick config's hashes
# were recorded on); *_DYNAMIC=FALSE stops MKL/OpenMP from choosing fewer threads at run time.
# See docs/troubleshooting.md, "Determinism".
REPRODUCIBLE_BLAS = {"MKL_CBWR": "AUTO", "MKL_DYNAMIC": "FALSE", "OMP_DYNAMIC": "FALSE"}


def use_reproducible_blas() -> None:
    """Set REPRODUCIBLE_BLAS in this process's environment where not already set (before MKL's
    first use: every job, the prewarm server, the test suite)."""
    for var, value in REPRODUCIBLE_BLAS.items():
        os.environ.setdefault(var, value)


@dataclass
class Job:
    snakemake: Any
    threads: int
    started: float
    provenance: records.Activity | None = None

    def set_torch_threads(self) -> None:
        import torch

        torch.set_num_threads(self.threads)

    def uses_file(self, path: str | os.PathLike, role: str) -> None:
        """Record a file the job reads that is not a Snakemake input (e.g. the corpus file)."""
        if self.provenance is not None:
            self.provenance.uses_file(path, role)

    def uses(self, role: str, **facts: Any) -> None:
        """Record something used that is not a file (e.g. a tokenizer's name and content hash)."""
        if self.provenance is not None:
            self.provenance.uses(role, **facts)


def _warn(message: str, terminal: Any) -> None:
    print(message, file=sys.stderr, flush=True)
    if terminal is not None and terminal is not sys.stderr:
        print(message, file=terminal, flush=True)


@contextlib.contextmanager
def snakemake_job(smk: Any) -> Iterator[Job]:
    prewarm.hand_over()  # under `phrenology prewarm`, the job runs in a warm copy, not here
    threads = max(1, int(getattr(smk, "threads", 1) or 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)
    use_reproducible_blas()
    log_path = smk.log[0] if len(smk.log) else None
    terminal = sys.__stderr__
    saved = sys.stdout, sys.stderr  # restored afterwards (not sys.__stdout__: tests capture them)
    log = open(log_path, "a", buffering=1) if log_path else None
    if log:
        sys.stdout = sys.stderr = log
    if prewarm.in_copy():
        print(f"(this job runs in a prewarmed process, pid {os.getpid()}: phrenology prewarm)")
    job = Job(snakemake=smk, threads=threads, started=time.time())
    rule = getattr(smk, "rule", "?")
    try:
        job.provenance = records.start(smk, job.started)
    except Exception as e:  # provenance must never stop the science
        _warn(f"warning: rule {rule}: no provenance will be recorded ({e!r})", terminal)
    token = records.set_current(job.provenance)
    try:
        yield job
    except PhrenologyError as e:
        message = f"error in rule {smk.rule}: {e}"
        print(message, file=sys.stderr)
        if log:
            print(message, file=terminal)
        raise SystemExit(1) from None
    except BaseException:
        traceback.print_exc()
        raise
    else:
        if job.provenance is not None:
            try:
                job.provenance.finish()
            except Exception as e:
                _warn(f"warning: rule {rule}: provenance record not written ({e!r})", terminal)
    finally:
        records.reset_current(token)
        if log:
            sys.stdout, sys.stderr = saved
            log.close()
