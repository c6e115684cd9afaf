"""The whole DAG on a family of tiny pretrained models in Hugging Face format (integration):
what ``make run CONFIG=<a pretrained config>`` runs, offline, through the real loading path."""

import copy

import numpy as np
import pandas as pd
import pytest
import tiny_hf_models
import torch
from test_dag import job_counts

from conftest import REPO, run_snakemake, write_config

pytestmark = pytest.mark.integration


def family_config(quick_config, folders, **capture):
    cfg = copy.deepcopy(quick_config)
    for key in ("seeds", "train", "knockout"):
        cfg.pop(key)
    cfg["models"] = {"source": "pretrained", "entries": [{"path": str(f)} for f in folders]}
    cfg["model"] = {"n_layers": 2, "n_heads": 2, "n_ctx": 16}
    cfg["capture"] = {**cfg["capture"], "n_prompts": 64, **capture}
    # smaller than quick.yaml where it costs time and tests nothing more about families
    cfg["autoencoder"] = {**cfg["autoencoder"], "bottlenecks": [2, 4], "epochs": 3}
    cfg["clustering"] = {**cfg["clustering"], "n_gamma": 10}
    return cfg


@pytest.fixture(scope="module")
def family_run(tmp_path_factory):
    from conftest import load_yaml

    root = tmp_path_factory.mktemp("pretrained_dag")
    folders = tiny_hf_models.family(root / "models", "gpt2", n=3)
    cfg = family_config(load_yaml(REPO / "config" / "quick.yaml"), folders)
    config = write_config(root / "family.yaml", cfg)
    work = root / "work"
    work.mkdir()
    proc = run_snakemake(work, "--cores", "2", configfile=config, timeout=3600)
    return work, folders, cfg, proc


def test_whole_dag_runs_on_a_tiny_pretrained_family(family_run):
    work, folders, _, _ = family_run
    names = [f.name for f in folders]
    heads = pd.read_csv(work / "results" / "heads.tsv", sep="\t")
    assert heads.columns.tolist() == ["head_index", "seed", "layer", "head", "model"]
    assert heads["model"].tolist() == [n for n in names for _ in range(4)]
    assert heads["seed"].tolist() == [i for i in range(3) for _ in range(4)]
    for figure in ("fig07_attention_distance", "fig08_projections", "fig01_decoded_token_pairs"):
        assert any((work / "results" / "figures").glob(f"{figure}*.png")), figure
    assert (work / "results" / "metrics.json").is_file()
    assert not (work / "results" / "knockout").exists()  # not run on pretrained families
    assert not (work / "results" / "models").exists()  # nothing trained
    points = pd.read_csv(work / "results" / "projection" / "projections.tsv", sep="\t")
    assert f"{names[1]} L1H0" in set(points["point"])  # labels: <model> L<l>H<h>


def test_captured_patterns_are_the_hugging_face_models_own(family_run):
    work, folders, _, _ = family_run
    from phrenology.models.pretrained import encode_batch, load_hf_model, load_tokenizer

    prompts = np.load(work / "results" / "corpus" / "prompts.npy")
    assert prompts.shape == (64, 16)
    table = pd.read_parquet(work / "results" / "corpus" / "prompts.parquet")
    tok = load_tokenizer(str(folders[0]))
    assert table["token_id"].to_numpy().reshape(64, 16).tolist() == prompts.tolist()
    # the prompts are Brown held-out text in the family's own tokens, without special tokens
    text = tok.decode(prompts[0])
    assert encode_batch(tok)([text])[0][:8] == prompts[0][:8].tolist()
    for folder in folders:
        stored = np.load(work / "results" / "attention" / f"{folder.name}.npy")
        with torch.no_grad():
            ref = load_hf_model(str(folder))(torch.from_numpy(prompts), output_attentions=True)
        want = torch.cat(list(ref.attentions), dim=1).numpy()
        np.testing.assert_allclose(stored, want, atol=1e-4)
    a0, a1 = (np.load(work / "results" / "attention" / f"{f.name}.npy") for f in folders[:2])
    assert not np.allclose(a0, a1)


def test_gram_route_of_the_family_equals_the_exact_analysis(family_run):
    work, folders, cfg, _ = family_run
    from phrenology.analysis.distance import attention_distances
    from phrenology.analysis.heads import head_vectors
    from phrenology.analysis.projection import pattern_components

    stacked = np.concatenate(
        [np.load(work / "results" / "attention" / f"{f.name}.npy") for f in folders], axis=1
    )
    distances = np.load(work / "results" / "distance" / "attention_distance.npy")
    np.testing.assert_allclose(distances, attention_distances(stacked), rtol=1e-9, atol=1e-9)
    k = cfg["analysis"]["components"]["n_components"]
    exact = pattern_components(head_vectors(stacked), 64, 16, k)
    variance = pd.read_csv(work / "results" / "components" / "explained_variance.tsv", sep="\t")
    np.testing.assert_allclose(variance["explained_variance"], exact.explained_variance, rtol=1e-7)
    components = np.load(work / "results" / "components" / "pca_components.npy")
    np.testing.assert_allclose(components, exact.components, atol=1e-5)


def test_dry_run_of_a_family_lists_fetch_and_capture_per_model(tmp_path, quick_config):
    folders = [tmp_path / f"m{i}" for i in range(4)]
    tok = tiny_hf_models.tokenizer()
    for i, f in enumerate(folders):
        tiny_hf_models.build(f, "gpt_neox", seed=i, tok=tok)
    config = write_config(tmp_path / "c.yaml", family_config(quick_config, folders))
    counts = job_counts(run_snakemake(tmp_path, "-n", configfile=config).stdout)
    assert counts["fetch_model"] == counts["capture_pretrained"] == 4
    assert counts["sample_pretrained_prompts"] == counts["pretrained_heads_table"] == 1
    for absent in ("train_model", "prepare_corpus", "sample_prompts", "capture_attention",
                   "heads_table", "knockout_pca"):  # fmt: skip
        assert absent not in counts


@pytest.mark.parametrize(
    ("config", "n_models", "heads_per_model"),
    [("stanford-gpt2-small.yaml", 5, 144), ("polypythia-14m.yaml", 9, 24)],
)
def test_shipped_family_configs_dry_run_without_downloads(
    tmp_path, config, n_models, heads_per_model
):
    proc = run_snakemake(tmp_path, "-n", configfile=REPO / "config" / config)
    counts = job_counts(proc.stdout)
    assert counts["fetch_model"] == counts["capture_pretrained"] == n_models
    assert counts["train_autoencoder"] >= 1 and counts["leiden_sweep"] == 1
    assert "train_model" not in counts and "knockout_pca" not in counts
    from phrenology.pipeline.config import load_config, n_heads_total

    assert n_heads_total(load_config(REPO / "config" / config)) == n_models * heads_per_model
