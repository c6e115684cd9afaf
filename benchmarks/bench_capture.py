"""Attention capture (hook_pattern only, stops before the unembedding) vs a full forward pass.

Both on the paper-sized model and the paper's 1024 prompts, timed side by side in
the same run.

    python benchmarks/bench_capture.py [--prompts 1024] [--batch 256]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from phrenology.models.capture import capture_patterns
from phrenology.models.model import build_model, model_kwargs

from common import paper_model_config, timeit, write_result


def main() -> None:
    ap = argparse.ArgumentParser()
    cfg = paper_model_config()
    ap.add_argument("--prompts", type=int, default=cfg["capture"]["n_prompts"])
    ap.add_argument("--batch", type=int, default=cfg["capture"]["batch_size"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    m = cfg["model"]
    model = build_model(model_kwargs(m, 50257, seed=0), device).eval()
    prompts = np.random.default_rng(0).integers(0, 50257, size=(args.prompts, m["n_ctx"]))
    out = np.empty(
        (args.prompts, m["n_layers"] * m["n_heads"], m["n_ctx"], m["n_ctx"]), dtype=np.float32
    )

    @torch.inference_mode()
    def full_forward() -> None:
        """What capture would cost with run_with_cache and no stop: every layer plus the unembedding."""
        for s in range(0, args.prompts, args.batch):
            tokens = torch.from_numpy(prompts[s : s + args.batch]).to(device)
            _, cache = model.run_with_cache(
                tokens, names_filter=lambda n: n.endswith("hook_pattern")
            )
            for layer in range(m["n_layers"]):
                cache[f"blocks.{layer}.attn.hook_pattern"].cpu().numpy()

    t_capture = timeit(
        lambda: capture_patterns(model, prompts, args.batch, out=out), args.repeats, sync=sync
    )
    t_full = timeit(full_forward, args.repeats, sync=sync)
    result = {
        "device": str(device), "prompts": args.prompts, "batch": args.batch,
        "capture_seconds": t_capture, "full_forward_seconds": t_full,
        "capture_prompts_per_s": args.prompts / t_capture, "full_forward_prompts_per_s": args.prompts / t_full,
        "speedup": t_full / t_capture,
    }  # fmt: skip
    for k, v in result.items():
        print(f"{k:>28}: {v:.4g}" if isinstance(v, float) else f"{k:>28}: {v}")
    write_result(f"capture_{device.type}", result)


if __name__ == "__main__":
    main()
