"""NMF and sparse-PCA components of the heads' patterns, beside the PCA of Fig. 9, and the heads
most extreme along each component: aids for naming what a cluster of heads does.

The samples are heads and the features every (prompt, query, key) attention weight, exactly as
for the principal components (:mod:`phrenology.analysis.projection`), but only over the first
``n_prompts`` prompts and only over the causal cells (key ≤ query): the cells above the diagonal
are 0 in every head, carry nothing, and would only slow sparse PCA down.

* **NMF** (scikit-learn ``NMF``, ``init="nndsvda"``, seeded): attention weights are ≥ 0, so every
  head is approximated as a non-negative mix of non-negative "part" patterns; a component is a
  pattern a head may or may not use, never a contrast.
* **Sparse PCA** (``SparsePCA``, ``alpha`` the L1 weight, seeded): like PCA, components are
  contrasts, but most of their loadings are exactly 0, so a component names a few cells.
  Signs are fixed as for PCA (largest loading positive).

A head's *score* on a component is its NMF weight (≥ 0) or its sparse-PCA coordinate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.analysis.projection import fix_signs
from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

METHODS: tuple[str, ...] = ("nmf", "sparse_pca")
SCORE_COLUMNS = ["head_index", "seed", "layer", "head", "method", "component", "score"]
EXTREME_COLUMNS = [
    "method", "component", "side", "rank", "head_index", "seed", "layer", "head", "score",
]  # fmt: skip


@dataclass(frozen=True)
class Decomposition:
    """components: float64[k, n_prompts, n_ctx, n_ctx] (0 above the diagonal);
    scores: float64[H, k]; share: float64[k], each component's share of the fitted
    reconstruction (sum of squares of score × component over that of all components together)."""

    method: str
    components: np.ndarray
    scores: np.ndarray
    share: np.ndarray


def causal_cells(patterns: np.ndarray, n_prompts: int) -> np.ndarray:
    """Heads × causal cells of the first ``n_prompts`` prompts.

    patterns: float[n_prompts_all, H, n_ctx, n_ctx] → float64[H, n_prompts · n_ctx (n_ctx + 1) / 2]
    """
    if n_prompts > patterns.shape[0]:
        raise DataError(f"cannot use {n_prompts} prompts: the patterns hold {patterns.shape[0]}")
    n_ctx = patterns.shape[-1]
    rows, cols = np.tril_indices(n_ctx)
    cells = np.asarray(patterns[:n_prompts][:, :, rows, cols], dtype=np.float64)  # [P, H, pairs]
    return np.ascontiguousarray(cells.transpose(1, 0, 2)).reshape(patterns.shape[1], -1)


def cells_to_maps(components: np.ndarray, n_prompts: int, n_ctx: int) -> np.ndarray:
    """float[k, n_prompts · n_pairs] causal-cell components → float64[k, n_prompts, n_ctx, n_ctx]."""
    k = len(components)
    rows, cols = np.tril_indices(n_ctx)
    maps = np.zeros((k, n_prompts, n_ctx, n_ctx))
    maps[:, :, rows, cols] = np.asarray(components, dtype=np.float64).reshape(k, n_prompts, -1)
    return maps


def _shares(scores: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Each rank-1 term's sum of squares over that of the whole reconstruction."""
    total = float(np.square(scores @ components).sum())
    each = np.square(scores).sum(axis=0) * np.square(components).sum(axis=1)
    return each / total if total > 0 else np.zeros(len(components))


def nmf(
    x: np.ndarray, n_components: int, seed: int, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """x: float[H, D] ≥ 0 → (components float64[k, D] ≥ 0, scores float64[H, k] ≥ 0).

    Components are scaled to unit norm (their scale moved into the scores) and ordered by
    decreasing share, so a rerun gives the same numbered components."""
    import warnings

    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    if (x < 0).any():
        raise DataError("NMF needs non-negative patterns; these have negative values")
    model = NMF(n_components=n_components, init="nndsvda", random_state=seed, max_iter=max_iter)
    with warnings.catch_warnings():  # reported in the log instead, with the iteration count
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = model.fit_transform(x)
    if model.n_iter_ >= max_iter:
        print(f"NMF stopped at max_iter ({max_iter}) before converging", flush=True)
    components = model.components_.astype(np.float64)
    norms = np.linalg.norm(components, axis=1)
    norms[norms == 0] = 1.0
    components, scores = components / norms[:, None], scores * norms[None, :]
    order = np.argsort(-_shares(scores, components), kind="stable")
    return components[order], scores[:, order]


def sparse_pca(
    x: np.ndarray, n_components: int, seed: int, alpha: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """x: float[H, D] → (components float64[k, D], mostly 0; scores float64[H, k]).

    Ordered by decreasing share; signs fixed so each component's largest loading is positive."""
    import warnings

    from sklearn.decomposition import SparsePCA
    from sklearn.exceptions import ConvergenceWarning

    model = SparsePCA(
        n_components=n_components,
        alpha=alpha,
        method="cd",
        max_iter=max_iter,
        random_state=seed,
    )
    with warnings.catch_warnings():  # one per inner lasso that stops early: thousands
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = model.fit_transform(x)
    components = model.components_.astype(np.float64)
    order = np.argsort(-_shares(scores, components), kind="stable")
    components, scores = fix_signs(components[order], scores[:, order])
    return components, np.asarray(scores, dtype=np.float64)


def decompose(patterns: np.ndarray, params: Mapping[str, Any]) -> dict[str, Decomposition]:
    """Both decompositions of the heads' patterns.

    patterns: float[n_prompts_all, H, n_ctx, n_ctx]
    params:   the config's ``analysis.decomposition`` (n_components, n_prompts, seed, max_iter,
              sparse_alpha)
    """
    k, n_prompts = int(params["n_components"]), int(params["n_prompts"])
    seed, max_iter = int(params["seed"]), int(params["max_iter"])
    n_heads, n_ctx = patterns.shape[1], patterns.shape[-1]
    if k > n_heads:
        raise DataError(f"cannot take {k} components of {n_heads} heads")
    x = causal_cells(patterns, n_prompts)
    fitted = {
        "nmf": nmf(x, k, seed, max_iter),
        "sparse_pca": sparse_pca(x, k, seed, float(params["sparse_alpha"]), max_iter),
    }
    return {
        method: Decomposition(
            method=method,
            components=cells_to_maps(components, n_prompts, n_ctx),
            scores=scores,
            share=_shares(scores, components),
        )
        for method, (components, scores) in fitted.items()
    }


def score_table(heads: pd.DataFrame, scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Long table ``head_index, seed, layer, head, method, component, score``.

    heads:  heads.tsv rows; scores: {method: float[H, k]} (components numbered from 1)
    """
    import pandas as pd

    frames = []
    for method, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape[0] != len(heads):
            raise DataError(f"{method} scores have {values.shape[0]} heads, expected {len(heads)}")
        for c in range(values.shape[1]):
            frame = heads[["head_index", "seed", "layer", "head"]].reset_index(drop=True).copy()
            frame["method"], frame["component"], frame["score"] = method, c + 1, values[:, c]
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]


def extreme_heads(scores: pd.DataFrame, n_heads: int, two_sided: Sequence[str]) -> pd.DataFrame:
    """The ``n_heads`` heads with the highest score on each (method, component), and for the
    methods in ``two_sided`` (PCA, sparse PCA: a component is a contrast) also the lowest.

    scores: :func:`score_table` rows; ties broken by head_index
    returns: ``method, component, side (high | low), rank (1 = most extreme), head_index, seed,
             layer, head, score``
    """
    import pandas as pd

    frames = []
    for (method, component), group in scores.groupby(["method", "component"], sort=False):
        sides = ("high", "low") if method in two_sided else ("high",)
        for side in sides:
            ordered = group.sort_values(
                ["score", "head_index"], ascending=[side == "low", True], kind="stable"
            ).head(n_heads)
            frame = ordered[["head_index", "seed", "layer", "head", "score"]].copy()
            frame.insert(0, "rank", range(1, len(frame) + 1))
            frame.insert(0, "side", side)
            frame.insert(0, "component", component)
            frame.insert(0, "method", method)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)[EXTREME_COLUMNS]
