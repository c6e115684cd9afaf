"""Wall time of the whole quick DAG from an empty results/ and of a no-op rerun.

python benchmarks/bench_dag.py [--config config/quick.yaml] [--cores 2] [--fresh-numba-cache]

A run from an empty results/ reuses the user's numba cache (UMAP compiled by an earlier run,
phrenology.pipeline.caches); --fresh-numba-cache measures a first run on a new machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from common import REPO, cpu_model, run_snakemake, write_result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="config/quick.yaml")
    ap.add_argument("--cores", default=str(os.cpu_count()))
    ap.add_argument("--fresh-numba-cache", action="store_true",
                    help="an empty NUMBA_CACHE_DIR: a first run on a new machine (UMAP compiles)")  # fmt: skip
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        env = dict(os.environ)
        if args.fresh_numba_cache:
            env["NUMBA_CACHE_DIR"] = os.path.join(workdir, "numba-cache")
        full, log = run_snakemake(workdir, [REPO / args.config], args.cores, env=env)
        n_jobs = log.count("Finished jobid")
        noop, log2 = run_snakemake(workdir, [REPO / args.config], args.cores, env=env)
        assert "Nothing to be done" in log2, log2[-2000:]
        n_files = sum(1 for p in Path(workdir, "results").rglob("*") if p.is_file())
    result = {"config": args.config, "cores": args.cores, "jobs": n_jobs, "result_files": n_files,
              "fresh_numba_cache": args.fresh_numba_cache,
              "full_run_seconds": full, "noop_rerun_seconds": noop}  # fmt: skip
    result["cpu_model"] = cpu_model()
    # without a bytecode cache every job compiles torch & co. from source (Makefile: PYTHONPYCACHEPREFIX)
    result["bytecode_cache"] = os.environ.get("PYTHONPYCACHEPREFIX") or (
        "none (PYTHONDONTWRITEBYTECODE)"
        if os.environ.get("PYTHONDONTWRITEBYTECODE")
        else "__pycache__"
    )
    result["load_average_1min"] = os.getloadavg()[0]  # wall times mean little on a busy machine
    for k, v in result.items():
        print(f"{k:>18}: {v:.1f}" if isinstance(v, float) else f"{k:>18}: {v}")
    write_result("dag", result)


if __name__ == "__main__":
    main()
