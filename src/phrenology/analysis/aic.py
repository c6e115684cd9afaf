"""Choosing the bottleneck: the paper's AIC (Table 1).

The paper scores each autoencoder by ``AIC = 2k − 2 ln(MSE)`` with k the bottleneck
width. This is the paper's definition, kept as is: it is not a true AIC (no
likelihood, k is not the parameter count), so it mainly rewards small bottlenecks;
the lowest value wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

AIC_COLUMNS = ["bottleneck", "n_layers", "mse", "aic", "selected"]


def paper_aic(bottleneck: int, mse: float) -> float:
    """2k − 2 ln(MSE), k = bottleneck width."""
    if not mse > 0:
        raise DataError(f"the AIC needs a positive MSE, got {mse} for bottleneck {bottleneck}")
    return 2 * bottleneck - 2 * math.log(mse)


def aic_table(metrics: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per autoencoder: ``bottleneck, n_layers, mse, aic, selected``.

    Rows ordered by bottleneck, largest first (the paper's order). Exactly one row is
    selected: the lowest AIC; a tie goes to the smaller bottleneck (fewer dimensions).
    """
    import pandas as pd

    rows = [
        {
            "bottleneck": int(m["bottleneck"]),
            "n_layers": int(m["n_layers"]),
            "mse": float(m["mse"]),
            "aic": paper_aic(int(m["bottleneck"]), float(m["mse"])),
        }
        for m in metrics
    ]
    if not rows:
        raise DataError("no autoencoder metrics to compare")
    frame = pd.DataFrame(rows).sort_values("bottleneck", ascending=False, ignore_index=True)
    if frame["bottleneck"].duplicated().any():
        raise DataError(
            f"duplicate bottlenecks in the autoencoder metrics: {list(frame['bottleneck'])}"
        )
    best = min(range(len(frame)), key=lambda i: (frame["aic"][i], frame["bottleneck"][i]))
    frame["selected"] = [i == best for i in range(len(frame))]
    return frame[AIC_COLUMNS]


def selected_bottleneck(frame: pd.DataFrame) -> int:
    """The bottleneck of the one selected row of aic.tsv."""
    chosen = frame.loc[frame["selected"].astype(str).str.lower() == "true", "bottleneck"]
    if len(chosen) != 1:
        raise DataError(f"aic.tsv must select exactly one bottleneck, found {len(chosen)}")
    return int(chosen.iloc[0])


def table_markdown(frame: pd.DataFrame, mse_note: str) -> str:
    """Table 1 as Markdown: the AIC table and a note on how the MSE was measured."""
    lines = [
        "# Table 1: autoencoder bottleneck selection by AIC",
        "",
        "| bottleneck | Dense layers | MSE | AIC | selected |",
        "|---:|---:|---:|---:|:---:|",
    ]
    for row in frame.itertuples(index=False):
        mark = "**yes**" if bool(row.selected) else ""
        lines.append(
            f"| {row.bottleneck} | {row.n_layers} | {row.mse:.6f} | {row.aic:.2f} | {mark} |"
        )
    lines += [
        "",
        "AIC = 2k − 2 ln(MSE) with k the bottleneck width, as the paper defines it; the lowest "
        "AIC is selected (ties: the smaller bottleneck).",
        "Dense layers = every Dense layer of the whole autoencoder (encoder, bottleneck, "
        'decoder and output), the paper\'s "keras layers" column.',
        mse_note,
        "",
    ]
    return "\n".join(lines)
