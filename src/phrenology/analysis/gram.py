"""The raw-pattern branch in bounded memory: everything from the heads × heads Gram matrix.

A head is one vector of D = n_prompts · n_ctx² pattern values, and there are far fewer
heads than features (72 vs 262,144 at paper size; 1,296 vs 5.3 M for 9 × 12 × 12 heads at
n_ctx 64). Every head comparison of this branch depends on the vectors only through their
inner products, so one blocked pass over the memory-mapped attention files builds the
n × n Gram matrix G (float64, over blocks of prompts, never more than one block in RAM):

* distances: ‖a − b‖² = G_aa + G_bb − 2 G_ab (:mod:`phrenology.analysis.distance`);
* PCA: the centred Gram matrix J G J (J = I − 11ᵀ/n) has the eigenvalues λ of the centred
  data's X Xᵀ; the scores are V √λ, explained variances λ / (n − 1) (scikit-learn's), and a
  component is Xcᵀ v / √λ, needing one more blocked pass only when its D loadings are wanted;
* UMAP and t-SNE with the Euclidean metric depend only on distances between the points, and
  the n centred points span at most n − 1 dimensions: the scores on all components with
  λ > 0 are the same points in an orthonormal basis, so the maps are made from n × (n − 1)
  numbers instead of n × D (the same geometry up to round-off, not an approximation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from phrenology.analysis.artificial import artificial_patterns
from phrenology.analysis.distance import distances_from_gram, gram_matrix
from phrenology.analysis.projection import fix_signs


def chunk_for(n_rows: int, n_ctx: int, budget_bytes: int = 256 * 2**20) -> int:
    """Prompts per block so that one float64 block of ``n_rows`` heads fits ``budget_bytes``."""
    return max(1, budget_bytes // (8 * n_rows * n_ctx * n_ctx))


def stacked_blocks(
    attention: Sequence[np.ndarray], chunk_prompts: int, artificial: bool = False
) -> Iterator[np.ndarray]:
    """Head-vector blocks across models, read from (memory-mapped) per-model tensors.

    attention: per-model float[n_prompts, heads_m, n_ctx, n_ctx] (float16 or float32), in
               heads.tsv order
    yields:    float64[H (+ 3), chunk * n_ctx * n_ctx]; concatenated along features they are
               ``head_vectors`` of the stacked patterns (prompt-major), the three artificial
               heads (uniform, self, self_previous) last when ``artificial``
    """
    n_prompts, _, n_ctx, _ = attention[0].shape
    fixed = artificial_patterns(n_ctx) if artificial else None
    for start in range(0, n_prompts, chunk_prompts):
        stop = min(start + chunk_prompts, n_prompts)
        parts = [np.asarray(a[start:stop], dtype=np.float64) for a in attention]
        if fixed is not None:
            parts.append(np.broadcast_to(fixed[None], (stop - start, *fixed.shape)))
        block = np.concatenate(parts, axis=1)  # [chunk, H, n_ctx, n_ctx]
        yield block.transpose(1, 0, 2, 3).reshape(block.shape[1], -1)


def blocked_gram(
    attention: Sequence[np.ndarray], artificial: bool = False, chunk_prompts: int | None = None
) -> np.ndarray:
    """float64[H (+3), H (+3)] Gram matrix of the head vectors, in bounded memory."""
    n_rows = sum(a.shape[1] for a in attention) + (3 if artificial else 0)
    chunk = chunk_prompts or chunk_for(n_rows, attention[0].shape[2])
    return gram_matrix(stacked_blocks(attention, chunk, artificial))


@dataclass(frozen=True)
class GramPCA:
    """vectors: float64[n, r] eigenvectors of the centred Gram (λ > 0 only, descending);
    eigenvalues: float64[r] λ; scores: float64[n, r] = vectors √λ (unsigned);
    explained_variance: λ / (n − 1); explained_variance_ratio: λ / Σλ."""

    vectors: np.ndarray
    eigenvalues: np.ndarray
    scores: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray


def gram_pca(gram: np.ndarray) -> GramPCA:
    """PCA of the rows whose Gram matrix is ``gram`` (float[n, n]), every component with λ > 0."""
    gram = np.asarray(gram, dtype=np.float64)
    n = len(gram)
    row = gram.mean(axis=0)
    centred = gram - row[None, :] - row[:, None] + row.mean()
    centred = (centred + centred.T) / 2.0
    eigenvalues, vectors = np.linalg.eigh(centred)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    total = float(np.clip(eigenvalues, 0.0, None).sum())
    # λ at round-off level (≤ 1e-12 of the total) belongs to no direction of the data
    keep = eigenvalues > max(total, np.finfo(float).tiny) * 1e-12
    eigenvalues, vectors = eigenvalues[keep], vectors[:, keep]
    ratio = eigenvalues / total if total > 0 else np.zeros_like(eigenvalues)
    return GramPCA(
        vectors=vectors,
        eigenvalues=eigenvalues,
        scores=vectors * np.sqrt(eigenvalues)[None, :],
        explained_variance=eigenvalues / max(n - 1, 1),
        explained_variance_ratio=ratio,
    )


def components_from_blocks(
    blocks: Iterator[np.ndarray], result: GramPCA, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` components' loadings and the mean, from a second blocked pass.

    returns: (components float64[k, D] unit rows, mean float64[D])
    """
    weights = result.vectors[:, :k] / np.sqrt(result.eigenvalues[:k])[None, :]  # [n, k]
    comps, means = [], []
    for block in blocks:
        mean = block.mean(axis=0)
        comps.append(weights.T @ (block - mean[None, :]))
        means.append(mean)
    return np.concatenate(comps, axis=1), np.concatenate(means)


def signed(result: GramPCA, components: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(components, scores[:, :k]) with :func:`fix_signs`' convention (largest loading > 0)."""
    k = len(components)
    return fix_signs(components, result.scores[:, :k])


def project_gram(
    result: GramPCA, components2: np.ndarray, params, umap_2d, tsne_2d
) -> dict[str, np.ndarray]:
    """The three 2-D maps of ``analysis.projection`` from the Gram PCA alone.

    components2: float[2, D] loadings of the first two components (for their signs)
    umap_2d, tsne_2d: :mod:`phrenology.analysis.projection`'s functions
    """
    seed = int(params["seed"])
    _, pca_xy = signed(result, components2)
    reduced = result.scores  # the same points in an orthonormal basis of their span
    return {
        "pca": pca_xy,
        "umap": umap_2d(reduced, **params["umap"], seed=seed),
        "tsne": tsne_2d(reduced, **params["tsne"], seed=seed),
    }


def distances(attention: Sequence[np.ndarray]) -> np.ndarray:
    """float64[H, H] Euclidean distances between heads, in bounded memory."""
    return distances_from_gram(blocked_gram(attention))


def load_attention(
    paths: Sequence[str], heads_path: str, seeds: Sequence[int], n_layers: int, n_heads: int
):
    """(per-model memory maps in heads.tsv order, heads.tsv), checked like
    :func:`phrenology.analysis.heads.load_head_patterns` but never stacked in RAM."""
    from phrenology.analysis.heads import check_finite, load_heads
    from phrenology.pipeline.errors import DataError
    from phrenology.pipeline.io import REBUILD_HINT, load_npy

    if len(paths) != len(seeds):
        raise DataError(f"got {len(paths)} attention files for {len(seeds)} models")
    heads = load_heads(heads_path, seeds, n_layers, n_heads)
    maps = [load_npy(p, ndim=4, mmap=True) for p in paths]
    for path, a in zip(paths, maps, strict=True):
        if (
            a.shape[1] != n_layers * n_heads
            or a.shape[0] != maps[0].shape[0]
            or (a.shape[2:] != maps[0].shape[2:])
        ):
            raise DataError(f"{path} has shape {a.shape}, unlike {paths[0]} {maps[0].shape}; "
                            f"{n_layers * n_heads} heads expected; {REBUILD_HINT}")  # fmt: skip
        check_finite(a, path)
    return maps, heads


def pattern_components(maps: Sequence[np.ndarray], k: int):
    """Figs. 9–10 data from the Gram route: a :class:`~phrenology.analysis.projection.PCAResult`
    equal to ``pattern_components(head_vectors(stacked), ...)`` without stacking."""
    from phrenology.analysis.projection import PCAResult

    n_prompts, _, n_ctx, _ = maps[0].shape
    result = gram_pca(blocked_gram(maps))
    chunk = chunk_for(sum(a.shape[1] for a in maps), n_ctx)
    comps, mean = components_from_blocks(stacked_blocks(maps, chunk), result, k)
    comps, scores = signed(result, comps)
    return PCAResult(
        components=comps.reshape(k, n_prompts, n_ctx, n_ctx),
        explained_variance=result.explained_variance[:k],
        explained_variance_ratio=result.explained_variance_ratio[:k],
        scores=scores,
        mean=mean.reshape(n_prompts, n_ctx, n_ctx),
    )


def projections(maps: Sequence[np.ndarray], params) -> dict[str, np.ndarray]:
    """Fig. 8 data (heads + 3 artificial heads; PCA, UMAP, t-SNE) from the Gram route."""
    from phrenology.analysis.projection import tsne_2d, umap_2d

    n_ctx = maps[0].shape[2]
    result = gram_pca(blocked_gram(maps, artificial=True))
    chunk = chunk_for(sum(a.shape[1] for a in maps) + 3, n_ctx)
    comps, _ = components_from_blocks(stacked_blocks(maps, chunk, artificial=True), result, 2)
    return project_gram(result, comps, params, umap_2d, tsne_2d)
