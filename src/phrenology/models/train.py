"""Train one toy transformer on next-token prediction, resumably and deterministically.

The loop is the paper's: AdamW, cross-entropy over all n_ctx positions of each
(n_ctx + 1)-token window, a held-out loss after every epoch; training windows are
reshuffled each epoch. Each epoch's order is a pure function of (seed, epoch), so
a run resumed from a checkpoint (model, optimizer, position in the data, running
sums) continues bit for bit where it stopped.

The model's seed sets its initialisation; its *data seed* (:func:`data_seed_for`) sets which
windows are sampled and their order in each epoch. By default (``train.data_seed: null``, the
paper) the data seed is the model's seed; a fixed ``train.data_seed`` gives every model the same
data in the same order, so that models differ in their initialisation only.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from phrenology.models.fused_loss import linear_cross_entropy
from phrenology.pipeline.errors import PhrenologyError
from phrenology.pipeline.io import save_torch


class TrainingDiverged(PhrenologyError, FloatingPointError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int
    epochs: int
    lr: float
    weight_decay: float
    betas: tuple[float, float]
    precision: str = "auto"
    log_every: int = 10
    checkpoint_every: int = 0

    @classmethod
    def from_config(cls, train_cfg: Mapping[str, Any]) -> TrainSettings:
        return cls(
            batch_size=int(train_cfg["batch_size"]),
            epochs=int(train_cfg["epochs"]),
            lr=float(train_cfg["lr"]),
            weight_decay=float(train_cfg["weight_decay"]),
            betas=(float(train_cfg["betas"][0]), float(train_cfg["betas"][1])),
            precision=str(train_cfg.get("precision", "auto")),
            log_every=int(train_cfg.get("log_every", 10)),
            checkpoint_every=int(train_cfg.get("checkpoint_every", 0)),
        )


@dataclass
class TrainLog:
    """Rows for steps.tsv and epochs.tsv (epoch 0 = before any training)."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)


def next_token_loss(
    model: torch.nn.Module, windows: torch.Tensor, fused: bool | None = None
) -> torch.Tensor:
    """Mean cross-entropy of predicting ``windows[:, 1:]`` from ``windows[:, :-1]``.

    windows: int64[batch, n_ctx + 1] → scalar float32

    In fp32 (``fused`` None → whenever autocast is off) the unembedding and the loss
    run fused in token chunks (:mod:`phrenology.models.fused_loss`): same result, without
    materialising [batch·n_ctx, d_vocab] logits and their gradient. Under bf16
    autocast (the GPU path) the plain logits route is used.
    """
    inputs, targets = windows[:, :-1], windows[:, 1:].flatten()
    if fused is None:
        fused = not torch.is_autocast_enabled(inputs.device.type)
    if not fused:
        logits = model(inputs)  # [batch, n_ctx, d_vocab]
        return F.cross_entropy(logits.flatten(0, 1).float(), targets)
    residual = model(inputs, stop_at_layer=model.cfg.n_layers)  # all blocks, no ln_final / unembed
    ln_final = getattr(model, "ln_final", None)
    if ln_final is not None:
        residual = ln_final(residual)
    return linear_cross_entropy(
        residual.flatten(0, 1), model.unembed.W_U, model.unembed.b_U, targets
    )


def make_optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.AdamW:
    """AdamW as in the paper; the fused kernel (one pass per tensor, CPU and CUDA) where available."""
    return torch.optim.AdamW(
        model.parameters(),
        lr=settings.lr,
        weight_decay=settings.weight_decay,
        betas=settings.betas,
        fused=True,
    )


def data_seed_for(train_cfg: Mapping[str, Any], seed: int) -> int:
    """The seed of a model's data sample and order: ``train.data_seed``, or (null, the paper's
    behaviour) the model's own seed."""
    data_seed = train_cfg.get("data_seed")
    return int(seed) if data_seed is None else int(data_seed)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of training windows in a given epoch: a permutation that depends only on (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def autocast_for(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA for 'auto'/'bf16'; plain fp32 otherwise (CPU bf16 is slower here)."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    windows: np.ndarray,
    batch_size: int,
    device: torch.device,
    precision: str = "fp32",
) -> float:
    """Token-weighted mean next-token loss over ``windows`` int64[n, n_ctx + 1]."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(windows), batch_size):
        batch = torch.from_numpy(windows[start : start + batch_size]).to(device)
        with autocast_for(device, precision):
            loss = next_token_loss(model, batch)
        total += float(loss) * len(batch)
        count += len(batch)
    model.train(was_training)
    return total / count


@contextlib.contextmanager
def deterministic_algorithms() -> Iterator[None]:
    """Deterministic kernels for the duration of training.

    TransformerLens embeds tokens by indexing (``W_E[tokens]``), whose backward sums the
    gradients of repeated tokens with ``index_put_(accumulate=True)``: on a CPU with several
    threads, in an order that changes from run to run, so two runs — or a resumed and an
    uninterrupted one — would differ in the last bits. The deterministic kernel is no slower
    here. ``warn_only``: an op without a deterministic kernel on some GPU warns rather than
    stops a run; ``CUBLAS_WORKSPACE_CONFIG`` makes cuBLAS deterministic (read when CUDA
    first runs a matmul).
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def run_fingerprint(
    settings: TrainSettings,
    seed: int,
    model_kwargs: Mapping[str, Any],
    train_windows: np.ndarray,
    data_seed: int | None = None,
) -> str:
    """Identifies a training run: a checkpoint from a different run is never resumed.

    A data seed equal to the model's seed (the default) leaves the fingerprint as it was
    before data seeds existed, so such checkpoints stay valid."""
    h = hashlib.sha256()
    key: tuple = (asdict(settings), seed, sorted(model_kwargs.items()))
    if data_seed is not None and data_seed != seed:
        key = (*key, ("data_seed", data_seed))
    h.update(repr(key).encode())
    h.update(np.ascontiguousarray(train_windows).tobytes())
    return h.hexdigest()


def _save_resume_state(path: Path, state: dict[str, Any]) -> None:
    save_torch(path, state)


def _load_resume_state(path: Path | None, fingerprint: str) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        print(f"ignoring unreadable checkpoint {path}: {e}", file=sys.stderr)
        return None
    if state.get("fingerprint") != fingerprint:
        print(f"ignoring checkpoint {path}: it belongs to a different run", file=sys.stderr)
        return None
    return state


def train(
    model: torch.nn.Module,
    train_windows: np.ndarray,
    heldout_windows: np.ndarray,
    settings: TrainSettings,
    seed: int,
    model_kwargs: Mapping[str, Any] | None = None,
    device: torch.device | str = "cpu",
    checkpoint_path: str | os.PathLike | None = None,
    progress: bool = True,
    stop_after_steps: int | None = None,
    data_seed: int | None = None,
) -> TrainLog:
    """Train ``model`` in place.

    train_windows:   int64[n_train, n_ctx + 1]
    heldout_windows: int64[n_heldout, n_ctx + 1]
    checkpoint_path: where to keep resumable state every ``settings.checkpoint_every`` steps;
        an existing checkpoint of the same run is resumed from.
    stop_after_steps: stop (as if killed) after this many optimizer steps; for tests.
    data_seed: seed of each epoch's window order; None = ``seed`` (the paper). The windows
        themselves are sampled by the caller (:func:`data_seed_for` gives the seed to use).
    """
    with deterministic_algorithms():
        return _train(
            model, train_windows, heldout_windows, settings, seed, model_kwargs, device,
            checkpoint_path, progress, stop_after_steps, data_seed,
        )  # fmt: skip


def _train(
    model: torch.nn.Module,
    train_windows: np.ndarray,
    heldout_windows: np.ndarray,
    settings: TrainSettings,
    seed: int,
    model_kwargs: Mapping[str, Any] | None,
    device: torch.device | str,
    checkpoint_path: str | os.PathLike | None,
    progress: bool,
    stop_after_steps: int | None,
    data_seed: int | None = None,
) -> TrainLog:
    from tqdm import tqdm

    device = torch.device(device)
    model.to(device).train()
    optimizer = make_optimizer(model, settings)
    n = len(train_windows)
    batches_per_epoch = math.ceil(n / settings.batch_size)
    total_steps = batches_per_epoch * settings.epochs
    ckpt_path = Path(checkpoint_path) if checkpoint_path else None
    fingerprint = run_fingerprint(settings, seed, model_kwargs or {}, train_windows, data_seed)
    order_seed = seed if data_seed is None else data_seed

    log = TrainLog()
    epoch, batch_index, global_step, epoch_loss_sum, elapsed = 0, 0, 0, 0.0, 0.0
    resumed = _load_resume_state(ckpt_path, fingerprint)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        epoch, batch_index, global_step = (
            resumed["epoch"],
            resumed["batch_index"],
            resumed["global_step"],
        )
        epoch_loss_sum, elapsed = resumed["epoch_loss_sum"], resumed["elapsed"]
        log = TrainLog(steps=resumed["steps"], epochs=resumed["epochs"])
        torch.set_rng_state(resumed["torch_rng"])
        print(f"resumed from {ckpt_path} at epoch {epoch + 1}, step {global_step}", file=sys.stderr)
    else:
        init_loss = evaluate(
            model, heldout_windows, settings.batch_size, device, settings.precision
        )
        log.epochs.append(
            {
                "epoch": 0,
                "step": 0,
                "train_loss": float("nan"),
                "heldout_loss": init_loss,
                "seconds": 0.0,
            }
        )

    def checkpoint() -> None:
        if ckpt_path is None:
            return
        _save_resume_state(ckpt_path, {
            "fingerprint": fingerprint, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "epoch": epoch, "batch_index": batch_index, "global_step": global_step,
            "epoch_loss_sum": epoch_loss_sum, "elapsed": elapsed + time.perf_counter() - t0,
            "steps": log.steps, "epochs": log.epochs, "torch_rng": torch.get_rng_state(),
        })  # fmt: skip

    tokens_per_batch = settings.batch_size * (train_windows.shape[1] - 1)
    bar = tqdm(total=total_steps, initial=global_step, disable=not progress, file=sys.stderr,
               mininterval=1.0 if sys.stderr.isatty() else 10.0, desc=f"train seed {seed}")  # fmt: skip
    t0 = time.perf_counter()
    window_t0, window_steps = t0, 0
    while epoch < settings.epochs:
        order = epoch_order(n, order_seed, epoch)
        while batch_index < batches_per_epoch:
            index = order[
                batch_index * settings.batch_size : (batch_index + 1) * settings.batch_size
            ]
            batch = torch.from_numpy(train_windows[index]).to(device, non_blocking=True)
            with autocast_for(device, settings.precision):
                loss = next_token_loss(model, batch)
            loss_value = loss.detach().item()
            if not math.isfinite(loss_value):
                raise TrainingDiverged(
                    f"loss is {loss_value} at epoch {epoch + 1}, step {global_step + 1} "
                    f"(batch {batch_index} of the epoch: training windows {index[:8].tolist()}...); "
                    "lower train.lr or check the data"
                )
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            batch_index += 1
            global_step += 1
            window_steps += 1
            epoch_loss_sum += loss_value
            bar.update()
            if global_step % settings.log_every == 0 or batch_index == batches_per_epoch:
                now = time.perf_counter()
                log.steps.append({
                    "epoch": epoch + 1, "step": global_step, "loss": loss_value,
                    "tokens_per_s": window_steps * tokens_per_batch / max(now - window_t0, 1e-9),
                    "seconds": elapsed + now - t0,
                })  # fmt: skip
                bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
                window_t0, window_steps = now, 0
            if settings.checkpoint_every and global_step % settings.checkpoint_every == 0:
                checkpoint()
            if stop_after_steps is not None and global_step >= stop_after_steps:
                bar.close()
                return log
        heldout = evaluate(model, heldout_windows, settings.batch_size, device, settings.precision)
        log.epochs.append({
            "epoch": epoch + 1, "step": global_step, "train_loss": epoch_loss_sum / batches_per_epoch,
            "heldout_loss": heldout, "seconds": elapsed + time.perf_counter() - t0,
        })  # fmt: skip
        print(
            f"epoch {epoch + 1}: train {epoch_loss_sum / batches_per_epoch:.4f} heldout {heldout:.4f}",
            file=sys.stderr,
        )
        epoch, batch_index, epoch_loss_sum = epoch + 1, 0, 0.0
    bar.close()
    return log
