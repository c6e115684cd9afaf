"""Choosing the bottleneck: the paper's AIC (Table 1), and likelihood-based criteria beside it.

The paper scores each autoencoder by ``AIC = 2k − 2 ln(MSE)`` with k the bottleneck
width. This is the paper's definition, kept as is: it is not a true AIC (no
likelihood, k is not the parameter count), so it mainly rewards small bottlenecks;
the lowest value wins.

Beside it, the criteria of a Gaussian likelihood: if the n fitted values (rows × token pairs
on which the MSE was measured) have independent N(0, σ²) errors, the maximum log-likelihood is
``ln L = −n/2 · (ln(2π · MSE) + 1)``, so with p the autoencoder's parameter count

    Gaussian AIC = 2p − 2 ln L,      Gaussian BIC = p ln n − 2 ln L.

With n in the hundreds of thousands, ``n ln MSE`` dominates and these pick the bottleneck with
the lowest MSE unless its extra parameters cost more. Which criterion selects the row the
pipeline uses is ``autoencoder.selection`` (default ``paper``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

AIC_COLUMNS = ["bottleneck", "n_layers", "mse", "aic", "selected"]
LIKELIHOOD_COLUMNS = ["n_values", "n_parameters", "gaussian_aic", "gaussian_bic"]
CRITERIA = {"paper": "aic", "gaussian_aic": "gaussian_aic", "gaussian_bic": "gaussian_bic"}


def paper_aic(bottleneck: int, mse: float) -> float:
    """2k − 2 ln(MSE), k = bottleneck width."""
    if not mse > 0:
        raise DataError(f"the AIC needs a positive MSE, got {mse} for bottleneck {bottleneck}")
    return 2 * bottleneck - 2 * math.log(mse)


def gaussian_log_likelihood(mse: float, n_values: int) -> float:
    """Maximum Gaussian log-likelihood of ``n_values`` residuals whose mean square is ``mse``."""
    if not mse > 0 or n_values < 1:
        raise DataError(f"the likelihood needs a positive MSE and values, got {mse}, {n_values}")
    return -0.5 * n_values * (math.log(2 * math.pi * mse) + 1.0)


def gaussian_aic(mse: float, n_values: int, n_parameters: int) -> float:
    """2p − 2 ln L of a Gaussian likelihood (see the module docstring)."""
    return 2 * n_parameters - 2 * gaussian_log_likelihood(mse, n_values)


def gaussian_bic(mse: float, n_values: int, n_parameters: int) -> float:
    """p ln n − 2 ln L of a Gaussian likelihood."""
    return n_parameters * math.log(n_values) - 2 * gaussian_log_likelihood(mse, n_values)


def aic_table(metrics: Iterable[Mapping[str, Any]], selection: str = "paper") -> pd.DataFrame:
    """One row per autoencoder: ``bottleneck, n_layers, mse, aic, selected`` and, when every
    metric has ``n_values`` and ``n_parameters``, ``n_values, n_parameters, gaussian_aic,
    gaussian_bic``.

    Rows ordered by bottleneck, largest first (the paper's order). Exactly one row is
    selected: the lowest value of the criterion ``selection`` (``paper`` = the paper's AIC,
    ``gaussian_aic``, ``gaussian_bic``); a tie goes to the smaller bottleneck (fewer dimensions).
    """
    import pandas as pd

    if selection not in CRITERIA:
        raise DataError(f"unknown selection criterion {selection!r}; one of {list(CRITERIA)}")
    metrics = list(metrics)
    likelihood = bool(metrics) and all("n_values" in m and "n_parameters" in m for m in metrics)
    rows = []
    for m in metrics:
        k, mse = int(m["bottleneck"]), float(m["mse"])
        row = {
            "bottleneck": k,
            "n_layers": int(m["n_layers"]),
            "mse": mse,
            "aic": paper_aic(k, mse),
        }
        if likelihood:
            n, p = int(m["n_values"]), int(m["n_parameters"])
            row.update(n_values=n, n_parameters=p, gaussian_aic=gaussian_aic(mse, n, p),
                       gaussian_bic=gaussian_bic(mse, n, p))  # fmt: skip
        rows.append(row)
    if not rows:
        raise DataError("no autoencoder metrics to compare")
    frame = pd.DataFrame(rows).sort_values("bottleneck", ascending=False, ignore_index=True)
    if frame["bottleneck"].duplicated().any():
        raise DataError(
            f"duplicate bottlenecks in the autoencoder metrics: {list(frame['bottleneck'])}"
        )
    column = CRITERIA[selection]
    if column not in frame.columns:
        raise DataError(
            f"selection {selection!r} needs n_values and n_parameters in every autoencoder's metrics"
        )
    frame["selected"] = [i == lowest(frame, column) for i in range(len(frame))]
    return frame[AIC_COLUMNS + (LIKELIHOOD_COLUMNS if likelihood else [])]


def lowest(frame: pd.DataFrame, column: str) -> int:
    """Row position of the lowest ``column``; a tie goes to the smaller bottleneck."""
    return min(range(len(frame)), key=lambda i: (frame[column][i], frame["bottleneck"][i]))


def selected_bottleneck(frame: pd.DataFrame) -> int:
    """The bottleneck of the one selected row of aic.tsv."""
    chosen = frame.loc[frame["selected"].astype(str).str.lower() == "true", "bottleneck"]
    if len(chosen) != 1:
        raise DataError(f"aic.tsv must select exactly one bottleneck, found {len(chosen)}")
    return int(chosen.iloc[0])


def table_markdown(frame: pd.DataFrame, mse_note: str, selection: str = "paper") -> str:
    """Table 1 as Markdown: the AIC table (with the Gaussian criteria where the frame has them,
    the lowest of each in bold) and a note on how the MSE was measured."""
    likelihood = "gaussian_aic" in frame.columns
    header = "| bottleneck | Dense layers | MSE | AIC | selected |"
    rule = "|---:|---:|---:|---:|:---:|"
    if likelihood:
        header += " parameters | Gaussian AIC | Gaussian BIC |"
        rule += "---:|---:|---:|"
        best = {c: lowest(frame, c) for c in ("gaussian_aic", "gaussian_bic")}
    lines = ["# Table 1: autoencoder bottleneck selection by AIC", "", header, rule]
    for i, row in enumerate(frame.itertuples(index=False)):
        mark = "**yes**" if bool(row.selected) else ""
        line = f"| {row.bottleneck} | {row.n_layers} | {row.mse:.6f} | {row.aic:.2f} | {mark} |"
        if likelihood:
            cells = [
                f"**{getattr(row, c):.4g}**" if best[c] == i else f"{getattr(row, c):.4g}"
                for c in ("gaussian_aic", "gaussian_bic")
            ]
            line += f" {row.n_parameters} | {cells[0]} | {cells[1]} |"
        lines.append(line)
    criterion = {"paper": "the paper's AIC", "gaussian_aic": "the Gaussian AIC",
                 "gaussian_bic": "the Gaussian BIC"}[selection]  # fmt: skip
    lines += [
        "",
        "AIC = 2k − 2 ln(MSE) with k the bottleneck width, as the paper defines it (not a "
        "likelihood: it rewards small bottlenecks almost by construction).",
    ]
    if likelihood:
        n = frame["n_values"].iloc[0]
        picks = {c: int(frame["bottleneck"][best[c]]) for c in best}
        lines.append(
            f"Gaussian AIC = 2p − 2 ln L and BIC = p ln n − 2 ln L, ln L = −n/2 (ln(2π MSE) + 1), "
            f"n = {n} fitted values (rows × token pairs of the MSE), p = the autoencoder's "
            f"parameters; lowest in bold: the Gaussian AIC picks bottleneck "
            f"{picks['gaussian_aic']}, the BIC {picks['gaussian_bic']}."
        )
    lines += [
        f"Selected (autoencoder.selection = {selection}): the bottleneck with the lowest value of "
        f"{criterion} (ties: the smaller bottleneck).",
        "Dense layers = every Dense layer of the whole autoencoder (encoder, bottleneck, "
        'decoder and output), the paper\'s "keras layers" column.',
        mse_note,
        "",
    ]
    return "\n".join(lines)
