"""Batched training (train.models_per_job) and batched knockout against today's one-at-a-time paths.

Training, for each architecture (quick = config/quick.yaml, paper = config/config.yaml) and
each group size G: tokens/s and achieved FLOP/s of

* ``per_seed``: today's step (one HookedTransformer, fused loss, fused AdamW); G seeds run one
  after another have this throughput whatever G is;
* ``batched``: one step of G stacked models (phrenology.models.batched_train), in each compile mode
  asked for (eager, torch_compile, cuda_graphs; cuda_graphs on CUDA only);
* ``matmul``: the bare (batched) matrix products such a step must do at least, same shapes;

(each the fastest of several timed steps) and the ratios batched / per_seed (the speed-up of one batched job over G per-seed jobs run one
after another) and matmul time / batched time (efficiency). Knockout: the Fig. 14 Gram matrix
with every head of a model knocked out in one forward pass vs one pass per head.

    python benchmarks/bench_batched.py                         # CPU: quick G=1,3,9; paper short
    python benchmarks/bench_batched.py --device cuda --compile eager torch_compile cuda_graphs

Prints a table and writes benchmarks/out/batched_<device>.json. Every ratio comes from the same
run. The load average of the machine is recorded: on a shared CPU the numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import yaml
from bench_train import linear_shapes, train_flops_per_token

from phrenology.models.batched_train import make_group_optimizer, make_step
from phrenology.models.grouped_model import GroupedTransformer
from phrenology.models.model import build_model, model_kwargs
from phrenology.models.train import TrainSettings, autocast_for, make_optimizer, next_token_loss

from common import REPO, write_result

ARCHS = {"quick": "config/quick.yaml", "paper": "config/config.yaml"}


def timeit(fn, repeats: int = 5, warmup: int = 1, sync=None) -> float:
    """Fastest of ``repeats`` timed calls, in seconds. The minimum, not the median: on a shared
    CPU the load of other processes only ever adds time, so the minimum is the estimate of a
    step's own cost that moves least with it."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best


D_VOCAB = {"quick": 5001, "paper": 50257}  # quick: 5000 most frequent tokens + <unk>


def load_cfg(arch: str) -> dict:
    with open(REPO / ARCHS[arch]) as f:
        return yaml.safe_load(f)


def bf16(device: torch.device, precision: str) -> bool:
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def per_seed_step(cfg, d_vocab, settings, device, windows):
    model = build_model(model_kwargs(cfg["model"], d_vocab, seed=0), device).train()
    optimizer = make_optimizer(model, settings)

    def step() -> None:
        with autocast_for(device, settings.precision):
            loss = next_token_loss(model, windows[0])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def batched_step(cfg, d_vocab, settings, device, windows, mode):
    g = windows.shape[0]
    models = [build_model(model_kwargs(cfg["model"], d_vocab, seed=s), device) for s in range(g)]
    group = GroupedTransformer.from_models(models)
    del models
    if mode == "cuda_graphs":
        from phrenology.models.batched_train import _GraphedStep

        optimizer = make_group_optimizer(group, settings, capturable=True)
        step = _GraphedStep(group, optimizer, settings, device)
    else:
        optimizer = make_group_optimizer(group, settings)
        step = make_step(group, optimizer, settings, device, mode)
    return lambda: step(windows)


def matmul_fn(cfg, d_vocab, g, tokens, device, dtype):
    mats = [
        (
            torch.randn(g, tokens, i, device=device, dtype=dtype),
            torch.randn(g, i, o, device=device, dtype=dtype),
            torch.randn(g, tokens, o, device=device, dtype=dtype),
        )
        for i, o in linear_shapes(cfg, d_vocab)
    ]

    def run() -> None:
        for x, w, dy in mats:
            torch.bmm(x, w)  # forward
            torch.bmm(dy, w.transpose(1, 2))  # input gradient
            torch.bmm(x.transpose(1, 2), dy)  # weight gradient

    return run


def bench_training(arch, groups, modes, device, precision, steps, warmup, sync, interleave):
    cfg = load_cfg(arch)
    d_vocab = D_VOCAB[arch]
    settings = TrainSettings.from_config({**cfg["train"], "precision": precision})
    batch, n_ctx = settings.batch_size, cfg["model"]["n_ctx"]
    tokens = batch * n_ctx
    flop_per_token = train_flops_per_token(cfg, d_vocab)
    mm_flop_per_token = sum(6 * i * o for i, o in linear_shapes(cfg, d_vocab))
    dtype = torch.bfloat16 if bf16(device, precision) else torch.float32
    rng = np.random.default_rng(0)

    def windows(g: int) -> torch.Tensor:
        return torch.from_numpy(rng.integers(0, d_vocab, size=(g, batch, n_ctx + 1))).to(device)

    single_step = per_seed_step(cfg, d_vocab, settings, device, windows(1))
    t_single = timeit(single_step, steps, warmup, sync)
    single = {"step_seconds": t_single, "tokens_per_s": tokens / t_single,
              "flop_per_s": flop_per_token * tokens / t_single}  # fmt: skip
    print(f"[{arch}] per-seed step {t_single * 1e3:.1f} ms, {tokens / t_single:,.0f} tokens/s")
    rows = []
    for g in groups:
        t_mm = timeit(matmul_fn(cfg, d_vocab, g, tokens, device, dtype), steps, warmup, sync)
        for mode in modes:
            if mode == "cuda_graphs" and device.type != "cuda":
                continue
            t0 = time.perf_counter()
            fn = batched_step(cfg, d_vocab, settings, device, windows(g), mode)
            # cuda_graphs: 3 eager warm-up steps, then the capture on the 4th call
            t = timeit(fn, steps, warmup + (4 if mode == "cuda_graphs" else 0), sync)
            del fn
            # the per-seed step timed again next to this row: on a shared machine the load
            # drifts, and the ratio should compare like with like
            t_near = timeit(single_step, steps, 1, sync) if interleave else t_single
            row = {
                "arch": arch, "G": g, "mode": mode, "step_seconds": t,
                "tokens_per_s": g * tokens / t, "flop_per_s": g * flop_per_token * tokens / t,
                "per_seed_step_seconds_adjacent": t_near,
                "speedup_vs_per_seed": t_near * g / t,
                "matmul_seconds": t_mm, "matmul_flop_per_s": g * mm_flop_per_token * tokens / t_mm,
                "efficiency_vs_matmul": t_mm / t,
                "setup_and_timing_seconds": time.perf_counter() - t0,
            }  # fmt: skip
            rows.append(row)
            print(
                f"[{arch}] G={g:<2} {mode:<13} step {t * 1e3:8.1f} ms  "
                f"{row['tokens_per_s']:>10,.0f} tokens/s  x{row['speedup_vs_per_seed']:.2f} vs "
                f"per-seed  {row['flop_per_s'] / 1e9:7.1f} GFLOP/s  "
                f"{100 * row['efficiency_vs_matmul']:.0f} % of bare matmuls"
            )
    return {"arch": arch, "d_vocab": d_vocab, "tokens_per_step_per_model": tokens,
            "dtype": str(dtype), "per_seed": single, "batched": rows}  # fmt: skip


def bench_knockout(arch, n_models, n_prompts, device, repeats, sync):
    from phrenology.analysis import knockout

    cfg = load_cfg(arch)
    d_vocab = D_VOCAB[arch]
    models = [build_model(model_kwargs(cfg["model"], d_vocab, seed=s), device).eval()
              for s in range(n_models)]  # fmt: skip
    n_ctx = cfg["model"]["n_ctx"]
    prompts = np.random.default_rng(1).integers(0, d_vocab, size=(n_prompts, n_ctx))
    batch = min(cfg["knockout"]["batch_size"], n_prompts)
    times = {}
    for batched in (True, False):
        times[batched] = timeit(
            lambda b=batched: knockout.knockout_gram(models, prompts, batch, batched=b),
            repeats, 1, sync,
        )  # fmt: skip
    heads = n_models * cfg["model"]["n_layers"] * cfg["model"]["n_heads"]
    print(f"[{arch}] knockout {heads} heads x {n_prompts} prompts: batched {times[True]:.3f} s, "
          f"one at a time {times[False]:.3f} s, x{times[False] / times[True]:.2f}")  # fmt: skip
    return {"arch": arch, "n_models": n_models, "heads": heads, "n_prompts": n_prompts,
            "batch_size": batch, "batched_seconds": times[True], "one_at_a_time_seconds": times[False],
            "speedup": times[False] / times[True]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--arch", nargs="+", default=["quick", "paper"], choices=list(ARCHS))
    ap.add_argument("--groups", nargs="+", type=int, default=[1, 3, 9])
    ap.add_argument("--paper-groups", nargs="+", type=int, default=None,
                    help="group sizes for the paper architecture (default: --groups)")  # fmt: skip
    ap.add_argument("--compile", nargs="+", default=None,
                    help="modes to time (default: eager, plus torch_compile for quick on CPU)")  # fmt: skip
    ap.add_argument("--steps", type=int, default=5, help="timed steps (quick architecture)")
    ap.add_argument("--paper-steps", type=int, default=2, help="timed steps (paper architecture)")
    ap.add_argument("--no-knockout", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out-name", default=None, help="JSON name (default batched_<device>)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    load0 = os.getloadavg()
    cuda = device.type == "cuda"
    result = {"device": str(device), "precision": args.precision,
              "threads": torch.get_num_threads(), "loadavg_start": load0, "training": [],
              "knockout": []}  # fmt: skip
    for arch in args.arch:
        modes = args.compile or (["eager", "torch_compile", "cuda_graphs"] if cuda else
                                 (["eager", "torch_compile"] if arch == "quick" else ["eager"]))  # fmt: skip
        steps = args.steps if arch == "quick" or cuda else args.paper_steps
        warmup = 2 if arch == "quick" or cuda else 1
        result["training"].append(
            bench_training(
                arch,
                (args.paper_groups or args.groups) if arch == "paper" else args.groups,
                modes,
                device,
                args.precision,
                steps,
                warmup,
                sync,
                interleave=arch == "quick" or cuda,
            )
        )
    if not args.no_knockout:
        result["knockout"].append(bench_knockout("quick", 3, 16, device, 3, sync))
        if cuda:
            result["knockout"].append(bench_knockout("paper", 9, 64, device, 3, sync))
        else:  # short on CPU: two models, 16 prompts
            result["knockout"].append(bench_knockout("paper", 2, 16, device, 1, sync))
    result["loadavg_end"] = os.getloadavg()
    write_result(args.out_name or f"batched_{device.type}", result)


if __name__ == "__main__":
    main()
