"""Archetypes (issue 12, item 5): what kind of head each head and each cluster is.

**Template scores**, in the style of TransformerLens' head detector: a template is a
distribution over keys for every query position; a head's score is the share of its
attention that the template accounts for, Σ_key min(attention, template) (1 − the total
variation distance; for a one-hot template simply the weight on the template's token),
averaged over prompts and query positions 1..n_ctx−1 (at position 0 every template is the
same). Templates: ``previous`` token, ``current`` token, ``first`` token and ``uniform``
over the prefix 0..i.

**Artificial heads at cluster centres**: the distance of each of the paper's artificial
heads (:mod:`phrenology.analysis.artificial`) to each cluster's centroid in raw-pattern space,
as a percentile among the distances of the cluster's own members to that centroid
(0: nearer than every member, i.e. at the centre; 100: farther than all of them).
"""

from __future__ import annotations

import numpy as np

from phrenology.analysis.artificial import ARTIFICIAL_HEADS, artificial_patterns

ARCHETYPES: tuple[str, ...] = ("previous", "current", "first", "uniform")
MIXED = "mixed"


def templates(n_ctx: int) -> np.ndarray:
    """float64[4, n_ctx, n_ctx] (query, key) templates in :data:`ARCHETYPES` order."""
    causal = np.tri(n_ctx)
    previous = np.eye(n_ctx, k=-1)
    previous[0, 0] = 1.0  # position 0 is never scored; keep the row a distribution
    first = np.zeros((n_ctx, n_ctx))
    first[:, 0] = 1.0
    return np.stack([previous, np.eye(n_ctx), first, causal / causal.sum(axis=1, keepdims=True)])


def template_scores(patterns: np.ndarray, chunk_prompts: int = 128) -> np.ndarray:
    """Each head's score on each template.

    patterns: float[n_prompts, n_heads, n_ctx, n_ctx] (may be a memory map)
    returns:  float64[n_heads, 4] in :data:`ARCHETYPES` order
    """
    n_prompts, n_heads, n_ctx, _ = patterns.shape
    tmpl = templates(n_ctx)[:, 1:]  # [4, n_ctx-1, n_ctx]: query positions 1..
    total = np.zeros((n_heads, len(ARCHETYPES)))
    for start in range(0, n_prompts, chunk_prompts):
        block = np.asarray(patterns[start : start + chunk_prompts, :, 1:], dtype=np.float64)
        for t in range(len(ARCHETYPES)):
            total[:, t] += np.minimum(block, tmpl[t]).sum(axis=(0, 2, 3))
    return total / (n_prompts * (n_ctx - 1))


def name_clusters(
    scores: np.ndarray, clusters: np.ndarray, threshold: float
) -> dict[int, tuple[str, float]]:
    """Per cluster: (dominant archetype of its members' mean scores, that score), or
    (``mixed``, score) when the score is below ``threshold``."""
    clusters = np.asarray(clusters)
    out = {}
    for c in np.unique(clusters):
        mean = scores[clusters == c].mean(axis=0)
        best = int(np.argmax(mean))
        name = ARCHETYPES[best] if mean[best] >= threshold else MIXED
        out[int(c)] = (name, float(mean[best]))
    return out


def centroid_percentiles(
    patterns: np.ndarray, clusters: np.ndarray, chunk_prompts: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Distances of the artificial heads to every cluster centroid, as percentiles.

    patterns: float[n_prompts, n_heads, n_ctx, n_ctx]; clusters: int[n_heads]
    returns (percentile float64[3, C], distance float64[3, C]) with artificial heads in
    :data:`ARTIFICIAL_HEADS` order and clusters in sorted label order
    """
    clusters = np.asarray(clusters)
    labels = np.unique(clusters)
    n_prompts, n_heads, n_ctx, _ = patterns.shape
    art = artificial_patterns(n_ctx).reshape(len(ARTIFICIAL_HEADS), -1)  # same on every prompt
    member_sq = np.zeros(n_heads)  # each head's squared distance to its own cluster's centroid
    art_sq = np.zeros((len(ARTIFICIAL_HEADS), len(labels)))
    for start in range(0, n_prompts, chunk_prompts):
        block = np.asarray(patterns[start : start + chunk_prompts], dtype=np.float64)
        block = block.reshape(block.shape[0], n_heads, -1)  # [p, n, n_ctx²]
        for ci, c in enumerate(labels):
            members = clusters == c
            centroid = block[:, members].mean(axis=1)  # [p, n_ctx²]
            member_sq[members] += ((block[:, members] - centroid[:, None]) ** 2).sum(axis=(0, 2))
            art_sq[:, ci] += ((art[:, None] - centroid[None]) ** 2).sum(axis=(1, 2))
    member_d, art_d = np.sqrt(member_sq), np.sqrt(art_sq)
    pct = np.empty_like(art_d)
    for ci, c in enumerate(labels):
        own = member_d[clusters == c]
        pct[:, ci] = 100.0 * (own[None, :] < art_d[:, ci : ci + 1]).mean(axis=1)
    return pct, art_d
