"""Training the quick config's seeds as Snakemake jobs: G per-seed jobs one after another
(``train.models_per_job: 1``, today's default) against one batched job (``models_per_job: G``).

bench_batched.py times one training step inside one process; this times what a user waits
for: the jobs themselves, with Python start-up, imports, corpus loading, checkpoints and the
per-seed files each job writes. Both variants run in one working directory, on the same
prepared corpus, one after the other, with ``--cores`` as given (2 on the development machine:
a training job asks for more threads than that, so the per-seed jobs run one after another as
in the quick DAG).

    python benchmarks/bench_training_jobs.py [--config config/quick.yaml] [--cores 2]

Prints the table and writes benchmarks/out/training_jobs.json.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from common import REPO, cpu_model, run_snakemake, write_result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="config/quick.yaml")
    ap.add_argument("--cores", default=str(os.cpu_count()))
    args = ap.parse_args()
    config = yaml.safe_load((REPO / args.config).read_text())
    seeds, train = config["seeds"], config["train"]
    models = [f"results/models/seed{s}/model.pt" for s in seeds]
    steps_per_model = train["epochs"] * math.ceil(train["n_windows"] / train["batch_size"])
    # an upper bound: an epoch's last batch may be short
    tokens = len(seeds) * steps_per_model * train["batch_size"] * config["model"]["n_ctx"]

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base = REPO / args.config
        grouped = workdir / "grouped.yaml"
        grouped.write_text(yaml.safe_dump({"train": {**train, "models_per_job": len(seeds)}}))
        run_snakemake(workdir, [base], args.cores, ["results/corpus/manifest.json"])
        times = {}
        for name, configs in (("per_seed_jobs", [base]), ("one_batched_job", [base, grouped])):
            for leftover in ("results/models", "results/checkpoints"):
                shutil.rmtree(workdir / leftover, ignore_errors=True)
            times[name], _ = run_snakemake(workdir, configs, args.cores, models)

    result = {"config": args.config, "cores": args.cores, "seeds": seeds,
              "steps_per_model": steps_per_model, "tokens": tokens,
              **{f"{k}_seconds": v for k, v in times.items()},
              **{f"{k}_tokens_per_second": tokens / v for k, v in times.items()},
              "speedup": times["per_seed_jobs"] / times["one_batched_job"],
              "cpu_model": cpu_model(), "load_average_1min": os.getloadavg()[0]}  # fmt: skip
    for k, v in result.items():
        print(f"{k:>34}: {v:.2f}" if isinstance(v, float) else f"{k:>34}: {v}")
    write_result("training_jobs", result)


if __name__ == "__main__":
    main()
