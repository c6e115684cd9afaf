"""Gaussian-likelihood AIC/BIC beside the paper's AIC in Table 1."""

import itertools
import math

import pytest

from phrenology.analysis.aic import (
    aic_table,
    gaussian_aic,
    gaussian_bic,
    gaussian_log_likelihood,
    selected_bottleneck,
    table_markdown,
)
from phrenology.analysis.autoencoder import layer_widths
from phrenology.pipeline.errors import DataError

# The paper's Table 1 (bottleneck, keras layers, MSE): 1024 prompts × 72 heads rows × 256 cells
PAPER = [(64, 4, 0.000230), (32, 6, 0.000820), (16, 8, 0.001563), (8, 10, 0.002482),
         (4, 12, 0.003072), (2, 14, 0.003356)]  # fmt: skip
N_VALUES = 1024 * 72 * 256


def n_parameters(bottleneck: int, n_features: int = 256, first_width: int = 128) -> int:
    widths = layer_widths(n_features, bottleneck, first_width)
    return sum(a * b + b for a, b in itertools.pairwise(widths))


def paper_metrics():
    return [
        {
            "bottleneck": k,
            "n_layers": n,
            "mse": m,
            "n_values": N_VALUES,
            "n_parameters": n_parameters(k),
        }
        for k, n, m in PAPER
    ]


def test_log_likelihood_matches_the_normal_density():
    # residuals ±s: MSE = s², and ln L is the sum of ln N(±s; 0, s²) = n (−½ ln(2π s²) − ½)
    s, n = 0.3, 10
    assert gaussian_log_likelihood(s**2, n) == pytest.approx(
        n * (-0.5 * math.log(2 * math.pi * s**2) - 0.5)
    )
    assert gaussian_aic(s**2, n, 3) == pytest.approx(6 - 2 * gaussian_log_likelihood(s**2, n))
    assert gaussian_bic(s**2, n, 3) == pytest.approx(
        3 * math.log(n) - 2 * gaussian_log_likelihood(s**2, n)
    )
    with pytest.raises(DataError):
        gaussian_log_likelihood(0.0, n)


def test_with_the_papers_mses_the_likelihood_criteria_pick_64_and_the_paper_2():
    table = aic_table(paper_metrics())
    assert selected_bottleneck(table) == 2  # the default stays the paper's selection
    assert int(table.loc[table["gaussian_aic"].idxmin(), "bottleneck"]) == 64
    assert int(table.loc[table["gaussian_bic"].idxmin(), "bottleneck"]) == 64
    assert selected_bottleneck(aic_table(paper_metrics(), "gaussian_aic")) == 64


def test_parameters_can_outweigh_the_fit():
    # two fits nearly as good: the one with far fewer parameters wins the BIC
    metrics = [
        {"bottleneck": 2, "n_layers": 4, "mse": 0.0100, "n_values": 1000, "n_parameters": 10},
        {"bottleneck": 8, "n_layers": 4, "mse": 0.0099, "n_values": 1000, "n_parameters": 500},
    ]
    assert selected_bottleneck(aic_table(metrics, "gaussian_bic")) == 2
    assert selected_bottleneck(aic_table(metrics, "gaussian_aic")) == 2


def test_likelihood_selection_needs_the_counts():
    bare = [{"bottleneck": k, "n_layers": n, "mse": m} for k, n, m in PAPER]
    assert "gaussian_aic" not in aic_table(bare).columns
    with pytest.raises(DataError, match="n_values and n_parameters"):
        aic_table(bare, "gaussian_bic")
    with pytest.raises(DataError, match="unknown selection"):
        aic_table(bare, "likelihood")


def test_markdown_shows_both_criteria_and_what_they_pick():
    text = table_markdown(aic_table(paper_metrics()), "note", "paper")
    assert "| 2 | 14 | 0.003356 | 15.39 | **yes** |" in text
    assert "Gaussian AIC picks bottleneck 64, the BIC 64" in text
    assert "autoencoder.selection = paper" in text
