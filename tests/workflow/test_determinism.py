"""Determinism: two runs of the quick configuration from scratch give byte-identical tensors
and tables on CPU (content hashes via ``phrenology hashes``), and the hash manifest itself
tells a changed number from a changed timing."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from phrenology.pipeline import io
from phrenology.pipeline.cli import main
from phrenology.provenance.hashes import compare, content_hash, manifest, products

from conftest import run_snakemake


@pytest.fixture
def small_run(tmp_path):
    """A results folder with one product of every hashed kind."""
    res = tmp_path / "results"
    io.save_npy(res / "attention" / "seed1.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
    io.write_tsv(res / "models" / "seed1" / "steps.tsv",
                 pd.DataFrame({"step": [1, 2], "loss": [2.5, 2.25], "tokens_per_s": [1e4, 2e4],
                               "seconds": [0.1, 0.2]}))  # fmt: skip
    io.write_tsv(res / "heads.tsv", pd.DataFrame({"head_index": [0, 1], "seed": [1, 1]}))
    io.write_json(res / "k2" / "metrics.json", {"mse": 0.5, "seconds": 1.2, "device": "cpu"})
    io.write_parquet(res / "prompts.parquet", pd.DataFrame({"token": ["a", "b"]}))
    io.save_torch(res / "models" / "seed1" / "model.pt",
                  {"state_dict": {"w": torch.ones(3)}, "metrics": {"seconds": 3.0}})  # fmt: skip
    (res / "figures").mkdir()
    (res / "figures" / "fig01.png").write_bytes(b"\x89PNG made at 10:31")
    (res / "heads.tsv.prov.json").write_text("{}")
    (res / "checkpoints").mkdir()
    (res / "checkpoints" / "seed1.pt").write_bytes(b"resumable state")
    return res


def test_manifest_covers_tensors_and_tables_only(small_run):
    names = [str(p.relative_to(small_run)) for p in products(small_run)]
    assert names == ["attention/seed1.npy", "heads.tsv", "k2/metrics.json",
                     "models/seed1/model.pt", "models/seed1/steps.tsv", "prompts.parquet"]  # fmt: skip


def test_timings_do_not_change_a_hash_but_numbers_do(small_run):
    before = manifest(small_run)
    steps = small_run / "models" / "seed1" / "steps.tsv"
    io.write_tsv(steps, pd.DataFrame({"step": [1, 2], "loss": [2.5, 2.25],
                                      "tokens_per_s": [9e3, 3e4], "seconds": [0.4, 0.9]}))  # fmt: skip
    io.write_json(small_run / "k2" / "metrics.json", {"mse": 0.5, "seconds": 7.0, "device": "cuda"})
    io.save_torch(small_run / "models" / "seed1" / "model.pt",
                  {"state_dict": {"w": torch.ones(3)}, "metrics": {"seconds": 9.0}})  # fmt: skip
    assert manifest(small_run) == before

    io.write_tsv(steps, pd.DataFrame({"step": [1, 2], "loss": [2.5, 2.2500001],
                                      "tokens_per_s": [9e3, 3e4], "seconds": [0.4, 0.9]}))  # fmt: skip
    w = torch.ones(3)
    w[1] = torch.nextafter(w[1], torch.tensor(2.0))  # one bit
    io.save_torch(small_run / "models" / "seed1" / "model.pt",
                  {"state_dict": {"w": w}, "metrics": {"seconds": 9.0}})  # fmt: skip
    diff = compare(manifest(small_run), before)
    assert diff["differ"] == ["results/models/seed1/model.pt", "results/models/seed1/steps.tsv"]


def test_torch_files_of_equal_tensors_are_byte_identical(tmp_path):
    """Saved under different temporary names (pids), still the same bytes."""
    for name in ("a.pt", "b.pt"):
        io.save_torch(tmp_path / name, {"w": torch.arange(5.0)})
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert content_hash(tmp_path / "a.pt") == content_hash(tmp_path / "b.pt")


def test_cli_writes_and_compares_manifests(small_run, tmp_path, capsys):
    saved = tmp_path / "run1.tsv"
    assert main(["hashes", "--results", str(small_run), "-o", str(saved)]) == 0
    assert len(saved.read_text().splitlines()) == 6
    assert main(["hashes", "--results", str(small_run), "--compare", str(saved)]) == 0
    io.save_npy(small_run / "attention" / "seed1.npy", np.zeros((3, 4), dtype=np.float32))
    (small_run / "heads.tsv").unlink()
    capsys.readouterr()
    assert main(["hashes", "--results", str(small_run), "--compare", str(saved)]) == 1
    out = capsys.readouterr().out
    assert "differs\tresults/attention/seed1.npy" in out
    assert f"only in {saved}\tresults/heads.tsv" in out


@pytest.mark.integration
@pytest.mark.slow
def test_two_quick_runs_from_scratch_are_identical(quick_dag, tmp_path):
    """The session's quick run against a second one from scratch (same machine, same cores).

    With PHRENOLOGY_QUICK_RESULTS set, the first run is that older run, which must then come
    from this code with --cores 2."""
    second = tmp_path / "second"
    second.mkdir()
    run_snakemake(second, "--cores", "2")
    first_hashes, second_hashes = manifest(quick_dag / "results"), manifest(second / "results")

    # every output is hashed except figures and provenance records (and their summaries)
    files = {str(p.relative_to(second)) for p in (second / "results").rglob("*")
             if p.is_file() and not p.name.startswith(".")}  # fmt: skip
    unhashed = {f for f in files - second_hashes.keys()
                if not f.endswith((".png", ".prov.json")) and not f.startswith("results/report/")}  # fmt: skip
    assert not unhashed
    assert len(second_hashes) >= 55

    diff = compare(first_hashes, second_hashes)
    assert diff == {"differ": [], "only_a": [], "only_b": []}, json.dumps(diff, indent=1)


def rerun_targets(config: dict, train_seed: int | None = None) -> dict[str, list[str]]:
    """Rule → the products of one of its jobs: training (of ``train_seed``, by default the first
    seed), capture, an autoencoder, the Leiden sweep and the matching null — a job of every kind
    of computation the DAG does."""
    seed, k = config["seeds"][0], config["autoencoder"]["bottlenecks"][0]
    train_seed = seed if train_seed is None else train_seed
    return {
        "train_model": [f"results/models/seed{train_seed}/{f}" for f in ("model.pt", "steps.tsv", "epochs.tsv")],
        "capture_attention": [f"results/attention/seed{seed}.npy"],
        "train_autoencoder": [f"results/autoencoder/k{k}/{f}" for f in ("model.pt", "codes.npy")],
        "leiden_sweep": ["results/clustering/gamma_sweep.tsv", "results/clustering/clusters.tsv"],
        "verdict_matching": ["results/verdict/matching.json", "results/verdict/families.tsv"],
    }  # fmt: skip


@pytest.mark.integration
def test_rerunning_one_job_of_each_kind_gives_identical_bytes(quick_dag, quick_config, tmp_path):
    """The fast half of the check above (which is `slow`): on a copy of the session's run, one
    job per kind of computation runs again (--force, nothing else: --allowed-rules) and its
    products must hash as before.

    The session's run had its jobs in prewarmed processes (``phrenology prewarm``, as ``make
    run``); the rerun has each in a process of its own (plain ``snakemake``): so this is also
    the check that prewarming changes no output."""
    seeds, train_seed = quick_config["seeds"], None
    if not os.environ.get("PHRENOLOGY_QUICK_RESULTS"):  # a reused older run has no such logs

        def prewarmed(log: str) -> bool:
            return "runs in a prewarmed process" in (quick_dag / "logs" / log).read_text()

        # a training job that started while the server was still importing ran on its own (a
        # slow machine); the later ones, and every job after the captures, ran prewarmed
        train_seed = next((s for s in seeds if prewarmed(f"train/seed{s}.log")), None)
        assert train_seed is not None, "no training job of the session's run ran prewarmed"
        k = quick_config["autoencoder"]["bottlenecks"][0]
        for log in (f"capture/seed{seeds[0]}.log", f"autoencoder/k{k}.log",
                    "clustering/leiden_sweep.log", "verdict/matching.log"):  # fmt: skip
            assert prewarmed(log), log
    workdir = tmp_path / "run"
    shutil.copytree(quick_dag / "results", workdir / "results")
    targets = rerun_targets(quick_config, train_seed)
    paths = [p for ps in targets.values() for p in ps]
    before = {p: content_hash(workdir / p) for p in paths}
    for p in paths:
        (workdir / p).unlink()  # a product that is not rewritten fails below, not passes
    run_snakemake(workdir, "--cores", "2", "--force", "--allowed-rules", *targets, "--", *paths)
    assert {p: content_hash(workdir / p) for p in paths} == before
