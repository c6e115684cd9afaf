"""The knockout rules end to end: on a toy of 2 models × 2 layers × 3 heads (any N × L × H), where
clusters.tsv is written by hand and only the knockout rules may run, and on the quick DAG with the
clustering rules' own clusters.tsv."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_snakemake, write_config

KNOCKOUT_RULES = [
    "knockout_single_head",
    "knockout_cluster",
    "knockout_pca",
    "plot_knockout_single",
    "plot_knockout_cluster",
    "plot_knockout_pca",
]
TABLES = {
    "single": "results/knockout/single_head.tsv",
    "cluster": "results/knockout/cluster_heads.parquet",
    "pca": "results/knockout/knockout_pca.tsv",
}
FIGURES = [
    "results/figures/fig12_knockout_single.png",
    "results/figures/fig13_knockout_cluster.png",
    "results/figures/fig14_knockout_pca.png",
]
PROMPT = "They sit alone in their rooms"


def run_knockout(workdir: Path, configfile: Path, targets, *options: str, check: bool = True):
    """Only the knockout rules may run. Targets follow a one-value option: list options
    (--configfile, --forcerun, --allowed-rules) take every word after them."""
    return run_snakemake(
        workdir, "--cores", "2", *targets, *options, "--allowed-rules", *KNOCKOUT_RULES,
        configfile=configfile, check=check,
    )  # fmt: skip


def write_clusters(workdir: Path, labels) -> pd.DataFrame:
    heads = pd.read_csv(workdir / "results/heads.tsv", sep="\t")
    heads["cluster"] = labels
    (workdir / "results/clustering").mkdir(parents=True, exist_ok=True)
    heads.to_csv(workdir / "results/clustering/clusters.tsv", sep="\t", index=False)
    return heads


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000, f"{path} is suspiciously small"


def check_outputs(workdir: Path, clusters: pd.DataFrame, cluster: int) -> None:
    vocab = pd.read_csv(workdir / "results/corpus/vocab.tsv", sep="\t", keep_default_na=False)
    single = pd.read_csv(workdir / TABLES["single"], sep="\t", keep_default_na=False)
    assert list(single.columns) == ["token_id", "token", "logit_original", "logit_knockout"]
    assert len(single) == len(vocab)  # one row per vocabulary token
    assert single["token"].tolist() == vocab["token"].astype(str).tolist()
    assert not np.allclose(single["logit_original"], single["logit_knockout"])

    members = clusters[clusters["cluster"] == cluster]
    by_head = pd.read_parquet(workdir / TABLES["cluster"])
    assert sorted(by_head["head_index"].unique()) == members["head_index"].tolist()
    assert len(by_head) == len(members) * len(vocab)

    pca = pd.read_csv(workdir / TABLES["pca"], sep="\t")
    assert {"head_index", "pc1", "pc2", "cluster"} <= set(pca.columns)
    assert pca["head_index"].tolist() == clusters["head_index"].tolist()  # one row per head
    assert pca["cluster"].tolist() == clusters["cluster"].tolist()
    assert np.isfinite(pca[["pc1", "pc2"]].to_numpy()).all()
    assert pca["pc1"].std() > 0
    for figure in FIGURES:
        assert_png(workdir / figure)


# --- toy: 2 models × 2 layers × 3 heads ----------------------------------------------------------

TOY_SEEDS = [11, 12]
TOY_MODEL = {"n_layers": 2, "n_heads": 3, "n_ctx": 8, "d_model": 16, "d_head": 4, "d_mlp": 32}


@pytest.fixture
def toy_workdir(tmp_path, quick_config):
    """Backbone outputs for a toy pipeline, written directly (no corpus, no training)."""
    from phrenology.analysis.heads import head_table
    from phrenology.data.vocab import UNK, load_encoding
    from phrenology.models.model import build_model, model_kwargs, save_model

    encoding = load_encoding("gpt2")
    # a compact vocabulary that lacks " rooms": the prompt's last token becomes <unk>
    words = [
        w for w in encoding.encode_ordinary(PROMPT) if w not in encoding.encode_ordinary(" rooms")
    ]
    gpt2_ids = [*words, *encoding.encode_ordinary(" the, of. and a to was"), -1]
    tokens = [encoding.decode([i]) for i in gpt2_ids[:-1]] + [UNK]
    vocab = pd.DataFrame(
        {"id": range(len(gpt2_ids)), "gpt2_id": gpt2_ids, "token": tokens, "count": 1}
    )
    corpus = tmp_path / "results/corpus"
    corpus.mkdir(parents=True)
    vocab.to_csv(corpus / "vocab.tsv", sep="\t", index=False)
    rng = np.random.default_rng(0)
    np.save(corpus / "heldout_tokens.npy", rng.integers(0, len(vocab), 400).astype(np.int32))
    np.save(corpus / "heldout_offsets.npy", np.arange(0, 401, 8, dtype=np.int64))

    cfg = copy.deepcopy(quick_config)
    cfg["seeds"] = TOY_SEEDS
    cfg["model"].update(TOY_MODEL)
    cfg["corpus"]["vocab_size"] = len(vocab) - 1
    cfg["knockout"].update(
        {"model_seed": 12, "layer": 1, "head": 2, "n_prompts": 6, "batch_size": 4, "n_labels": 4}
    )
    cfg["knockout"]["compare"] = [
        {"model_seed": TOY_SEEDS[0], "layer": 0, "head": 0},
        {"model_seed": TOY_SEEDS[1], "layer": 0, "head": 0},
    ]
    for seed in TOY_SEEDS:
        kwargs = model_kwargs(cfg["model"], len(vocab), seed)
        save_model(tmp_path / f"results/models/seed{seed}/model.pt", build_model(kwargs), kwargs)
    head_table(TOY_SEEDS, 2, 3).to_csv(tmp_path / "results/heads.tsv", sep="\t", index=False)
    return tmp_path, cfg


@pytest.mark.integration
@pytest.mark.slow
def test_knockout_rules_on_a_toy_of_2_models_2_layers_3_heads(toy_workdir):
    workdir, cfg = toy_workdir
    labels = [0, 1, 2, 0, 1, 2, 1, 0, 2, 2, 1, 0]
    clusters = write_clusters(workdir, labels)
    configfile = write_config(workdir / "toy.yaml", cfg)
    run_knockout(workdir, configfile, FIGURES)
    # auto = the cluster of the Fig. 12 head: seed 12, layer 1, head 2 = head_index 11
    check_outputs(workdir, clusters, cluster=labels[11])
    single = pd.read_json(workdir / "results/knockout/single_head.json", typ="series")
    assert single["tokens"][-1] == "<unk>"

    # reruns give the same numbers
    first = (workdir / TABLES["pca"]).read_bytes()
    run_knockout(workdir, configfile, [TABLES["pca"]], "--forcerun", "knockout_pca")
    assert (workdir / TABLES["pca"]).read_bytes() == first


@pytest.mark.integration
def test_prompt_longer_than_n_ctx_stops_with_the_key(toy_workdir):
    workdir, cfg = toy_workdir
    cfg["knockout"]["prompt"] = PROMPT + " and wait for the night to fall"
    configfile = write_config(workdir / "toy.yaml", cfg)
    proc = run_knockout(workdir, configfile, [TABLES["single"]], check=False)
    assert proc.returncode != 0
    # checked when the run starts (the tokenizer is cached here), before any job: no job log
    out = proc.stdout + proc.stderr
    assert "config key 'knockout.prompt'" in out and "model.n_ctx = 8" in out
    assert not (workdir / "logs/knockout/single_head.log").exists()
    assert not (workdir / TABLES["single"]).exists()


# --- the quick DAG -----------------------------------------------------------------------------


@pytest.mark.integration
def test_quick_dag_makes_the_knockout_tables_and_figures(quick_dag, quick_config):
    """The real quick run: clusters.tsv from the clustering rules, cluster 'auto' = Fig. 12's head."""
    clusters = pd.read_csv(quick_dag / "results/clustering/clusters.tsv", sep="\t")
    ko = quick_config["knockout"]
    assert ko["cluster"] == "auto"
    fig12_head = clusters[
        (clusters["seed"] == ko["model_seed"])
        & (clusters["layer"] == ko["layer"])
        & (clusters["head"] == ko["head"])
    ]
    check_outputs(quick_dag, clusters, cluster=int(fig12_head["cluster"].iloc[0]))
