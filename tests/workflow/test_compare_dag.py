"""The head-comparison rules end to end: quick DAG outputs, and a 2 × 2 × 3 toy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_snakemake

DATA_OUTPUTS = [
    "results/distance/attention_distance.npy",
    "results/projection/projections.tsv",
    "results/components/pca_components.npy",
    "results/components/explained_variance.tsv",
    "results/components/head_scores.tsv",
    "results/first_token/first_token_pca.tsv",
    "results/first_token/explained_variance.tsv",
]
FIGURES = [
    "results/figures/fig07_attention_distance.png",
    "results/figures/fig08_projections.png",
    "results/figures/fig09_pca_components.png",
    "results/figures/fig10_pca_component_tokens.png",
    "results/figures/fig11_first_token.png",
]
COMPARE_RULES = [
    "attention_distance",
    "plot_attention_distance",
    "project_heads",
    "plot_projections",
    "pca_components",
    "plot_pca_components",
    "first_token_pca",
    "plot_first_token",
]


def check_outputs(workdir: Path, cfg: dict) -> None:
    """Shapes of every data output follow the config; figures are real, non-blank PNGs."""
    from matplotlib.image import imread

    n_heads = len(cfg["seeds"]) * cfg["model"]["n_layers"] * cfg["model"]["n_heads"]
    n_prompts, n_ctx = cfg["capture"]["n_prompts"], cfg["model"]["n_ctx"]
    an = cfg["analysis"]
    k = an["components"]["n_components"]

    d = np.load(workdir / DATA_OUTPUTS[0])
    assert d.shape == (n_heads, n_heads)
    assert (
        np.all(np.diag(d) == 0)
        and np.array_equal(d, d.T)
        and d[~np.eye(n_heads, dtype=bool)].min() > 0
    )

    proj = pd.read_csv(workdir / DATA_OUTPUTS[1], sep="\t")
    assert list(proj.columns) == ["point", "kind", "method", "x", "y"]
    assert len(proj) == 3 * (n_heads + 3)
    assert proj.groupby("method")["kind"].value_counts().to_dict() == {
        (m, kind): count
        for m in ("pca", "tsne", "umap")
        for kind, count in (("artificial", 3), ("head", n_heads))
    }
    assert np.isfinite(proj[["x", "y"]].to_numpy()).all()

    comps = np.load(workdir / DATA_OUTPUTS[2])
    assert comps.shape == (k, n_prompts, n_ctx, n_ctx)
    np.testing.assert_allclose(np.linalg.norm(comps.reshape(k, -1), axis=1), 1.0, rtol=1e-4)
    var = pd.read_csv(workdir / DATA_OUTPUTS[3], sep="\t")
    assert list(var["component"]) == list(range(1, k + 1))
    assert np.all(np.diff(var["explained_variance_ratio"]) <= 0)
    scores = pd.read_csv(workdir / DATA_OUTPUTS[4], sep="\t")
    assert list(scores.columns) == ["head_index", "seed", "layer", "head"] + [
        f"pc{c + 1}" for c in range(k)
    ]
    assert len(scores) == n_heads

    first = pd.read_csv(workdir / DATA_OUTPUTS[5], sep="\t", keep_default_na=False)
    assert len(first) == an["first_token"]["n_prompts"] * (n_ctx - 1)
    assert set(first["position"]) == set(range(1, n_ctx))
    assert first[["pc1", "pc2"]].to_numpy().std(axis=0).min() > 0

    for fig in FIGURES:
        path = workdir / fig
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", fig
        assert path.stat().st_size > 20_000, fig
        image = imread(path)
        assert min(image.shape[:2]) > 400, fig
        assert image[..., :3].std() > 0.05, f"{fig} looks blank"


@pytest.mark.integration
def test_quick_dag_produces_compare_outputs(quick_dag, quick_config):
    check_outputs(quick_dag, quick_config)


def causal_patterns(rng, n_prompts, n_heads, n_ctx):
    scores = rng.normal(size=(n_prompts, n_heads, n_ctx, n_ctx)) * 2
    scores[..., np.triu(np.ones((n_ctx, n_ctx), bool), k=1)] = -np.inf
    w = np.exp(scores - scores.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)).astype(np.float32)


@pytest.mark.integration
@pytest.mark.slow
def test_toy_two_models_two_layers_three_heads(tmp_path, config_override):
    """Only the comparison rules run, on synthetic attention files of 2 × 2 × 3 heads."""
    import yaml

    changes = {
        "seeds": [11, 12],
        "model": {"n_layers": 2, "n_heads": 3, "n_ctx": 6},
        "capture": {"n_prompts": 10},
        "analysis": {
            "components": {"n_components": 3, "n_prompts_shown": 3, "token_component": 2},
            "first_token": {"n_prompts": 4},
            "decomposition": {"n_prompts": 4},
        },
        "knockout": {
            "model_seed": 11,
            "compare": [
                {"model_seed": 11, "layer": 0, "head": 0},
                {"model_seed": 12, "layer": 0, "head": 0},
            ],
        },
    }
    config_path = config_override(changes)
    cfg = yaml.safe_load(config_path.read_text())
    workdir = tmp_path / "work"
    rng = np.random.default_rng(0)
    for seed in cfg["seeds"]:
        path = workdir / f"results/attention/seed{seed}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, causal_patterns(rng, 10, 6, 6))
    words = ["The", " cat", " sat", " on", ",", " the", " $5", " and", " Paris", "<unk>"]
    ids = rng.integers(0, len(words), size=(10, 6))
    prompts = pd.DataFrame(
        {
            "prompt": np.repeat(np.arange(10), 6),
            "position": np.tile(np.arange(6), 10),
            "token_id": ids.ravel(),
            "gpt2_id": [-1 if i == 9 else i for i in ids.ravel()],
            "token": [words[i] for i in ids.ravel()],
        }
    )
    (workdir / "results/corpus").mkdir(parents=True)
    prompts.to_parquet(workdir / "results/corpus/prompts.parquet", index=False)
    targets = [*DATA_OUTPUTS, *FIGURES]
    run_snakemake(
        workdir,
        "--cores",
        "2",
        "--allowed-rules",
        "heads_table",
        *COMPARE_RULES,
        "--",
        *targets,
        configfile=config_path,
    )
    check_outputs(workdir, cfg)
