"""Dense tanh autoencoder over token-pair patterns (paper §2.2.1; the authors' ``R/autoencode.R``).

Architecture (as the authors' keras model): Dense layers with tanh, widths halving
from ``first_width`` down to the bottleneck, mirrored back, then a linear Dense
layer to the input width. The bottleneck is tanh too, so codes lie in [-1, 1].
For bottleneck 2 and first width 128 over 136 features:

    136 → 128 → 64 → 32 → 16 → 8 → 4 → 2 → 4 → 8 → 16 → 32 → 64 → 128 → 136

i.e. 14 Dense layers — the paper's "keras layers" column counts exactly these
(:func:`n_dense_layers`). Loss: mean squared error over all features, Adam.

Everything random — the train/validation split, the weight init, the batch order —
comes from one seed, so a rerun gives the same weights.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from phrenology.models.train import TrainingDiverged
from phrenology.pipeline.errors import DataError
from phrenology.pipeline.io import REBUILD_HINT, load_torch, save_torch

FORMAT = "phrenology-autoencoder/1"
EVAL_BATCH = 65536  # rows per forward pass when only evaluating (bounds memory, not results)
# rows in memory (an array), or heads.PatternRows: read from the attention files' memory maps
Rows = Any


def encoder_widths(bottleneck: int, first_width: int) -> list[int]:
    """Hidden widths of the encoder: ``first_width`` halved while the half stays above the
    bottleneck, then the bottleneck. E.g. (2, 128) → [128, 64, 32, 16, 8, 4, 2]; (64, 128) →
    [128, 64]; (3, 16) → [16, 8, 4, 3]; (8, 8) → [8].
    """
    if bottleneck < 1 or first_width < bottleneck:
        raise ValueError(f"need 1 ≤ bottleneck ≤ first_width, got {bottleneck}, {first_width}")
    widths = [first_width]
    while widths[-1] > bottleneck:
        half = widths[-1] // 2
        widths.append(half if half > bottleneck else bottleneck)
    return widths


def layer_widths(n_features: int, bottleneck: int, first_width: int) -> list[int]:
    """Every width from input to output: [n_features, *encoder, *mirrored decoder, n_features]."""
    enc = encoder_widths(bottleneck, first_width)
    return [n_features, *enc, *enc[-2::-1], n_features]


def n_dense_layers(bottleneck: int, first_width: int) -> int:
    """Dense layers of the whole autoencoder (the paper's "keras layers" in Table 1)."""
    return 2 * len(encoder_widths(bottleneck, first_width))


class Autoencoder(nn.Module):
    """``encoder``: tanh Dense layers down to the bottleneck; ``decoder``: tanh Dense layers
    back up, the last one linear."""

    def __init__(self, n_features: int, bottleneck: int, first_width: int):
        super().__init__()
        widths = layer_widths(n_features, bottleneck, first_width)
        n_enc = len(encoder_widths(bottleneck, first_width))
        layers: list[nn.Module] = []
        for i, (w_in, w_out) in enumerate(itertools.pairwise(widths)):
            layers.append(nn.Linear(w_in, w_out))
            if i < len(widths) - 2:  # every layer but the output one
                layers.append(nn.Tanh())
        self.encoder = nn.Sequential(*layers[: 2 * n_enc])
        self.decoder = nn.Sequential(*layers[2 * n_enc :])
        self.n_features, self.bottleneck, self.first_width = n_features, bottleneck, first_width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float[batch, n_features] → reconstruction float[batch, n_features]"""
        return self.decoder(self.encoder(x))


def build_autoencoder(n_features: int, bottleneck: int, first_width: int, seed: int) -> Autoencoder:
    """A freshly initialised autoencoder; the init depends on ``seed`` alone (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Autoencoder(n_features, bottleneck, first_width)


def split_rows(n_rows: int, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of row indices into (train, validation); both sorted.

    With validation_fraction 0 the validation set is empty. Both sets are non-empty otherwise.
    """
    n_val = round(n_rows * validation_fraction)
    if validation_fraction > 0:
        n_val = min(max(n_val, 1), n_rows - 1)
    if n_rows - n_val < 1:
        raise DataError(f"{n_rows} rows cannot be split into training and validation sets")
    perm = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


@dataclass(frozen=True)
class AESettings:
    first_width: int
    epochs: int
    batch_size: int
    lr: float
    seed: int
    validation_fraction: float

    @classmethod
    def from_config(cls, ae_cfg: dict[str, Any]) -> AESettings:
        return cls(
            first_width=int(ae_cfg["first_width"]),
            epochs=int(ae_cfg["epochs"]),
            batch_size=int(ae_cfg["batch_size"]),
            lr=float(ae_cfg["lr"]),
            seed=int(ae_cfg["seed"]),
            validation_fraction=float(ae_cfg["validation_fraction"]),
        )


def take_rows(rows: Rows, index: np.ndarray) -> np.ndarray:
    """Rows ``index`` of an array or of a :class:`~phrenology.analysis.heads.PatternRows`."""
    if isinstance(rows, np.ndarray):
        return rows[index]
    return rows.take(index)


@torch.no_grad()
def reconstruction_mse(
    model: nn.Module,
    rows: torch.Tensor | Rows,
    batch_size: int = EVAL_BATCH,
    index: np.ndarray | None = None,
) -> float:
    """Mean squared error over all rows (or over rows ``index``) and features.

    rows: float[n, n_features]: a tensor, an array, or PatternRows (read batch_size at a time)
    """
    device = next(model.parameters()).device
    if index is None:
        if not isinstance(rows, (torch.Tensor, np.ndarray)):
            index = np.arange(len(rows))
        else:
            rows = torch.as_tensor(rows, dtype=torch.float32)
    n = len(rows) if index is None else len(index)
    if n == 0:
        return math.nan
    model.eval()
    total = 0.0
    for start in range(0, n, batch_size):
        if index is None:
            x = rows[start : start + batch_size].to(device)
        else:
            x = torch.from_numpy(take_rows(rows, index[start : start + batch_size])).to(device)
        total += float(((model(x) - x) ** 2).sum())
    return total / (n * rows.shape[1])


def train_autoencoder(
    rows: Rows,
    bottleneck: int,
    settings: AESettings,
    device: torch.device | str = "cpu",
    log: Any = None,
) -> tuple[Autoencoder, list[dict[str, float]], dict[str, Any]]:
    """Train one autoencoder on a seeded split of ``rows``.

    rows: float32[n_rows, n_features], in memory or as PatternRows (streamed from the memory
          maps batch by batch: the same numbers in the same order, so the same model)
    returns (model in eval mode, per-epoch history ``[{epoch, train_mse, validation_mse}]``,
    metrics: bottleneck, n_layers, widths, n_parameters, mse (validation; training MSE when the
    validation set is empty), train_mse, n_train, n_validation, seconds, device)
    """
    started = time.time()
    device = torch.device(device)
    if isinstance(rows, np.ndarray):
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if rows.ndim != 2 or not np.isfinite(rows).all():
            raise DataError(f"autoencoder input must be a finite 2-D array, got shape {rows.shape}")
    # else PatternRows: checked finite when opened, read batch by batch from disk
    train_idx, val_idx = split_rows(len(rows), settings.validation_fraction, settings.seed)

    model = build_autoencoder(rows.shape[1], bottleneck, settings.first_width, settings.seed).to(
        device
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    # The batch order has its own generator (CPU, so it is the same on any device).
    order = torch.Generator().manual_seed(settings.seed)
    history: list[dict[str, float]] = []
    n_train = len(train_idx)
    for epoch in range(1, settings.epochs + 1):
        model.train()
        batches = train_idx[torch.randperm(n_train, generator=order).numpy()]
        sum_sq = 0.0
        for start in range(0, n_train, settings.batch_size):
            x = torch.from_numpy(take_rows(rows, batches[start : start + settings.batch_size]))
            x = x.to(device)
            loss = nn.functional.mse_loss(model(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sum_sq += float(loss.detach()) * x.numel()
        if not math.isfinite(sum_sq):
            raise TrainingDiverged(
                f"autoencoder (bottleneck {bottleneck}) diverged in epoch {epoch}"
            )
        row = {
            "epoch": epoch,
            "train_mse": sum_sq / (n_train * rows.shape[1]),
            "validation_mse": reconstruction_mse(model, rows, index=val_idx),
        }
        history.append(row)
        if log is not None:
            print(
                f"bottleneck {bottleneck} epoch {epoch}: train mse {row['train_mse']:.6g}, "
                f"validation mse {row['validation_mse']:.6g}",
                file=log,
            )
    model.eval()
    train_mse = reconstruction_mse(model, rows, index=train_idx)
    val_mse = reconstruction_mse(model, rows, index=val_idx)
    metrics = {
        "bottleneck": bottleneck,
        "n_layers": n_dense_layers(bottleneck, settings.first_width),
        "widths": layer_widths(rows.shape[1], bottleneck, settings.first_width),
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "mse": val_mse if len(val_idx) else train_mse,
        "mse_on": "validation" if len(val_idx) else "train",
        "train_mse": train_mse,
        "n_train": len(train_idx),
        "n_validation": len(val_idx),
        "epochs": settings.epochs,
        "device": str(device),
        "seconds": round(time.time() - started, 3),
    }
    return model, history, metrics


@torch.no_grad()
def encode(model: Autoencoder, rows: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Bottleneck codes. rows: float[n, n_features] → float32[n, bottleneck] in [-1, 1]"""
    device = next(model.parameters()).device
    model.eval()
    out = [
        model.encoder(torch.as_tensor(rows[s : s + batch_size], dtype=torch.float32, device=device))
        .cpu()
        .numpy()
        for s in range(0, len(rows), batch_size)
    ]
    return (
        np.concatenate(out).astype(np.float32)
        if out
        else np.zeros((0, model.bottleneck), np.float32)
    )


@torch.no_grad()
def decode(model: Autoencoder, codes: np.ndarray) -> np.ndarray:
    """Decoder output for given codes. codes: float[n, bottleneck] → float32[n, n_features]"""
    device = next(model.parameters()).device
    model.eval()
    x = torch.as_tensor(np.asarray(codes), dtype=torch.float32, device=device)
    return model.decoder(x).cpu().numpy().astype(np.float32)


def save_autoencoder(path: str | Path, model: Autoencoder, metrics: dict[str, Any]) -> None:
    """Plain dict: architecture, CPU state_dict, metrics — reloadable with torch alone."""
    blob = {
        "format": FORMAT,
        "n_features": model.n_features,
        "bottleneck": model.bottleneck,
        "first_width": model.first_width,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": metrics,
    }
    save_torch(path, blob)


def load_autoencoder(path: str | Path, device: torch.device | str = "cpu") -> Autoencoder:
    blob = load_torch(path, "autoencoder file")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise DataError(f"{path} is not a {FORMAT} file; {REBUILD_HINT}")
    try:
        model = Autoencoder(blob["n_features"], blob["bottleneck"], blob["first_width"])
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path} cannot be read as an autoencoder ({e}); {REBUILD_HINT}") from e
    return model.to(device).eval()
