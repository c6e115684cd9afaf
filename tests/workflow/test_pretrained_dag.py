"""The whole DAG on a family of tiny pretrained models in Hugging Face format (integration),
run by ``make run CONFIG=<a pretrained config>``, offline, through the real loading path."""

import copy
import json
import subprocess
import sys
from pathlib import Path

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
    for key in ("seeds", "train"):
        cfg.pop(key)
    cfg["models"] = {"source": "pretrained", "entries": [{"path": str(f)} for f in folders]}
    cfg["model"] = {"n_layers": 2, "n_heads": 2, "n_ctx": 16}
    cfg["capture"] = {**cfg["capture"], "n_prompts": 64, **capture}
    # smaller than quick.yaml where it costs time and tests nothing more about families
    cfg["autoencoder"] = {**cfg["autoencoder"], "bottlenecks": [2, 4], "epochs": 3}
    cfg["clustering"] = {**cfg["clustering"], "n_gamma": 10}
    cfg["knockout"] = {"n_prompts": 12, "prompt_seed": 7, "batch_size": 5}
    stats = cfg["statistics"]
    cfg["statistics"] = {
        **stats, "n_permutations": 50,
        "stability": {**stats["stability"], "n_bootstrap": 4, "n_chunks": 1, "n_leiden_seeds": 3},
        "sensitivity": {**stats["sensitivity"], "k_offsets": [0]},
    }  # fmt: skip
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
    # exactly what a user types, `make run CONFIG=<family>`, with the outputs in a temporary
    # working directory (SMK_ARGS) and this interpreter's environment (no venv step: STAMP=)
    cmd = ["make", "-C", str(REPO), "run", f"CONFIG={config}", "CORES=2",
           f"SMK_ARGS=--directory {work}", "STAMP=", f"BIN={Path(sys.executable).parent}"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, f"make run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
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
    assert (work / "results" / "figures" / "fig14_knockout_pca.png").is_file()
    assert not (work / "results" / "knockout" / "single_head.tsv").exists()  # Figs. 12-13: trained
    assert not (work / "results" / "models").exists()  # nothing trained
    for figure in ("verdict_null", "verdict_consensus", "verdict_matching"):
        assert (work / "results" / "figures" / f"{figure}.png").is_file(), figure
    overview = pd.read_csv(work / "results" / "overview" / "model_clusters.tsv", sep="\t")
    assert overview["model"].drop_duplicates().tolist() == names  # aggregate view by model name
    assert overview["n_heads"].sum() == 12
    metrics = json.loads((work / "results" / "metrics.json").read_text())
    assert 0 < metrics["verdict"]["best_f_p"] <= 1
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


def test_family_knockout_gram_equals_knocking_out_each_head_alone(family_run):
    work, folders, cfg, _ = family_run
    from phrenology.analysis.knockout import gram_pca, knockout_gram
    from phrenology.data.corpus import load_stream, sample_windows
    from phrenology.models.pretrained import load_hooked

    corpus = work / "results" / "corpus"
    stream = load_stream(
        corpus / "family_heldout_tokens.npy", corpus / "family_heldout_offsets.npy"
    )
    k = cfg["knockout"]
    prompts = np.load(work / "results" / "knockout" / "knockout_prompts.npy")
    want_prompts = sample_windows(stream, k["n_prompts"], cfg["model"]["n_ctx"], k["prompt_seed"])
    np.testing.assert_array_equal(prompts, want_prompts)
    # windows of the family's held-out stream (its own token ids), from different sentences
    assert prompts.max() < 400 and len(set(prompts[:, 0])) > 1
    models = [load_hooked(str(f)) for f in folders]
    want = knockout_gram(models, prompts, batch_size=len(prompts), batched=False)
    gram = np.load(work / "results" / "knockout" / "knockout_gram.npy")
    assert gram.shape == (12, 12)
    np.testing.assert_allclose(gram, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    table = pd.read_csv(work / "results" / "knockout" / "knockout_pca.tsv", sep="\t")
    scores, _ = gram_pca(want)
    np.testing.assert_allclose(
        table[["pc1", "pc2"]].to_numpy(), scores, atol=1e-4 * np.abs(scores).max()
    )


def test_family_untrained_baseline_is_each_architecture_at_initialisation(family_run):
    work, folders, cfg, _ = family_run
    from transformers import AutoConfig, AutoModelForCausalLM

    from phrenology.models.pretrained import untrained_seed

    prompts = torch.from_numpy(np.load(work / "results" / "corpus" / "prompts.npy"))
    record = json.loads((work / "results" / "untrained" / "models.json").read_text())
    assert [m["name"] for m in record["models"]] == [f.name for f in folders]
    for i, folder in enumerate(folders):
        seed = untrained_seed(cfg["statistics"]["seed"], i)
        assert record["models"][i]["torch_seed"] == seed
        torch.manual_seed(seed)
        hf = AutoModelForCausalLM.from_config(
            AutoConfig.from_pretrained(folder), attn_implementation="eager"
        ).eval()
        with torch.no_grad():
            want = torch.cat(list(hf(prompts, output_attentions=True).attentions), dim=1).numpy()
        got = np.load(work / "results" / "untrained" / "attention" / f"{folder.name}.npy")
        np.testing.assert_allclose(got, want, atol=1e-5)
        trained = np.load(work / "results" / "attention" / f"{folder.name}.npy")
        assert not np.allclose(got, trained, atol=1e-3)  # not the family's own weights
    summary = json.loads((work / "results" / "verdict" / "summary.json").read_text())
    assert 0 < summary["untrained"]["p"] <= 1


def test_dry_run_of_a_family_lists_fetch_and_capture_per_model(tmp_path, quick_config):
    folders = [tmp_path / f"m{i}" for i in range(4)]
    tok = tiny_hf_models.tokenizer()
    for i, f in enumerate(folders):
        tiny_hf_models.build(f, "gpt_neox", seed=i, tok=tok)
    config = write_config(tmp_path / "c.yaml", family_config(quick_config, folders))
    counts = job_counts(run_snakemake(tmp_path, "-n", configfile=config).stdout)
    assert counts["fetch_model"] == counts["capture_pretrained"] == 4
    assert counts["sample_pretrained_prompts"] == counts["pretrained_heads_table"] == 1
    assert counts["knockout_pca"] == counts["untrained_baseline"] == counts["verdict_summary"] == 1
    for absent in ("train_model", "prepare_corpus", "sample_prompts", "capture_attention",
                   "heads_table", "knockout_single_head", "knockout_cluster"):  # fmt: skip
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
    assert "train_model" not in counts and "knockout_single_head" not in counts
    assert counts["knockout_pca"] == counts["untrained_baseline"] == counts["verdict_summary"] == 1
    from phrenology.pipeline.config import load_config, n_heads_total

    assert n_heads_total(load_config(REPO / "config" / config)) == n_models * heads_per_model
