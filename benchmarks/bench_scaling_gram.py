"""How the Gram raw branch (distances + Fig. 8 maps + 5 components) grows with models and
prompts, quick architecture (2 layers × 4 heads per model), n_ctx 16, in ONE process:
CPU seconds (single-threaded BLAS / numba, UMAP JIT warmed up once) and the peak of numpy
allocations (tracemalloc; the memory-mapped attention files are page cache, not counted).

    python benchmarks/bench_scaling_gram.py
"""

import shutil
import sys
import tempfile
import time
import tracemalloc

import numpy as np

sys.path.insert(0, "src")
sys.path.insert(0, "benchmarks")
from phrenology.analysis import gram
from phrenology.analysis.projection import umap_2d

from common import write_result

PARAMS = {"umap": {"n_neighbors": 5, "min_dist": 0.1, "densmap": True}, "tsne": {"perplexity": 5},
          "seed": 0}  # fmt: skip


def make(folder, n_models, n_prompts, rng):
    paths = []
    for m in range(n_models):
        x = rng.random((n_prompts, 8, 16, 16), dtype=np.float32)
        x *= np.tri(16, dtype=np.float32)
        x /= x.sum(-1, keepdims=True)
        paths.append(f"{folder}/m{m}.npy")
        np.save(paths[-1], x)
    return [np.load(p, mmap_mode="r") for p in paths]


def main():
    umap_2d(np.random.default_rng(1).random((40, 8)), n_neighbors=5, min_dist=0.1, densmap=True,
            seed=0)  # fmt: skip
    rows = []
    rng = np.random.default_rng(0)
    for n_models in (3, 9, 27):
        for n_prompts in (256, 1024, 4096):
            folder = tempfile.mkdtemp()
            maps = make(folder, n_models, n_prompts, rng)
            tracemalloc.start()
            c0 = time.process_time()
            gram.distances(maps)
            gram.projections(maps, PARAMS)
            gram.pattern_components(maps, 5)
            cpu = time.process_time() - c0
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            shutil.rmtree(folder)
            rows.append({"models": n_models, "heads": 8 * n_models, "prompts": n_prompts,
                         "patterns_mb": 8 * n_models * n_prompts * 256 * 4 / 2**20,
                         "cpu_s": round(cpu, 2), "peak_alloc_mb": round(peak, 1)})  # fmt: skip
            print(rows[-1], flush=True)
    write_result("pretrained_scaling_gram", {"rows": rows})


if __name__ == "__main__":
    main()
