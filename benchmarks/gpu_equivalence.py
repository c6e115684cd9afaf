"""Batched vs per-seed training on the GPU (the CPU suite's equivalence checks, on CUDA).

Three toy models: first-step gradients (fp32), then 3 epochs of per-seed ``train.train`` vs
``batched_train.train_group`` in fp32 and bf16 autocast, and the batched run again with
``cuda_graphs``. Prints the differences, writes benchmarks/out/gpu_equivalence.json, and exits
non-zero when fp32 gradients differ by more than 1e-5 relative or fp32 held-out losses by more
than 1e-3 relative (bf16 and graph runs are reported, not judged: bf16 rounding is coarse).

    python benchmarks/gpu_equivalence.py [cpu]
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from phrenology.models.batched_train import Member, train_group
from phrenology.models.grouped_model import GroupedTransformer
from phrenology.models.model import build_model, model_kwargs
from phrenology.models.train import TrainSettings, epoch_order, next_token_loss, train

from common import write_result

CFG = {"n_layers": 1, "n_heads": 4, "n_ctx": 16, "d_model": 64, "d_head": 16, "d_mlp": 256,
       "act_fn": "solu_ln", "normalization_type": "LN"}  # fmt: skip
V, SEEDS = 50, [0, 1, 2]
DEVICE = torch.device(sys.argv[1] if len(sys.argv) > 1 else "cuda")  # cpu: a smoke test


def windows(n: int, seed: int) -> np.ndarray:
    start = np.random.default_rng(seed).integers(0, V, size=(n, 1))
    return (start + np.arange(17)[None, :]) % V


def member(seed: int) -> Member:
    return Member(seed, model_kwargs(CFG, V, seed), windows(320, seed), windows(64, 100 + seed))


def main() -> None:
    s32 = TrainSettings(batch_size=32, epochs=3, lr=3e-3, weight_decay=0.1, betas=(0.9, 0.98),
                        precision="fp32", log_every=1)  # fmt: skip
    result: dict = {}
    models = [build_model(model_kwargs(CFG, V, s), DEVICE) for s in SEEDS]
    group = GroupedTransformer.from_models(models)
    batch = torch.as_tensor(np.stack([member(s).train_windows[epoch_order(320, s, 0)[:32]]
                                      for s in SEEDS]), device=DEVICE)  # fmt: skip
    group.loss(batch).sum().backward()
    worst = 0.0
    for g, m in enumerate(models):
        next_token_loss(m, batch[g]).backward()
        for name, p in m.named_parameters():
            if name.endswith("b_K"):
                continue  # true gradient 0: rounding noise in both
            err = float((group.params[name].grad[g] - p.grad).norm() / p.grad.norm())
            worst = max(worst, err)
    result["first_step_grad_max_rel_err_fp32"] = worst
    for precision in ("fp32", "bf16"):
        s = TrainSettings(**{**s32.__dict__, "precision": precision})
        alone = []
        for seed in SEEDS:
            m = member(seed)
            model = build_model(m.model_kwargs, DEVICE)
            log = train(model, m.train_windows, m.heldout_windows, s, seed, m.model_kwargs,
                        DEVICE, progress=False)  # fmt: skip
            alone.append([r["heldout_loss"] for r in log.epochs])
        for mode in ("eager", "cuda_graphs"):
            ms = [build_model(model_kwargs(CFG, V, sd), DEVICE) for sd in SEEDS]
            logs = train_group(ms, [member(sd) for sd in SEEDS], s, DEVICE, progress=False,
                               compile=mode)  # fmt: skip
            got = np.array([[r["heldout_loss"] for r in log.epochs] for log in logs])
            rel = float(np.max(np.abs(got - np.array(alone)) / np.array(alone)))
            result[f"heldout_max_rel_diff_{precision}_{mode}"] = rel
            result[f"heldout_{precision}_{mode}"] = got.tolist()
        result[f"heldout_{precision}_per_seed"] = alone
    for k, v in result.items():
        if not isinstance(v, list):
            print(f"{k:>40}: {v:.3g}")
    write_result("gpu_equivalence", result)
    ok = (result["first_step_grad_max_rel_err_fp32"] <= 1e-5
          and result["heldout_max_rel_diff_fp32_eager"] <= 1e-3)  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
