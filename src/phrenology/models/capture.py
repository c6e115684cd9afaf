"""Capture every head's attention pattern (post-softmax) on a fixed set of prompts.

Only ``blocks.*.attn.hook_pattern`` is kept and the forward pass never reaches the
unembedding — by far the largest matrix of these models: ``stop_at_layer`` ends it
after the last block, and the last layer's pattern hook ends it even earlier, before
that block's attention output and MLP, which patterns do not depend on.
"""

from __future__ import annotations

import numpy as np
import torch
from transformer_lens import HookedTransformer


def _is_pattern(name: str) -> bool:
    return name.endswith("attn.hook_pattern")


class _PatternsComplete(Exception):
    """Raised by the last layer's hook: nothing after it is needed (hooks are removed on exit)."""


@torch.inference_mode()
def capture_patterns(
    model: HookedTransformer,
    prompts: np.ndarray,
    batch_size: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Attention patterns of all heads.

    prompts: int64[n_prompts, n_ctx] model token ids
    out:     optional float32[n_prompts, n_layers * n_heads, n_ctx, n_ctx] to fill in place
             (e.g. a disk-backed memmap, so only one batch is ever in RAM)
    returns: ``out``; head axis is layer-major: index = layer * n_heads + head
    """
    cfg = model.cfg
    n_prompts, n_ctx = prompts.shape
    shape = (n_prompts, cfg.n_layers * cfg.n_heads, n_ctx, n_ctx)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, expected {shape}")
    device = next(model.parameters()).device
    model.eval()
    for start in range(0, n_prompts, batch_size):
        stop = min(start + batch_size, n_prompts)
        tokens = torch.from_numpy(np.asarray(prompts[start:stop])).to(device)

        def keep(pattern: torch.Tensor, hook, start=start, stop=stop) -> None:
            # pattern: [batch, n_heads, query, key]
            layer = int(hook.name.split(".")[1])
            heads = slice(layer * cfg.n_heads, (layer + 1) * cfg.n_heads)
            out[start:stop, heads] = pattern.float().cpu().numpy()
            if layer == cfg.n_layers - 1:
                raise _PatternsComplete

        try:
            model.run_with_hooks(
                tokens, fwd_hooks=[(_is_pattern, keep)], stop_at_layer=cfg.n_layers
            )
        except _PatternsComplete:
            pass
    return out
