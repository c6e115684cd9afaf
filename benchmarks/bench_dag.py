"""Wall time of the whole quick DAG from an empty results/, with each job in a process of its own
(plain snakemake) and in prewarmed processes (phrenology prewarm, as make run), one after the
other on the same machine; then of a no-op rerun; and whether both runs gave the same bytes.

python benchmarks/bench_dag.py [--config config/quick.yaml] [--cores 2] [--fresh-numba-cache]
                               [--only plain|prewarm]

A run from an empty results/ reuses the user's numba cache (UMAP compiled by an earlier run,
phrenology.pipeline.caches); --fresh-numba-cache measures a first run on a new machine (the
first of the two runs then fills the cache for the second: use --only for a fair figure).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from phrenology.provenance.hashes import compare, manifest

from common import REPO, cpu_model, run_snakemake, write_result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="config/quick.yaml")
    ap.add_argument("--cores", default=str(os.cpu_count()))
    ap.add_argument("--fresh-numba-cache", action="store_true",
                    help="an empty NUMBA_CACHE_DIR: a first run on a new machine (UMAP compiles)")  # fmt: skip
    ap.add_argument("--only", choices=["plain", "prewarm"], help="measure one way only")
    args = ap.parse_args()
    ways = [args.only] if args.only else ["plain", "prewarm"]
    result = {"config": args.config, "cores": args.cores,
              "fresh_numba_cache": args.fresh_numba_cache}  # fmt: skip
    hashes = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        if args.fresh_numba_cache:
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba-cache")
        for way in ways:
            workdir = os.path.join(tmp, way)
            os.mkdir(workdir)
            full, log = run_snakemake(workdir, [REPO / args.config], args.cores, env=env,
                                      prewarm=way == "prewarm")  # fmt: skip
            result[f"{way}_full_run_seconds"] = full
            result[f"{way}_jobs"] = log.count("Finished jobid")
            hashes[way] = manifest(Path(workdir, "results"))
        noop, log2 = run_snakemake(workdir, [REPO / args.config], args.cores, env=env)
        assert "Nothing to be done" in log2, log2[-2000:]
        result["noop_rerun_seconds"] = noop
        result["result_files"] = sum(1 for p in Path(workdir, "results").rglob("*") if p.is_file())
    if len(hashes) == 2:
        result["plain_to_prewarm_ratio"] = (
            result["plain_full_run_seconds"] / result["prewarm_full_run_seconds"]
        )
        diff = compare(hashes["plain"], hashes["prewarm"])
        result["products_compared"] = len(hashes["plain"])
        result["products_identical"] = not any(diff.values())
    result["cpu_model"] = cpu_model()
    # without a bytecode cache every job compiles torch & co. from source (Makefile: PYTHONPYCACHEPREFIX)
    result["bytecode_cache"] = os.environ.get("PYTHONPYCACHEPREFIX") or (
        "none (PYTHONDONTWRITEBYTECODE)"
        if os.environ.get("PYTHONDONTWRITEBYTECODE")
        else "__pycache__"
    )
    result["load_average_1min"] = os.getloadavg()[0]  # wall times mean little on a busy machine
    for k, v in result.items():
        print(f"{k:>24}: {v:.2f}" if isinstance(v, float) else f"{k:>24}: {v}")
    write_result("dag", result)


if __name__ == "__main__":
    main()
