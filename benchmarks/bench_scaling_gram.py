"""How the Gram raw branch (distances + Fig. 8 maps + 5 components) grows with models and
prompts, quick architecture (2 layers × 4 heads per model), n_ctx 16, in ONE process:
CPU seconds (single-threaded BLAS / numba, UMAP JIT warmed up once) and the peak of numpy
allocations (tracemalloc; the memory-mapped attention files are page cache, not counted).

    python benchmarks/bench_scaling_gram.py [--figure docs/img/scaling_gram.png]

Writes benchmarks/out/pretrained_scaling_gram.{json,png} (and the figure where --figure says).
"""

import argparse
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

from common import OUT, write_result

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
    return rows


def plot(rows: list[dict], paths: list[str]) -> None:
    """CPU seconds and peak allocations against prompts, one line per number of models."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for n_models in sorted({r["models"] for r in rows}):
        mine = [r for r in rows if r["models"] == n_models]
        x = [r["prompts"] for r in mine]
        label = f"{n_models} models ({8 * n_models} heads)"
        axes[0].plot(x, [r["cpu_s"] for r in mine], "o-", label=label)
        axes[1].plot(x, [r["peak_alloc_mb"] for r in mine], "o-", label=label)
    for ax, what in zip(axes, ["CPU seconds", "peak allocations (MB)"], strict=True):
        ax.set(xscale="log", yscale="log", xlabel="prompts (n_ctx 16)", ylabel=what)
        ax.set_xticks([256, 1024, 4096], ["256", "1,024", "4,096"])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
    axes[0].set_yticks([2, 5, 10, 20, 50])
    axes[0].legend(fontsize=8)
    fig.suptitle("Gram raw branch (distances, Fig. 8 maps, 5 components): cost against size")
    for path in paths:
        fig.savefig(path, dpi=120)
        print(f"wrote {path}")
    plt.close(fig)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--figure", action="append", default=[], help="also write the plot here")
    args = parser.parse_args()
    plot(main(), [str(OUT / "pretrained_scaling_gram.png"), *args.figure])
