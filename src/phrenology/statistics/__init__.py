"""Statistics that turn the figures into a verdict (issue 12): nulls, matching, stability,
attention versus function, archetypes. Pure functions on arrays; the rules in
``rules/verdict.smk`` feed them the pipeline's stored outputs."""

from __future__ import annotations

import numpy as np


def permutation_p(observed: float, null: np.ndarray, greater: bool = True) -> float:
    """One-sided permutation p-value with the +1 correction (Phipson & Smyth 2010):
    (1 + #{null at least as extreme}) / (1 + n). Never 0, exact under exchangeability.

    greater: large values are extreme (else small ones).
    """
    null = np.asarray(null, dtype=np.float64)
    # a tolerance so that ties computed in a different order still count as ties
    tol = 1e-12 * max(1.0, abs(float(observed)))
    hits = (null >= observed - tol) if greater else (null <= observed + tol)
    return float((1 + int(hits.sum())) / (1 + len(null)))


def label_permutations(labels: np.ndarray, stop: int, seed: int, start: int = 0) -> np.ndarray:
    """Shuffles ``start..stop-1`` of ``labels`` (each model keeps its head count):
    [stop - start, len(labels)].

    Shuffle r comes from ``default_rng([seed, r])``, so any range of them can be drawn alone
    (in chunks, or in separate jobs) and gives the same rows.
    """
    labels = np.asarray(labels)
    out = np.empty((stop - start, len(labels)), dtype=labels.dtype)
    for i, r in enumerate(range(start, stop)):
        out[i] = np.random.default_rng([seed, r]).permutation(labels)
    return out
