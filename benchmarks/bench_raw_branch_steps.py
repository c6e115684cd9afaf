# ruff: noqa: E402  (sys.path is set before the package imports)
"""Raw-pattern branch at the paper shape (72 heads + 3 artificial, 1024 prompts, n_ctx 16), step by
step in ONE process: CPU seconds and wall seconds of the exact route and of the Gram route
(analysis/gram.py), single-threaded BLAS / numba, after UMAP JIT warm-up for both dtypes.
CPU seconds are the robust number on a shared machine.

    python benchmarks/bench_raw_branch_steps.py
"""

import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, "src")
sys.path.insert(0, "benchmarks")
from common import write_result

D = tempfile.mkdtemp()
from phrenology.analysis import gram
from phrenology.analysis.distance import attention_distances
from phrenology.analysis.heads import head_vectors, load_patterns
from phrenology.analysis.projection import (
    pattern_components,
    pca_2d,
    tsne_2d,
    umap_2d,
    with_artificial_heads,
)

rng = np.random.default_rng(0)
paths = []
for m in range(9):
    x = rng.random((1024, 8, 16, 16), dtype=np.float32)
    x *= np.tri(16, dtype=np.float32)
    x /= x.sum(-1, keepdims=True)
    np.save(f"{D}/m{m}.npy", x)
    paths.append(f"{D}/m{m}.npy")
P = {
    "umap": {"n_neighbors": 5, "min_dist": 0.1, "densmap": True},
    "tsne": {"perplexity": 5},
    "seed": 0,
}
for dt in (np.float32, np.float64):
    umap_2d(rng.random((40, 8)).astype(dt), n_neighbors=5, min_dist=0.1, densmap=True, seed=0)
out = {}


def t(name, f):
    c = time.process_time()
    w = time.perf_counter()
    r = f()
    out[name] = (round(time.process_time() - c, 2), round(time.perf_counter() - w, 2))
    print(name, out[name], flush=True)
    return r


pat = t("exact_load", lambda: load_patterns(paths))
pts = t("exact_points", lambda: with_artificial_heads(head_vectors(pat), 1024, 16))
t("exact_distances", lambda: attention_distances(pat))
t("exact_pca2", lambda: pca_2d(pts))
t("exact_umap", lambda: umap_2d(pts, **P["umap"], seed=0))
t("exact_tsne", lambda: tsne_2d(pts, **P["tsne"], seed=0))
t("exact_components", lambda: pattern_components(head_vectors(pat), 1024, 16, 5))
maps = [np.load(p, mmap_mode="r") for p in paths]
g = t("gram_gram_art", lambda: gram.blocked_gram(maps, artificial=True))
r = t("gram_eigh", lambda: gram.gram_pca(g))
t(
    "gram_comp2",
    lambda: gram.components_from_blocks(gram.stacked_blocks(maps, 1747, artificial=True), r, 2),
)
t("gram_umap", lambda: umap_2d(r.scores, **P["umap"], seed=0))
t("gram_tsne", lambda: tsne_2d(r.scores, **P["tsne"], seed=0))
t("gram_distances", lambda: gram.distances(maps))
t("gram_components", lambda: gram.pattern_components(maps, 5))
exact = sum(v[0] for k, v in out.items() if k.startswith("exact"))
fast = sum(v[0] for k, v in out.items() if k.startswith("gram"))
wall_e = sum(v[1] for k, v in out.items() if k.startswith("exact"))
wall_g = sum(v[1] for k, v in out.items() if k.startswith("gram"))
write_result(
    "pretrained_raw_branch_steps",
    {
        "steps_cpu_s_wall_s": out,
        "exact_cpu_s": exact,
        "gram_cpu_s": fast,
        "speedup_cpu": exact / fast,
        "exact_wall_s": wall_e,
        "gram_wall_s": wall_g,
        "speedup_wall": wall_e / wall_g,
    },
)
