"""Pretrained families at scale (issue 10): the raw-pattern branch, exact vs Gram route, and
capture / analysis cost and peak memory at the pythia-160m shape.

Every measurement runs in a fresh child process (its own peak RSS, imports not timed) on
random data of the right shape: cost depends on shapes, not values.

1. ``raw_branch``: the paper's shape (9 models × 8 heads, 1024 prompts, n_ctx 16): distances,
   the three artificial heads, PCA / UMAP / t-SNE, and the PCA components of Figs. 9-10 —
   today's exact route (stack everything, scikit-learn's full SVD on 75 × 262,144 samples,
   UMAP / t-SNE on the raw vectors) against the Gram route (analysis/gram.py) in the same run.
   UMAP's numba JIT is warmed up first in both children (it is the same for both; its time
   is reported on its own).
2. ``pythia160m``: capture of one randomly initialised pythia-160m-shaped TransformerLens
   model (12 × 12 heads, d_model 768, d_vocab 50,304), the Gram route and one epoch of an
   autoencoder streamed from the files on 9 such models (1,296 heads) at 1024 prompts ×
   n_ctx 16 and 256 prompts × n_ctx 64; Fig. 14's knockout of all 1,296 heads on 2 prompts
   (all 9 models in memory, as the job holds them); Fig. 1's pair importance with the rows
   streamed, on 16 and 1 prompts (its time grows with prompts × token pairs), extrapolated.
3. ``scaling``: the Gram raw branch (distances + maps + 5 components) for the quick
   architecture (2 × 4 heads) at 3, 9, 27 models × 256, 1024, 4096 prompts (n_ctx 16).

    python benchmarks/bench_pretrained.py [--quick] [--only PART]   (PART: raw_branch, pythia160m,
    pair_importance (the part of pythia160m that is Fig. 1's pair importance), scaling)
    --quick: the pythia part captures 64 prompts (not 1024 / 256) and analyses n_ctx 64 at
    64 prompts (not 256), for a shared 2-core machine; times scale linearly in prompts
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from common import REPO, write_result

SETUP = """
import json, resource, sys, time
import numpy as np
sys.path.insert(0, "src")
def make(folder, n_models, heads, n_prompts, n_ctx, dtype="float32"):
    rng = np.random.default_rng(0)
    paths = []
    for m in range(n_models):
        x = rng.random((n_prompts, heads, n_ctx, n_ctx), dtype=np.float32)
        x *= np.tri(n_ctx, dtype=np.float32)
        x /= x.sum(-1, keepdims=True)
        path = f"{folder}/m{m}.npy"
        np.save(path, x.astype(dtype))
        paths.append(path)
        del x
    return paths
CPU0 = time.process_time()
def report(**times):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds of the whole child (all threads, imports included): robust on a shared machine
    print(json.dumps({**times, "cpu_s_process": time.process_time() - CPU0,
                      "peak_rss_mb": usage.ru_maxrss / 1024}))
"""

WARM_UMAP = """
import umap
t = time.perf_counter()
umap.UMAP(n_neighbors=5, densmap=True, random_state=0, n_jobs=1).fit_transform(np.random.default_rng(1).random((40, 8)))
jit = time.perf_counter() - t
"""

EXACT = """
from phrenology.analysis.distance import attention_distances
from phrenology.analysis.heads import head_vectors, load_patterns
from phrenology.analysis.projection import pattern_components, project, with_artificial_heads
PARAMS
WARM
t0, c0 = time.perf_counter(), time.process_time()
patterns = load_patterns(paths)
t1 = time.perf_counter()
d = attention_distances(patterns)
t2 = time.perf_counter()
n_prompts, _, n_ctx, _ = patterns.shape
points = with_artificial_heads(head_vectors(patterns), n_prompts, n_ctx)
xy = project(points, params)
del points
t3 = time.perf_counter()
comp = pattern_components(head_vectors(patterns), n_prompts, n_ctx, 5)
t4 = time.perf_counter()
np.save(f"{folder}/exact_d.npy", d); np.save(f"{folder}/exact_pca.npy", xy["pca"])
np.save(f"{folder}/exact_var.npy", comp.explained_variance)
report(umap_jit_s=jit, load_s=t1 - t0, distances_s=t2 - t1, projections_s=t3 - t2,
       components_s=t4 - t3, total_s=t4 - t0, cpu_total_s=time.process_time() - c0)
"""

GRAM = """
from phrenology.analysis import gram
PARAMS
WARM
t0, c0 = time.perf_counter(), time.process_time()
maps = [np.load(p, mmap_mode="r") for p in paths]
t1 = time.perf_counter()
d = gram.distances(maps)
t2 = time.perf_counter()
xy = gram.projections(maps, params)
t3 = time.perf_counter()
comp = gram.pattern_components(maps, 5)
t4 = time.perf_counter()
np.save(f"{folder}/gram_d.npy", d); np.save(f"{folder}/gram_pca.npy", xy["pca"])
np.save(f"{folder}/gram_var.npy", comp.explained_variance)
report(umap_jit_s=jit, load_s=t1 - t0, distances_s=t2 - t1, projections_s=t3 - t2,
       components_s=t4 - t3, total_s=t4 - t0, cpu_total_s=time.process_time() - c0)
"""

PARAMS = """
params = {"umap": {"n_neighbors": 5, "min_dist": 0.1, "densmap": True}, "tsne": {"perplexity": 5}, "seed": 0}
folder = FOLDER
paths = PATHS
"""

CAPTURE = """
import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig
from phrenology.models.capture import capture_patterns
torch.set_num_threads(2)
cfg = HookedTransformerConfig(n_layers=12, n_heads=12, d_model=768, d_head=64, d_mlp=3072,
    n_ctx=2048, d_vocab=50304, act_fn="gelu", normalization_type="LN",
    positional_embedding_type="rotary", rotary_dim=16, parallel_attn_mlp=True,
    original_architecture="GPTNeoXForCausalLM", seed=0)
model = HookedTransformer(cfg).eval()
prompts = np.random.default_rng(0).integers(0, 50304, size=(N_PROMPTS, N_CTX))
out = np.lib.format.open_memmap(FOLDER + "/cap.npy", mode="w+", dtype=np.float32,
                                shape=(N_PROMPTS, 144, N_CTX, N_CTX))
t0 = time.perf_counter()
capture_patterns(model, prompts, 64, out=out)
report(capture_s=time.perf_counter() - t0)
"""

# One autoencoder epoch on rows streamed from the 9 memory-mapped files (what train_autoencoder
# does for every config): peak memory stays at batches, not at the 1,296 heads' rows
AUTOENCODER = """
import torch
from phrenology.analysis.autoencoder import AESettings, encode, train_autoencoder
from phrenology.analysis.heads import PatternRows, open_patterns
torch.set_num_threads(2)
paths = PATHS
t0 = time.perf_counter()
rows = PatternRows(open_patterns(paths))
model, _, metrics = train_autoencoder(rows, 2, AESettings(128, 1, 256, 1e-3, 0, 0.1))
t1 = time.perf_counter()
codes = encode(model, rows)
report(rows=rows.shape[0], features=rows.shape[1], rows_mb=rows.shape[0] * rows.shape[1] * 4 / 2**20,
       train_one_epoch_s=t1 - t0, encode_s=time.perf_counter() - t1)
"""

# Fig. 14 at 1,296 heads: all 9 models in memory, every head knocked out (batched), N prompts
KNOCKOUT = """
import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig
from phrenology.analysis.knockout import knockout_gram
torch.set_num_threads(2)
shape = dict(n_layers=12, n_heads=12, d_model=768, d_head=64, d_mlp=3072, n_ctx=2048,
    d_vocab=50304, act_fn="gelu", normalization_type="LN", positional_embedding_type="rotary",
    rotary_dim=16, parallel_attn_mlp=True, original_architecture="GPTNeoXForCausalLM")
models = [HookedTransformer(HookedTransformerConfig(**shape, seed=s)).eval() for s in range(9)]
prompts = np.random.default_rng(0).integers(0, 50304, size=(N_PROMPTS, 16))
t0 = time.perf_counter()
gram = knockout_gram(models, prompts, 16)
report(knockout_s=time.perf_counter() - t0, heads=len(gram), prompts=N_PROMPTS)
"""


# Fig. 1's pair importance on 1,296 heads, rows streamed from the files (in_memory_bytes=0):
# every noise column is one pass over all rows, so the time is (columns + 1) passes and grows
# with prompts × columns; run on few prompts, the full shape's time is extrapolated from it
PAIR_IMPORTANCE = """
import torch
from phrenology.analysis.autoencoder import build_autoencoder
from phrenology.analysis.heads import PatternRows, open_patterns
from phrenology.analysis.importance import perturbation_mse
torch.set_num_threads(2)
rows = PatternRows(open_patterns(PATHS))
model = build_autoencoder(rows.shape[1], 2, 128, seed=0)
t0 = time.perf_counter()
perturbation_mse(model, rows, seed=0, in_memory_bytes=0)
s = time.perf_counter() - t0
report(rows=rows.shape[0], features=rows.shape[1], streamed_s=s,
       full_shape_s=s * FULL_PROMPTS / N_PROMPTS)
"""


def child(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", SETUP + code], cwd=REPO, capture_output=True,
                          text=True)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_data(folder: str, n_models: int, heads: int, n_prompts: int, n_ctx: int) -> list[str]:
    code = f"print(json.dumps(make({folder!r}, {n_models}, {heads}, {n_prompts}, {n_ctx})))"
    proc = subprocess.run([sys.executable, "-c", SETUP + code], cwd=REPO, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def route(template: str, folder: str, paths: list[str], warm: bool = True) -> dict:
    params = PARAMS.replace("FOLDER", repr(folder)).replace("PATHS", repr(paths))
    code = template.replace("PARAMS", params).replace("WARM", WARM_UMAP if warm else "jit = 0.0")
    return child(code)


def raw_branch() -> dict:
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_data(tmp, 9, 8, 1024, 16)
        exact = route(EXACT, tmp, paths)
        fast = route(GRAM, tmp, paths)
        d_e, d_g = np.load(f"{tmp}/exact_d.npy"), np.load(f"{tmp}/gram_d.npy")
        p_e, p_g = np.load(f"{tmp}/exact_pca.npy"), np.load(f"{tmp}/gram_pca.npy")
        v_e, v_g = np.load(f"{tmp}/exact_var.npy"), np.load(f"{tmp}/gram_var.npy")
    return {
        "shape": "9 models × 8 heads (72) + 3 artificial, 1024 prompts, n_ctx 16",
        "exact": exact,
        "gram": fast,
        "speedup_total": exact["total_s"] / fast["total_s"],
        "max_abs_diff_distances": float(np.abs(d_e - d_g).max()),
        "max_abs_diff_pca_scores": float(np.abs(p_e - p_g).max()),
        "max_rel_diff_explained_variance": float(np.abs(v_e / v_g - 1).max()),
    }


def pythia160m(quick: bool) -> dict:
    out = {"knockout_9_models_2_prompts": child(KNOCKOUT.replace("N_PROMPTS", "2"))}
    with tempfile.TemporaryDirectory() as tmp:
        for n_prompts, n_ctx in ((1024, 16), (256, 64)):
            n_cap = 64 if quick else n_prompts
            cap = CAPTURE.replace("N_PROMPTS", str(n_cap)).replace("N_CTX", str(n_ctx))
            cap = cap.replace("FOLDER", repr(tmp))
            out[f"capture_one_model_{n_cap}x{n_ctx}"] = child(cap)
        for n_prompts, n_ctx in ((1024, 16), (256 if not quick else 64, 64)):
            paths = make_data(tmp, 9, 144, n_prompts, n_ctx)
            out[f"gram_branch_9_models_{n_prompts}x{n_ctx}"] = route(GRAM, tmp, paths)
            out[f"autoencoder_streamed_9_models_{n_prompts}x{n_ctx}"] = child(
                AUTOENCODER.replace("PATHS", repr(paths))
            )
            for p in paths:
                import os

                os.remove(p)
    return {**out, **pair_importance()}


def pair_importance() -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for full, n_ctx, few in ((1024, 16, 16), (256, 64, 1)):
            paths = make_data(tmp, 9, 144, few, n_ctx)
            code = PAIR_IMPORTANCE.replace("PATHS", repr(paths)).replace("N_PROMPTS", str(few))
            out[f"pair_importance_streamed_9_models_{few}x{n_ctx}"] = child(
                code.replace("FULL_PROMPTS", str(full))
            )
            print(json.dumps(out), flush=True)
    return out


def scaling() -> list[dict]:
    rows = []
    for n_models in (3, 9, 27):
        for n_prompts in (256, 1024, 4096):
            with tempfile.TemporaryDirectory() as tmp:
                paths = make_data(tmp, n_models, 8, n_prompts, 16)
                r = route(GRAM, tmp, paths)
            rows.append({"models": n_models, "heads": 8 * n_models, "prompts": n_prompts,
                         "patterns_mb": 8 * n_models * n_prompts * 256 * 4 / 2**20,
                         "total_s": r["total_s"], "peak_rss_mb": r["peak_rss_mb"]})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", choices=["raw_branch", "pythia160m", "pair_importance", "scaling"]
    )
    args = parser.parse_args()
    result = {}
    if args.only in (None, "raw_branch"):
        result["raw_branch"] = raw_branch()
        print(json.dumps(result["raw_branch"], indent=1), flush=True)
        write_result("pretrained_raw_branch", result["raw_branch"])
    if args.only in (None, "pythia160m"):
        result["pythia160m"] = pythia160m(args.quick)
        print(json.dumps(result["pythia160m"], indent=1), flush=True)
        write_result("pretrained_pythia160m", {"quick": args.quick, **result["pythia160m"]})
    if args.only == "pair_importance":  # also part of pythia160m
        result["pair_importance"] = pair_importance()
        write_result("pretrained_pair_importance", result["pair_importance"])
    if args.only in (None, "scaling"):
        result["scaling"] = scaling()
        write_result("pretrained_scaling", {"rows": result["scaling"]})


if __name__ == "__main__":
    main()
