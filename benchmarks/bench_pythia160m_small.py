"""The pythia-160m shape, reduced for a shared 2-core machine, in ONE process (CPU seconds,
single-threaded): capture of one randomly initialised TransformerLens model of that shape
(12 × 12 heads, d_model 768, d_vocab 50,304, rotary, parallel attention/MLP) on a few prompts,
and the Gram raw branch on 9 such models (1,296 heads) at a few prompts. Both scale linearly
in prompts (capture: one forward per batch; Gram: one pass over the patterns).

    python benchmarks/bench_pythia160m_small.py [capture_prompts] [analysis_prompts]
"""

import resource
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, "src")
sys.path.insert(0, "benchmarks")
from common import write_result


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    import torch
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from phrenology.analysis import gram
    from phrenology.models.capture import capture_patterns

    torch.set_num_threads(1)
    n_cap = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    n_ana = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    out = {"capture_prompts": n_cap, "analysis_prompts": n_ana}
    cfg = HookedTransformerConfig(
        n_layers=12, n_heads=12, d_model=768, d_head=64, d_mlp=3072, n_ctx=2048, d_vocab=50304,
        act_fn="gelu", normalization_type="LN", positional_embedding_type="rotary",
        rotary_dim=16, parallel_attn_mlp=True, original_architecture="GPTNeoXForCausalLM", seed=0,
    )  # fmt: skip
    c0 = time.process_time()
    model = HookedTransformer(cfg).eval()
    out["init_cpu_s"] = time.process_time() - c0
    for n_ctx in (16, 64):
        prompts = np.random.default_rng(0).integers(0, 50304, size=(n_cap, n_ctx))
        c0, w0 = time.process_time(), time.perf_counter()
        capture_patterns(model, prompts, 64)
        out[f"capture_{n_cap}x{n_ctx}_cpu_s"] = time.process_time() - c0
        out[f"capture_{n_cap}x{n_ctx}_wall_s"] = time.perf_counter() - w0
    out["capture_peak_rss_mb"] = peak_mb()
    print(out, flush=True)
    del model
    folder = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    maps = []
    for m in range(9):
        x = rng.random((n_ana, 144, 16, 16), dtype=np.float32)
        x *= np.tri(16, dtype=np.float32)
        x /= x.sum(-1, keepdims=True)
        np.save(f"{folder}/m{m}.npy", x)
        maps.append(np.load(f"{folder}/m{m}.npy", mmap_mode="r"))
    del x
    c0 = time.process_time()
    g = gram.blocked_gram(maps)
    out[f"gram_1296_heads_{n_ana}x16_cpu_s"] = time.process_time() - c0
    c0 = time.process_time()
    gram.gram_pca(g)
    out["eigh_1296_cpu_s"] = time.process_time() - c0
    out["total_peak_rss_mb"] = peak_mb()
    print(out, flush=True)
    write_result("pretrained_pythia160m_small", out)


if __name__ == "__main__":
    main()
