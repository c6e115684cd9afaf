"""Training throughput of the paper-sized model vs the bare matrix multiplies of the same shapes.

Prints tokens/s and achieved FLOP/s for full training steps (forward, cross-entropy,
backward, AdamW) and for the sequence of matmuls a step must do at minimum (each
linear layer's forward, input-gradient and weight-gradient products at the same
shapes), timed in the same run; their ratio is the training loop's efficiency.

    python benchmarks/bench_train.py [--steps 5] [--device cpu|cuda] [--precision fp32|bf16] [--profile]

--profile adds where a step's time goes (torch.profiler, self time per operator, ms per step)
to the printout and the JSON: the matmuls against everything else.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from phrenology.models.model import build_model, model_kwargs
from phrenology.models.train import TrainSettings, autocast_for, make_optimizer, next_token_loss

from common import paper_model_config, timeit, write_result


def linear_shapes(cfg: dict, d_vocab: int) -> list[tuple[int, int]]:
    """(in, out) of every matmul with weights, per token: attention Q, K, V, O, MLP in/out, unembed."""
    m = cfg["model"]
    inner = m["n_heads"] * m["d_head"]
    per_layer = [(m["d_model"], inner)] * 3 + [
        (inner, m["d_model"]),
        (m["d_model"], m["d_mlp"]),
        (m["d_mlp"], m["d_model"]),
    ]
    return per_layer * m["n_layers"] + [(m["d_model"], d_vocab)]


def train_flops_per_token(cfg: dict, d_vocab: int) -> float:
    """6 × weight-matmul parameters (forward 2, backward 4) + attention score/value products."""
    m = cfg["model"]
    weights = sum(i * o for i, o in linear_shapes(cfg, d_vocab))
    attention = (
        2 * 2 * m["n_ctx"] * m["n_heads"] * m["d_head"] * m["n_layers"]
    )  # QK^T and AV, averaged causal ≈ n_ctx
    return 6 * weights + 3 * attention


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::matmul")


def profile_step(step, steps: int, sync) -> dict[str, float]:
    """Self time per operator in ms per step, the ten largest, all matmuls summed as 'matmuls'."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if sync is not None:
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if sync is not None:
            sync()
    cuda = sync is not None
    times: dict[str, float] = {}
    for ev in prof.key_averages():
        us = ev.self_device_time_total if cuda else ev.self_cpu_time_total
        name = "matmuls" if ev.key in MATMUL_OPS else ev.key
        times[name] = times.get(name, 0.0) + us / 1000 / steps
    top = dict(sorted(times.items(), key=lambda kv: -kv[1])[:10])
    top["total"] = sum(times.values())
    return top


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--d-vocab", type=int, default=50257)
    ap.add_argument("--profile", action="store_true", help="break a step down by operator")
    args = ap.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None

    cfg = paper_model_config()
    d_vocab = args.d_vocab
    settings = TrainSettings.from_config({**cfg["train"], "precision": args.precision})
    batch, n_ctx = settings.batch_size, cfg["model"]["n_ctx"]
    tokens = batch * n_ctx

    model = build_model(model_kwargs(cfg["model"], d_vocab, seed=0), device).train()
    optimizer = make_optimizer(model, settings)
    windows = torch.from_numpy(
        np.random.default_rng(0).integers(0, d_vocab, size=(batch, n_ctx + 1))
    ).to(device)

    def step() -> None:
        with autocast_for(device, settings.precision):
            loss = next_token_loss(model, windows)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    dtype = (
        torch.bfloat16
        if (args.precision == "bf16" or (args.precision == "auto" and device.type == "cuda"))
        else torch.float32
    )
    mats = [(torch.randn(tokens, i, device=device, dtype=dtype), torch.randn(i, o, device=device, dtype=dtype),
             torch.randn(tokens, o, device=device, dtype=dtype)) for i, o in linear_shapes(cfg, d_vocab)]  # fmt: skip

    def matmuls() -> None:
        for x, w, dy in mats:
            x @ w  # forward
            dy @ w.T  # input gradient
            x.T @ dy  # weight gradient

    t_step = timeit(step, repeats=args.steps, warmup=2, sync=sync)
    t_mm = timeit(matmuls, repeats=args.steps, warmup=2, sync=sync)
    flops = train_flops_per_token(cfg, d_vocab) * tokens
    mm_flops = sum(6 * i * o for i, o in linear_shapes(cfg, d_vocab)) * tokens
    result = {
        "device": str(device), "precision": args.precision, "dtype": str(dtype), "batch": batch, "n_ctx": n_ctx,
        "d_vocab": d_vocab, "threads": torch.get_num_threads(),
        "step_seconds": t_step, "tokens_per_s": tokens / t_step, "train_flop_per_s": flops / t_step,
        "matmul_seconds": t_mm, "matmul_flop_per_s": mm_flops / t_mm,
        "efficiency_vs_matmul": t_mm / t_step,
        "unembed_share_of_flops": 6 * cfg["model"]["d_model"] * d_vocab * tokens / flops,
    }  # fmt: skip
    for k, v in result.items():
        print(f"{k:>24}: {v:.4g}" if isinstance(v, float) else f"{k:>24}: {v}")
    if args.profile:
        result["profile_ms_per_step"] = profile_step(step, args.steps, sync)
        print("ms per step by operator (self time):")
        for name, ms in result["profile_ms_per_step"].items():
            print(f"{name:>24}: {ms:.1f}")
    write_result(f"train_{device.type}_{args.precision}", result)


if __name__ == "__main__":
    main()
