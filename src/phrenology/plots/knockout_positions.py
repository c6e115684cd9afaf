"""Figs. 12b–12c: the Fig. 12 knockout at every position of the prompt, and two heads of two
models side by side."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.analysis.heads import head_label
from phrenology.analysis.knockout import moved_tokens
from phrenology.plots import new_figure
from phrenology.plots.knockout import _legend_handles, knockout_scatter, prompt_lines, token_text
from phrenology.plots.text import annotate_without_overlap

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

PANEL_COLORS = ("tab:purple", "tab:green")  # the two heads of Fig. 12c


def _position_title(row: Any) -> str:
    after = f" → next {token_text(row.next_token)}" if row.next_token else " (last: predicts next)"
    return f"position {row.position}: {token_text(row.query_token)}{after}\nKL = {row.kl:.3g} nats"


def _scatter_position(ax, table: pd.DataFrame, position: int, n_labels: int) -> None:
    rows = table[table["position"] == position].sort_values("token_id")
    knockout_scatter(
        ax,
        rows["logit_original"].to_numpy(),
        rows["logit_knockout"].to_numpy(),
        rows["token"].astype(str).tolist(),
        n_labels,
        fontsize=6.0,
    )
    ax.tick_params(labelsize=7)


def positions_figure(
    table: pd.DataFrame, effects: pd.DataFrame, meta: Mapping[str, Any], n_labels: int
) -> Figure:
    """Fig. 12b: one logit scatter per position (as Fig. 12), then the KL divergence per position.

    table: positions.parquet; effects: positions.tsv; meta: positions.json
    """
    effects = effects.fillna({"next_token": ""}).sort_values("position")  # "" reads back as NaN
    n = len(effects)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = new_figure(3.7 * ncols, 3.7 * nrows + 3.0)
    fig.get_layout_engine().set(hspace=0.05)
    grid = fig.add_gridspec(nrows + 1, ncols, height_ratios=[*([3.7] * nrows), 2.0])
    for i, row in enumerate(effects.itertuples(index=False)):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        _scatter_position(ax, table, row.position, n_labels)
        ax.set_title(_position_title(row), fontsize=8)
        ax.set_xlabel("original logit", fontsize=7)
        ax.set_ylabel("knocked-out logit", fontsize=7)
    bar = fig.add_subplot(grid[nrows, :])
    positions = effects["position"].to_numpy()
    bar.bar(positions, effects["kl"].to_numpy(), color="0.45")
    bar.set_xticks(
        positions,
        [f"{p}: {token_text(t)}" for p, t in zip(positions, effects["query_token"], strict=True)],
        fontsize=7,
    )
    bar.set_xlabel(
        "position: token there (the prediction made at it is of the next token)", fontsize=8
    )
    bar.set_ylabel("KL(original ‖ knocked out)\nnats", fontsize=8)
    for p, kl, top_o, top_k in zip(
        positions, effects["kl"], effects["top_original"], effects["top_knockout"], strict=True
    ):
        text = token_text(top_o) if top_o == top_k else f"{token_text(top_o)}→{token_text(top_k)}"
        bar.annotate(text, (p, kl), xytext=(0, 2), textcoords="offset points", ha="center",
                     va="bottom", fontsize=6)  # fmt: skip
    bar.margins(y=0.25)
    bar.set_title("how much the knockout changes each position's next-token distribution "
                  "(label: most likely next token, original→knocked out where it changes)",
                  fontsize=8)  # fmt: skip
    label = head_label(meta["seed"], meta["layer"], meta["head"])
    fig.suptitle(
        f"Knockout of head {label} at every position of the Fig. 12 prompt\n"
        + prompt_lines(meta, int(3.7 * ncols * 72 / (10 * 0.6))),
        fontsize=10,
    )
    fig.legend(handles=_legend_handles(), loc="outside lower center", ncols=2, fontsize=7)
    return fig


def compare_figure(
    table: pd.DataFrame, effects: pd.DataFrame, meta: Mapping[str, Any], n_labels: int
) -> Figure:
    """Fig. 12c: two heads of two models knocked out on the same prompt.

    Top: each head's last-position scatter (as Fig. 12), then the two heads' logit changes
    against each other. Bottom: per position, the KL of each head's knockout and the correlation
    of their logit changes across the vocabulary.

    table: compare.parquet (``panel, seed, layer, head, position, token_id, token,
           logit_original, logit_knockout``); effects: compare.tsv; meta: compare.json
    """
    labels = [head_label(h["model_seed"], h["layer"], h["head"]) for h in meta["heads"]]
    effects = effects.fillna({"next_token": ""})
    last = int(table["position"].max())
    fig = new_figure(12.0, 8.6)
    grid = fig.add_gridspec(2, 3, height_ratios=[4.0, 2.2])
    changes = []
    for panel in (0, 1):
        rows = table[table["panel"] == panel]
        ax = fig.add_subplot(grid[0, panel])
        _scatter_position(ax, rows, last, n_labels)
        ax.set_title(f"head {labels[panel]}: last-position logits", fontsize=9,
                     color=PANEL_COLORS[panel])  # fmt: skip
        ax.set_xlabel("original logit", fontsize=8)
        ax.set_ylabel("knocked-out logit", fontsize=8)
        at_last = rows[rows["position"] == last].sort_values("token_id")
        changes.append((at_last["logit_knockout"] - at_last["logit_original"]).to_numpy())
        words = at_last["token"].astype(str).tolist()

    ax = fig.add_subplot(grid[0, 2])
    da, db = changes
    ax.scatter(da, db, s=2, c="0.55", linewidths=0, rasterized=True)
    ax.axhline(0, color="0.8", lw=0.6)
    ax.axvline(0, color="0.8", lw=0.6)
    ends = np.array([min(da.min(), db.min()), max(da.max(), db.max())])
    ax.plot(ends, ends, color="black", lw=0.6, ls="--", label="same change in both")
    both = da + db  # tokens both heads suppress (or both promote) most
    above, below = moved_tokens(np.zeros_like(both), both, n_labels)
    ids = np.concatenate([above, below]).astype(int)
    colors = ["tab:red"] * len(above) + ["tab:blue"] * len(below)
    ax.scatter(da[ids], db[ids], s=10, c=colors, zorder=3)
    ax.legend(loc="lower right", fontsize=6)
    ax.tick_params(labelsize=7)
    annotate_without_overlap(ax, np.column_stack([da[ids], db[ids]]),
                             [token_text(words[i]) for i in ids], 6.0, colors=colors)  # fmt: skip
    r_last = effects[(effects["panel"] == 0) & (effects["position"] == last)]["r"].iloc[0]
    ax.set_title(f"logit change (knocked out − original), last position\nr = {r_last:.2f} "
                 "across the vocabulary", fontsize=9)  # fmt: skip
    ax.set_xlabel(f"change when {labels[0]} is knocked out", fontsize=8, color=PANEL_COLORS[0])
    ax.set_ylabel(f"change when {labels[1]} is knocked out", fontsize=8, color=PANEL_COLORS[1])

    kl_ax = fig.add_subplot(grid[1, 0:2])
    first = effects[effects["panel"] == 0].sort_values("position")
    second = effects[effects["panel"] == 1].sort_values("position")
    positions = first["position"].to_numpy()
    kl_ax.bar(positions - 0.2, first["kl"], width=0.4, color=PANEL_COLORS[0], label=labels[0])
    kl_ax.bar(positions + 0.2, second["kl"], width=0.4, color=PANEL_COLORS[1], label=labels[1])
    ticks = [f"{p}: {token_text(t)}" for p, t in zip(positions, first["query_token"], strict=True)]
    kl_ax.set_xticks(positions, ticks, fontsize=7)
    kl_ax.set_ylabel("KL(original ‖ knocked out)\nnats", fontsize=8)
    kl_ax.set_xlabel("position: token there", fontsize=8)
    kl_ax.legend(fontsize=7, title="head knocked out", title_fontsize=7)
    kl_ax.set_title("how much each knockout changes the next-token distribution", fontsize=9)

    r_ax = fig.add_subplot(grid[1, 2])
    r_ax.bar(positions, first["r"], color="0.45")
    r_ax.axhline(0, color="black", lw=0.6)
    r_ax.set_ylim(-1, 1)
    r_ax.set_xticks(positions, [str(p) for p in positions], fontsize=7)
    r_ax.set_xlabel("position", fontsize=8)
    r_ax.set_ylabel("r of the two heads'\nlogit changes", fontsize=8)
    r_ax.set_title("do the two heads push the same tokens?", fontsize=9)
    fig.suptitle(
        f"Two heads of two models knocked out on the same prompt: {labels[0]} and {labels[1]}\n"
        + prompt_lines(meta, 130),
        fontsize=10,
    )
    return fig
