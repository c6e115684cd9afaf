"""Prompts as a long table with their token text, for figures and for people."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def prompt_table(windows: np.ndarray, vocab: pd.DataFrame) -> pd.DataFrame:
    """One row per (prompt, position): ``prompt, position, token_id, gpt2_id, token``.

    windows: int[n_prompts, n_ctx] model token ids
    vocab:   vocab.tsv (``id, gpt2_id, token``), row i = model id i
    """
    import pandas as pd

    n_prompts, n_ctx = windows.shape
    ids = windows.reshape(-1)
    return pd.DataFrame({
        "prompt": np.repeat(np.arange(n_prompts), n_ctx),
        "position": np.tile(np.arange(n_ctx), n_prompts),
        "token_id": ids,
        "gpt2_id": vocab["gpt2_id"].to_numpy()[ids],
        "token": vocab["token"].to_numpy()[ids],
    })  # fmt: skip


def prompt_tokens(table: pd.DataFrame) -> list[list[str]]:
    """Token text per prompt, in position order, from a :func:`prompt_table`."""
    ordered = table.sort_values(["prompt", "position"])
    return [list(group["token"]) for _, group in ordered.groupby("prompt", sort=True)]
