"""The backbone DAG end to end through Snakemake (integration), and its dry runs."""

import os
import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, run_snakemake, snakemake_cmd

pytestmark = pytest.mark.integration


def job_counts(stdout: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table."""
    counts = {}
    table = stdout.split("Job stats:")[-1]
    for line in table.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def test_quick_dag_produces_the_backbone_outputs(quick_dag, quick_config):
    seeds, m = quick_config["seeds"], quick_config["model"]
    heads = pd.read_csv(quick_dag / "results" / "heads.tsv", sep="\t")
    assert heads.columns.tolist() == ["head_index", "seed", "layer", "head"]
    assert len(heads) == len(seeds) * m["n_layers"] * m["n_heads"]
    n_prompts, n_ctx = quick_config["capture"]["n_prompts"], m["n_ctx"]
    for seed in seeds:
        a = np.load(quick_dag / "results" / "attention" / f"seed{seed}.npy", mmap_mode="r")
        assert a.shape == (n_prompts, m["n_layers"] * m["n_heads"], n_ctx, n_ctx)
        assert a.dtype == np.float32
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-4)
        model_dir = quick_dag / "results" / "models" / f"seed{seed}"
        assert (model_dir / "model.pt").is_file()
        epochs = pd.read_csv(model_dir / "epochs.tsv", sep="\t")
        assert epochs["epoch"].tolist() == list(range(quick_config["train"]["epochs"] + 1))
        assert epochs["heldout_loss"].iloc[-1] < epochs["heldout_loss"].iloc[0]
        steps = pd.read_csv(model_dir / "steps.tsv", sep="\t")
        assert {"epoch", "step", "loss", "tokens_per_s", "seconds"} <= set(steps.columns)
    prompts = pd.read_parquet(quick_dag / "results" / "corpus" / "prompts.parquet")
    assert len(prompts) == n_prompts * n_ctx
    ids = np.load(quick_dag / "results" / "corpus" / "prompts.npy")
    assert ids.shape == (n_prompts, n_ctx)
    assert prompts["token_id"].to_numpy().reshape(n_prompts, n_ctx).tolist() == ids.tolist()
    # different seeds give different models: their patterns differ
    a0 = np.load(quick_dag / "results" / "attention" / f"seed{seeds[0]}.npy")
    a1 = np.load(quick_dag / "results" / "attention" / f"seed{seeds[1]}.npy")
    assert not np.allclose(a0, a1)
    assert not list((quick_dag / "results" / "checkpoints").glob("*.pt"))  # removed when done


def test_every_job_leaves_its_benchmark_file(quick_dag, quick_config):
    """Snakemake's benchmark: files, one per job, under logs/benchmarks/ (not results/)."""
    if os.environ.get("PHRENOLOGY_QUICK_RESULTS"):
        pytest.skip("the reused run brought results/ only, not logs/")
    bench = quick_dag / "logs" / "benchmarks"
    expected = {f"train_model/seed{s}.tsv" for s in quick_config["seeds"]}
    expected |= {f"capture_attention/seed{s}.tsv" for s in quick_config["seeds"]}
    expected |= {f"train_autoencoder/k{k}.tsv" for k in quick_config["autoencoder"]["bottlenecks"]}
    expected |= {"prepare_corpus.tsv", "knn_graph.tsv", "plot_knockout_pca.tsv"}
    found = {str(p.relative_to(bench)) for p in bench.rglob("*.tsv")}
    assert expected <= found, sorted(expected - found)
    table = pd.read_csv(bench / "knn_graph.tsv", sep="\t")
    assert {"s", "max_rss"} <= set(table.columns) and len(table) == 1
    assert not (quick_dag / "results" / "benchmarks").exists()


def test_second_run_runs_nothing(quick_dag):
    proc = run_snakemake(quick_dag, "--cores", "2")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_paper_config_dry_run_has_one_training_and_capture_job_per_seed(tmp_path, paper_config):
    proc = run_snakemake(tmp_path, "-n", configfile=REPO / "config" / "config.yaml")
    counts = job_counts(proc.stdout)
    n = len(paper_config["seeds"])
    assert counts["train_model"] == n == 9
    assert counts["capture_attention"] == n
    assert counts["prepare_corpus"] == 1


def test_invalid_config_fails_before_any_job_naming_the_key(tmp_path, config_override):
    bad = config_override({"clustering": {"k": 1000}})
    proc = run_snakemake(tmp_path, "--cores", "1", configfile=bad, check=False)
    assert proc.returncode != 0
    assert "config key 'clustering.k'" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_parsing_the_workflow_imports_no_heavy_library(tmp_path):
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.run(
        snakemake_cmd(tmp_path, "-n"), capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if "import time" in line
    }
    assert (
        "phrenology.pipeline.config" in imported
    )  # the profile really covers the workflow's own imports
    assert not imported & {
        "torch",
        "transformer_lens",
        "sklearn",
        "matplotlib",
        "umap",
        "tiktoken",
        "nltk",
    }


def test_models_per_job_groups_the_training_jobs(tmp_path, paper_config, config_override):
    """train.models_per_job 9: one training job for the nine paper seeds; 2 on the quick
    config's three seeds: ceil(3 / 2) = 2 jobs, the seeds in config order."""
    paper_config["train"]["models_per_job"] = 9
    proc = run_snakemake(tmp_path, "-n", configfile=config_override({}, base=paper_config))
    counts = job_counts(proc.stdout)
    assert counts["train_group_0"] == 1
    assert not any(rule.startswith("train_model") for rule in counts)
    assert sum(n for rule, n in counts.items() if rule.startswith("train_group")) == 1
    assert counts["capture_attention"] == 9  # downstream still one job per seed

    quick = config_override({"train": {"models_per_job": 2}})
    proc = run_snakemake(tmp_path, "-n", "--printshellcmds", configfile=quick)
    counts = job_counts(proc.stdout)
    assert (counts["train_group_0"], counts["train_group_1"]) == (1, 1)
    assert "train_model" not in counts
    text = proc.stdout
    first = text[text.index("rule train_group_0:") :].split("\nrule ")[0].split("output:")[1]
    first = first.split("\n")[0]
    assert "seed990/model.pt" in first and "seed991/model.pt" in first
    assert "seed992" not in first


def test_dvc_sync_builds_the_batched_dag(tmp_path, paper_config):
    """dvc.yaml can be generated for a batched config: the group rules map to config keys."""
    from phrenology.provenance import dvc

    paper_config["train"]["models_per_job"] = 9
    path = REPO / "config" / f".batched-{os.getpid()}.yaml"  # build() reads configs in the repo
    path.write_text(__import__("yaml").safe_dump(paper_config, sort_keys=False))
    try:
        doc = dvc.build(path.relative_to(REPO).as_posix())
    finally:
        path.unlink()
    stage = doc["stages"]["train_group_0"]
    assert stage["params"] == [{"${config}": ["model", "seeds", "train"]}]
    outs = [next(iter(o)) for o in stage["outs"]]
    assert outs[:2] == [
        "results/models/seed990/model.pt",
        "results/models/seed990/model.pt.prov.json",
    ]
    assert len(outs) == 9 * 3 * 2  # model, steps, epochs per seed, each with its record
    steps_plot = next(p["training_loss"] for p in doc["plots"] if "training_loss" in p)
    assert len(steps_plot["y"]) == 9
