"""Figures 7–11 draw from small tables and arrays; token text is made label-safe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phrenology.analysis.artificial import ARTIFICIAL_HEADS
from phrenology.analysis.heads import head_label, head_table
from phrenology.pipeline.errors import DataError
from phrenology.plots import save_figure
from phrenology.plots.attention_distance import plot_attention_distance
from phrenology.plots.first_token import plot_first_token
from phrenology.plots.pca_components import plot_component_tokens, plot_pca_components
from phrenology.plots.projections import plot_projections
from phrenology.plots.text import display_token, wrap_title

HEADS = head_table([5, 6], 2, 3)  # 2 models × 2 layers × 3 heads
PARAMS = {"umap": {"n_neighbors": 5, "min_dist": 0.1, "densmap": True}, "tsne": {"perplexity": 5}}


@pytest.mark.parametrize(
    ("token", "shown"),
    [(" the", "the"), ("$", r"\$"), (" US$5", r"US\$5"), ("\n", "\\n"), (" ", "␣"), ("", "∅")],
)
def test_display_token(token, shown):
    assert display_token(token) == shown


def test_wrap_title_fits_width():
    text = "word " * 60 + "\nsecond line"
    lines = wrap_title(text, 3.0).split("\n")
    assert len(lines) > 2 and lines[-1] == "second line"
    assert max(len(line) for line in lines) <= int(3.0 * 72 / 5.5)


def texts(fig) -> str:
    """All text a figure shows (titles, labels, tick labels, legend entries)."""
    return "\n".join(t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text")))


def test_distance_figure_names_every_head(tmp_path):
    d = np.random.default_rng(0).random((12, 12))
    fig = plot_attention_distance((d + d.T) * (1 - np.eye(12)), HEADS, 7, 5)
    shown = texts(fig)
    for row in HEADS.itertuples(index=False):
        assert head_label(row.seed, row.layer, row.head) in shown
    assert "Euclidean distance" in shown
    save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000


def projection_frame(labels):
    rng = np.random.default_rng(1)
    points = [*labels, *ARTIFICIAL_HEADS]
    kinds = ["head"] * len(labels) + ["artificial"] * 3
    return pd.concat(
        [
            pd.DataFrame({"point": points, "kind": kinds, "method": m, "x": rng.random(len(points)),
                          "y": rng.random(len(points))})
            for m in ("pca", "umap", "tsne")
        ]
    )  # fmt: skip


def test_projection_figure_has_models_layers_and_artificial_heads():
    labels = [head_label(r.seed, r.layer, r.head) for r in HEADS.itertuples(index=False)]
    fig = plot_projections(projection_frame(labels), HEADS, PARAMS)
    shown = texts(fig)
    for needle in ("model 5", "model 6", "layer 1", "(a)", "(b)", "(c)", "t-SNE", "densMAP"):
        assert needle in shown
    assert len(fig.axes) == 3


def test_projection_figure_rejects_unknown_heads():
    with pytest.raises(DataError, match=r"heads\.tsv lacks"):
        plot_projections(projection_frame(["999 L0H0"]), HEADS, PARAMS)


def test_component_figures():
    comps = np.random.default_rng(2).normal(size=(3, 4, 5, 5))
    fig = plot_pca_components(comps, [0.5, 0.2, 0.1], 2)
    shown = texts(fig)
    assert "PC1 (50.0 % of variance)" in shown and "prompt 1" in shown and "prompt 2" not in shown
    tokens = [["A", " b", "$", " d", "."]] * 2
    fig = plot_component_tokens(comps[1, :2], 2, 0.2, tokens)
    shown = texts(fig)
    assert "PC2 loading" in shown
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["A", "b", r"\$", "d", "."]


def test_first_token_figure():
    table = pd.DataFrame({
        "prompt": [0, 0, 1, 1], "position": [1, 2, 1, 2], "token": [" the", "Paris", ",", " cat"],
        "word_class": ["stop word", "capitalised", "punctuation", "other word"],
        "pc1": [0.1, 0.2, 0.3, 0.4], "pc2": [0.0, 1.0, 0.5, 0.2],
    })  # fmt: skip
    fig = plot_first_token(table, [0.6, 0.2], 12)
    shown = texts(fig)
    for needle in ("the", "Paris", "stop word (1)", "query position", "PC1 (60.0 % of variance)"):
        assert needle in shown
