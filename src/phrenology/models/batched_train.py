"""Train G models of one architecture together, each exactly as :func:`phrenology.models.train.train` would.

One job of ``train.models_per_job`` = G seeds stacks the G models' weights
(:class:`phrenology.models.grouped_model.GroupedTransformer`) and runs one forward/backward pass for
all of them per step. Each model keeps what makes it its own run:

* its initialisation (each HookedTransformer is built from its own seed, then stacked);
* its training and held-out windows (sampled with its seed by the caller) and its epoch
  order (:func:`phrenology.models.train.epoch_order` of its seed);
* its AdamW state: AdamW is elementwise and every model takes the same step count, so one
  fused AdamW over the stacked tensors is G independent AdamWs (no gradient clipping or
  any other cross-parameter coupling exists in the loop);
* its log (steps.tsv / epochs.tsv rows) and its resumable checkpoint, in exactly the format
  of the per-seed path (``results/checkpoints/seed<seed>.pt``: model ``state_dict``, a
  per-model AdamW ``state_dict``, position in the data, running sums), so a checkpoint
  written by either path resumes in the other.

The summed loss Σ_g loss_g has gradient ∂loss_g/∂θ_g for model g's weights: the models do
not interact. Results equal the per-seed runs up to float rounding (batched instead of
single matrix products; see docs/batched.md for the measured tolerance).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phrenology.models.grouped_model import GroupedTransformer
from phrenology.models.train import (
    TrainingDiverged,
    TrainLog,
    TrainSettings,
    _load_resume_state,
    _save_resume_state,
    autocast_for,
    deterministic_algorithms,
    epoch_order,
    run_fingerprint,
)

COMPILE_MODES = ("eager", "torch_compile", "cuda_graphs")


@dataclass
class Member:
    """One seed of a group: its own data and where its resumable state lives."""

    seed: int
    model_kwargs: Mapping[str, Any]
    train_windows: np.ndarray  # int64[n_train, n_ctx + 1]
    heldout_windows: np.ndarray  # int64[n_heldout, n_ctx + 1]
    checkpoint_path: str | os.PathLike | None = None


def make_group_optimizer(
    group: GroupedTransformer, settings: TrainSettings, capturable: bool = False
) -> torch.optim.AdamW:
    """:func:`phrenology.models.train.make_optimizer`'s AdamW over the stacked weights."""
    kwargs = dict(lr=settings.lr, weight_decay=settings.weight_decay, betas=settings.betas)
    if not capturable:
        return torch.optim.AdamW(group.parameters(), fused=True, **kwargs)
    try:  # CUDA graphs: the step count must live on the GPU
        return torch.optim.AdamW(group.parameters(), fused=True, capturable=True, **kwargs)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(group.parameters(), foreach=True, capturable=True, **kwargs)


def member_optimizer_state(optimizer: torch.optim.Optimizer, g: int) -> dict[str, Any]:
    """Model g's slice of the stacked AdamW, as the ``state_dict`` of its own AdamW."""
    full = optimizer.state_dict()
    state = {
        i: {k: (v if k == "step" else v[g]).detach().clone() for k, v in s.items()}
        for i, s in full["state"].items()
    }
    return {"state": state, "param_groups": full["param_groups"]}


def stacked_optimizer_state(states: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Inverse of :func:`member_optimizer_state`: per-model AdamW states → the stacked one."""
    first = states[0]
    stacked = {}
    for i, s in first["state"].items():
        stacked[i] = {
            k: (v.clone() if k == "step" else torch.stack([st["state"][i][k] for st in states]))
            for k, v in s.items()
        }
    return {"state": stacked, "param_groups": first["param_groups"]}


@torch.inference_mode()
def evaluate_group(
    group: GroupedTransformer,
    windows: np.ndarray,
    batch_size: int,
    device: torch.device,
    precision: str = "fp32",
) -> list[float]:
    """Each model's token-weighted mean next-token loss on its own windows int64[G, n, n_ctx + 1]."""
    totals, count = [0.0] * group.n_models, 0
    for start in range(0, windows.shape[1], batch_size):
        batch = torch.from_numpy(windows[:, start : start + batch_size]).to(device)
        with autocast_for(device, precision):
            losses = group.loss(batch).tolist()
        n = batch.shape[1]
        totals = [t + loss * n for t, loss in zip(totals, losses, strict=True)]
        count += n
    return [t / count for t in totals]


def train_group(
    models: Sequence[torch.nn.Module],
    members: Sequence[Member],
    settings: TrainSettings,
    device: torch.device | str = "cpu",
    progress: bool = True,
    stop_after_steps: int | None = None,
    compile: str = "eager",
) -> list[TrainLog]:
    """Train ``models`` (freshly built HookedTransformers, one per member) together, in place.

    Returns one TrainLog per member, as :func:`phrenology.models.train.train` would have. A member's
    checkpoint is resumed when every member of the group has one of the same run at the
    same position (a group moves in lockstep); otherwise all start afresh (which, training
    being deterministic, ends with the same weights, only later).
    """
    if len(models) != len(members) or not members:
        raise ValueError("one model per member, at least one")
    if compile not in COMPILE_MODES:
        raise ValueError(f"compile must be one of {COMPILE_MODES}, not {compile!r}")
    with deterministic_algorithms():
        return _train_group(
            models, members, settings, torch.device(device), progress, stop_after_steps, compile
        )


def _train_group(models, members, settings, device, progress, stop_after_steps, compile):
    from tqdm import tqdm

    for m in models:
        m.to(device).train()
    group = GroupedTransformer.from_models(models)
    n_models = len(members)
    train_windows = np.stack([m.train_windows for m in members])  # [G, n, n_ctx + 1]
    heldout_windows = np.stack([m.heldout_windows for m in members])
    n = train_windows.shape[1]
    batches_per_epoch = math.ceil(n / settings.batch_size)
    total_steps = batches_per_epoch * settings.epochs
    paths = [Path(m.checkpoint_path) if m.checkpoint_path else None for m in members]
    prints = [
        run_fingerprint(settings, m.seed, m.model_kwargs or {}, m.train_windows) for m in members
    ]
    graphs = compile == "cuda_graphs" and device.type == "cuda"
    if compile == "cuda_graphs" and not graphs:
        print("train.compile cuda_graphs needs CUDA: running eagerly", file=sys.stderr)
    optimizer = make_group_optimizer(group, settings, capturable=graphs)

    logs = [TrainLog() for _ in members]
    epoch, batch_index, global_step = 0, 0, 0
    loss_sums, elapsed = [0.0] * n_models, [0.0] * n_models
    resumed = [_load_resume_state(p, f) for p, f in zip(paths, prints, strict=True)]
    where = {(r["epoch"], r["batch_index"], r["global_step"]) for r in resumed if r is not None}
    if all(r is not None for r in resumed) and len(where) == 1:
        for g, r in enumerate(resumed):
            group.load_model_state(g, r["model"])
        optimizer.load_state_dict(stacked_optimizer_state([r["optimizer"] for r in resumed]))
        epoch, batch_index, global_step = where.pop()
        loss_sums = [r["epoch_loss_sum"] for r in resumed]
        elapsed = [r["elapsed"] for r in resumed]
        logs = [TrainLog(steps=r["steps"], epochs=r["epochs"]) for r in resumed]
        torch.set_rng_state(resumed[0]["torch_rng"])
        print(
            f"resumed {n_models} models at epoch {epoch + 1}, step {global_step}", file=sys.stderr
        )
    else:
        if any(r is not None for r in resumed):
            print(
                "ignoring the group's checkpoints: not every model has one at the same step",
                file=sys.stderr,
            )
        init = evaluate_group(
            group, heldout_windows, settings.batch_size, device, settings.precision
        )
        for log, loss in zip(logs, init, strict=True):
            log.epochs.append({"epoch": 0, "step": 0, "train_loss": float("nan"),
                               "heldout_loss": loss, "seconds": 0.0})  # fmt: skip

    def checkpoint() -> None:
        now = time.perf_counter() - t0
        rng = torch.get_rng_state()
        for g, path in enumerate(paths):
            if path is None:
                continue
            _save_resume_state(path, {
                "fingerprint": prints[g], "model": group.state_dict_of(g, models[g]),
                "optimizer": member_optimizer_state(optimizer, g),
                "epoch": epoch, "batch_index": batch_index, "global_step": global_step,
                "epoch_loss_sum": loss_sums[g], "elapsed": elapsed[g] + now,
                "steps": logs[g].steps, "epochs": logs[g].epochs, "torch_rng": rng,
            })  # fmt: skip

    if graphs:
        step = _GraphedStep(group, optimizer, settings, device)
    else:
        step = make_step(group, optimizer, settings, device, compile)
    tokens_per_batch = settings.batch_size * (train_windows.shape[2] - 1)
    seeds = ",".join(str(m.seed) for m in members)
    bar = tqdm(total=total_steps, initial=global_step, disable=not progress, file=sys.stderr,
               mininterval=1.0 if sys.stderr.isatty() else 10.0, desc=f"train seeds {seeds}")  # fmt: skip
    rows = np.arange(n_models)[:, None]
    t0 = time.perf_counter()
    window_t0, window_steps = t0, 0
    while epoch < settings.epochs:
        orders = np.stack([epoch_order(n, m.seed, epoch) for m in members])  # [G, n]
        while batch_index < batches_per_epoch:
            index = orders[
                :, batch_index * settings.batch_size : (batch_index + 1) * settings.batch_size
            ]
            batch = torch.from_numpy(train_windows[rows, index]).to(device, non_blocking=True)
            losses = step(batch)
            values = losses.tolist()
            for g, value in enumerate(values):
                if not math.isfinite(value):
                    raise TrainingDiverged(
                        f"seed {members[g].seed}: loss is {value} at epoch {epoch + 1}, step "
                        f"{global_step + 1} (batch {batch_index} of the epoch: training windows "
                        f"{index[g, :8].tolist()}...); lower train.lr or check the data"
                    )
            batch_index += 1
            global_step += 1
            window_steps += 1
            loss_sums = [s + v for s, v in zip(loss_sums, values, strict=True)]
            bar.update()
            if global_step % settings.log_every == 0 or batch_index == batches_per_epoch:
                now = time.perf_counter()
                rate = window_steps * tokens_per_batch / max(now - window_t0, 1e-9)
                for g, log in enumerate(logs):  # tokens/s of each model (the group does G×)
                    log.steps.append({"epoch": epoch + 1, "step": global_step, "loss": values[g],
                                      "tokens_per_s": rate, "seconds": elapsed[g] + now - t0})  # fmt: skip
                bar.set_postfix(loss=f"{np.mean(values):.3f}", refresh=False)
                window_t0, window_steps = now, 0
            if settings.checkpoint_every and global_step % settings.checkpoint_every == 0:
                checkpoint()
            if stop_after_steps is not None and global_step >= stop_after_steps:
                bar.close()
                _write_back(group, models)
                return logs
        heldout = evaluate_group(
            group, heldout_windows, settings.batch_size, device, settings.precision
        )
        for g, log in enumerate(logs):
            log.epochs.append({"epoch": epoch + 1, "step": global_step,
                               "train_loss": loss_sums[g] / batches_per_epoch,
                               "heldout_loss": heldout[g], "seconds": elapsed[g] + time.perf_counter() - t0})  # fmt: skip
        print(
            f"epoch {epoch + 1}: heldout " + " ".join(f"{h:.4f}" for h in heldout), file=sys.stderr
        )
        epoch, batch_index, loss_sums = epoch + 1, 0, [0.0] * n_models
    bar.close()
    _write_back(group, models)
    return logs


def _write_back(group: GroupedTransformer, models: Sequence[torch.nn.Module]) -> None:
    for g, model in enumerate(models):
        model.load_state_dict(group.state_dict_of(g, model))


# --- one optimizer step, eager, compiled or as a CUDA graph ----------------------------------------


def make_step(
    group: GroupedTransformer,
    optimizer: torch.optim.Optimizer,
    settings: TrainSettings,
    device: torch.device,
    compile: str = "eager",
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function windows int64[G, batch, n_ctx + 1] → per-model losses float32[G] (detached)
    that also takes the optimizer step.

    ``torch_compile`` compiles the forward + loss (the backward through AOTAutograd; the fused
    loss's Python chunk loop becomes one graph); when compilation fails (no compiler, an
    unsupported op) it falls back to eager with a warning.
    """
    forward = group.loss
    if compile == "torch_compile":
        compiled = torch.compile(group.loss, dynamic=False)

        def forward(windows: torch.Tensor) -> torch.Tensor:
            nonlocal compiled
            if compiled is None:
                return group.loss(windows)
            try:
                return compiled(windows)
            except Exception as e:  # e.g. no C++ compiler for inductor on this machine
                warnings.warn(
                    f"torch.compile failed ({type(e).__name__}: {e}); running eagerly", stacklevel=2
                )
                compiled = None
                return group.loss(windows)

    def step(windows: torch.Tensor) -> torch.Tensor:
        with autocast_for(device, settings.precision):
            losses = forward(windows)
        losses.sum().backward()  # Σ_g loss_g: model g's weights get ∂loss_g/∂θ_g
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return losses.detach()

    return step


class _GraphedStep:
    """The whole step (forward, backward, AdamW) captured once as a CUDA graph and replayed.

    The first ``WARMUP_STEPS`` calls are real steps run eagerly on a side stream (capture
    needs warmed-up kernels, cuBLAS handles and allocator pools, as in PyTorch's whole-network
    capture recipe); the next call captures the step (capture records, it does not run) and
    replays it; every later call copies its windows into the static input and replays. Needs a
    capturable AdamW (its step count lives on the GPU); autocast's weight cache is off. If
    capture fails, the step falls back to eager, with a warning.
    """

    WARMUP_STEPS = 3

    def __init__(self, group, optimizer, settings: TrainSettings, device: torch.device):
        self.group, self.optimizer, self.device = group, optimizer, device
        self.eager = make_step(group, optimizer, settings, device)
        use_bf16 = settings.precision in ("auto", "bf16")
        self.autocast = (
            (lambda: torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False))
            if use_bf16
            else contextlib.nullcontext
        )
        self.calls = 0
        self.graph = None
        self.failed = False
        self.side = torch.cuda.Stream(device)

    def _capture(self, windows: torch.Tensor) -> None:
        self.static_windows = windows.clone()
        self.optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize(self.device)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            with self.autocast():
                losses = self.group.loss(self.static_windows)
            losses.sum().backward()
            self.optimizer.step()
        self.static_losses = losses.detach()
        self.graph = graph

    def __call__(self, windows: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.failed or self.calls <= self.WARMUP_STEPS:
            if self.failed:
                return self.eager(windows)
            self.side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(self.side):
                losses = self.eager(windows)
            torch.cuda.current_stream(self.device).wait_stream(self.side)
            return losses
        if self.graph is None:
            try:
                self._capture(windows)
            except Exception as e:  # an op that cannot be captured: stay eager
                warnings.warn(
                    f"CUDA graph capture failed ({type(e).__name__}: {e}); running eagerly",
                    stacklevel=2,
                )
                self.failed = True
                self.optimizer.zero_grad(set_to_none=True)
                return self.eager(windows)
        self.static_windows.copy_(windows)
        self.graph.replay()
        return self.static_losses.clone()
