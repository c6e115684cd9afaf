"""What every Snakemake job does around its science: log file, threads, clean errors.

Used by the adapters in ``workflow/scripts/``::

    with snakemake_job(snakemake) as job:
        ...  # read snakemake.input, call the package, write snakemake.output

Inside the block stdout/stderr go to the rule's log file; an expected failure
(:class:`PhrenologyError`) ends the job with its one-line message instead of a
traceback.
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

from phrenology.errors import PhrenologyError


@dataclass
class Job:
    snakemake: Any
    threads: int
    started: float

    def set_torch_threads(self) -> None:
        import torch

        torch.set_num_threads(self.threads)


@contextlib.contextmanager
def snakemake_job(smk: Any) -> Iterator[Job]:
    threads = max(1, int(getattr(smk, "threads", 1) or 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)
    log_path = smk.log[0] if len(smk.log) else None
    terminal = sys.__stderr__
    log = open(log_path, "a", buffering=1) if log_path else None
    if log:
        sys.stdout = sys.stderr = log
    job = Job(snakemake=smk, threads=threads, started=time.time())
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
    finally:
        if log:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            log.close()
