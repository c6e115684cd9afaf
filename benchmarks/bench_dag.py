"""Wall time of the whole quick DAG from an empty results/ and of a no-op rerun.

python benchmarks/bench_dag.py [--config config/quick.yaml] [--cores 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, write_result


def snakemake(workdir: str, config: str, cores: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", workdir,
           "--configfile", str(REPO / config), "--cores", cores]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, proc.stdout + proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="config/quick.yaml")
    ap.add_argument("--cores", default=str(os.cpu_count()))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        full, log = snakemake(workdir, args.config, args.cores)
        n_jobs = log.count("Finished jobid")
        noop, log2 = snakemake(workdir, args.config, args.cores)
        assert "Nothing to be done" in log2, log2[-2000:]
        n_files = sum(1 for p in Path(workdir, "results").rglob("*") if p.is_file())
    result = {"config": args.config, "cores": args.cores, "jobs": n_jobs, "result_files": n_files,
              "full_run_seconds": full, "noop_rerun_seconds": noop}  # fmt: skip
    for k, v in result.items():
        print(f"{k:>18}: {v:.1f}" if isinstance(v, float) else f"{k:>18}: {v}")
    write_result("dag", result)


if __name__ == "__main__":
    main()
