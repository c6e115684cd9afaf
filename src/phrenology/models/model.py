"""Build the toy transformer from the config, save it, load it back.

``model.pt`` is a plain dict — ``{"config": HookedTransformerConfig kwargs,
"state_dict": ...}`` — so anyone reloads a model with TransformerLens alone::

    ckpt = torch.load("results/models/seed990/model.pt")
    model = HookedTransformer(HookedTransformerConfig(**ckpt["config"])); model.load_state_dict(ckpt["state_dict"])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from phrenology.pipeline.errors import DataError
from phrenology.pipeline.io import REBUILD_HINT, load_torch, save_torch

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

FORMAT = "phrenology-model/1"


def model_kwargs(model_cfg: Mapping[str, Any], d_vocab: int, seed: int) -> dict[str, Any]:
    """``HookedTransformerConfig`` keyword arguments for one seed (no device: chosen at load)."""
    return {
        "n_layers": int(model_cfg["n_layers"]),
        "n_heads": int(model_cfg["n_heads"]),
        "n_ctx": int(model_cfg["n_ctx"]),
        "d_model": int(model_cfg["d_model"]),
        "d_head": int(model_cfg["d_head"]),
        "d_mlp": int(model_cfg["d_mlp"]),
        "act_fn": str(model_cfg["act_fn"]),
        "normalization_type": model_cfg["normalization_type"],
        "d_vocab": int(d_vocab),
        "init_weights": True,
        "seed": int(seed),
    }


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA when present (or when asked), else CPU."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_model(kwargs: Mapping[str, Any], device: torch.device | str = "cpu") -> HookedTransformer:
    """A freshly initialised model; TransformerLens seeds the init from ``kwargs['seed']``."""
    import warnings

    # imported here: TransformerLens (and transformers under it) costs seconds to import, and
    # the autoencoder jobs use this module only for pick_device
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="HookedTransformer is deprecated")
        return HookedTransformer(HookedTransformerConfig(**kwargs, device=str(device)))


def save_model(
    path: str | os.PathLike, model: HookedTransformer, kwargs: Mapping[str, Any], **extra: Any
) -> None:
    """Write ``{"format", "config", "state_dict", **extra}`` atomically; tensors are saved on CPU."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch(path, {"format": FORMAT, "config": dict(kwargs), "state_dict": state, **extra})


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    ckpt = load_torch(path, "model file")
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise DataError(f"{path} lacks 'config'/'state_dict'; it was not written by this pipeline")
    return ckpt


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> HookedTransformer:
    """Rebuild a saved model in eval mode."""
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["config"], device)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise DataError(f"{path}: weights do not fit its config ({e}); {REBUILD_HINT}") from e
    return model.eval()
