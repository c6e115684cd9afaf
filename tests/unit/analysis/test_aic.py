"""AIC = 2k − 2 ln(MSE) and the bottleneck selection (paper Table 1)."""

import math

import pytest

from phrenology.analysis.aic import aic_table, paper_aic, selected_bottleneck, table_markdown
from phrenology.pipeline.errors import DataError

# The paper's Table 1: bottleneck, keras layers, MSE, AIC (MSE as printed, 3 significant digits)
PAPER_TABLE_1 = [
    (64, 4, 0.000230, 144.75),
    (32, 6, 0.000820, 78.21),
    (16, 8, 0.001563, 44.92),
    (8, 10, 0.002482, 28.00),
    (4, 12, 0.003072, 19.57),
    (2, 14, 0.003356, 15.39),
]


@pytest.mark.parametrize(("k", "layers", "mse", "aic"), PAPER_TABLE_1)
def test_formula_reproduces_paper_table_1(k, layers, mse, aic):
    # tolerance: AIC printed to 2 decimals (±0.005) from an MSE rounded to 3-4 digits (≤ ±0.005)
    assert paper_aic(k, mse) == pytest.approx(aic, abs=0.01)


def test_table_selects_bottleneck_2_as_the_paper():
    metrics = [{"bottleneck": k, "n_layers": n, "mse": m} for k, n, m, _ in PAPER_TABLE_1]
    table = aic_table(reversed(metrics))  # input order must not matter
    assert list(table.columns) == ["bottleneck", "n_layers", "mse", "aic", "selected"]
    assert list(table["bottleneck"]) == [64, 32, 16, 8, 4, 2]  # the paper's order
    assert table["selected"].sum() == 1
    assert selected_bottleneck(table) == 2
    for row, (_, _, _, aic) in zip(table.itertuples(), PAPER_TABLE_1, strict=True):
        assert row.aic == pytest.approx(aic, abs=0.01)


def test_tie_goes_to_smaller_bottleneck():
    # equal AIC: 2·4 − 2 ln m4 = 2·2 − 2 ln m2  ⇔  m4 = m2 · e²
    m2 = 0.001
    metrics = [
        {"bottleneck": 2, "n_layers": 14, "mse": m2},
        {"bottleneck": 4, "n_layers": 12, "mse": m2 * math.e**2},
    ]
    table = aic_table(metrics)
    assert table["aic"][0] == pytest.approx(table["aic"][1])
    assert selected_bottleneck(table) == 2


def test_lower_aic_wins_even_for_a_larger_bottleneck():
    metrics = [
        {"bottleneck": 2, "n_layers": 14, "mse": 0.1},  # 4 + 4.61 = 8.61
        {"bottleneck": 4, "n_layers": 12, "mse": 0.001},  # 8 + 13.8 = 21.8
        {"bottleneck": 3, "n_layers": 12, "mse": 0.5},  # 6 + 1.39 = 7.39
    ]
    assert selected_bottleneck(aic_table(metrics)) == 3


def test_bad_mse_and_duplicates_are_data_errors():
    with pytest.raises(DataError, match="positive MSE"):
        paper_aic(2, 0.0)
    with pytest.raises(DataError, match="duplicate"):
        aic_table([{"bottleneck": 2, "n_layers": 14, "mse": 0.1}] * 2)
    with pytest.raises(DataError):
        aic_table([])


def test_markdown_table_lists_every_row_and_the_note():
    metrics = [{"bottleneck": k, "n_layers": n, "mse": m} for k, n, m, _ in PAPER_TABLE_1]
    text = table_markdown(aic_table(metrics), "MSE on held-out rows.")
    assert "| 2 | 14 | 0.003356 | 15.39 | **yes** |" in text
    assert "| 64 | 4 | 0.000230 | 144.75 |  |" in text
    assert "MSE on held-out rows." in text
