"""Unembedding + cross-entropy in one pass over token chunks, gradients computed on the way.

The paper-sized model spends most of its FLOPs in the 256 × 50257 unembedding, and
a plain ``F.cross_entropy(logits)`` then walks the [tokens, 50257] logits five more
times (log-softmax, its backward, a zero-filled gradient, copies). Here each chunk
of tokens is unembedded, turned into its loss and its softmax gradient while it is
still in cache, and multiplied straight into the input and weight gradients, which
are kept for ``backward``. Same matmuls as autograd would run; the full logits are
never materialised. Mathematically identical to ``F.cross_entropy(x @ W + b, t)``
(mean over tokens); a test checks loss and gradients against it.
"""

from __future__ import annotations

import torch


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, targets, chunk):
        n = x.shape[0]
        need_grad = torch.is_grad_enabled() or any(ctx.needs_input_grad[:3])
        total = torch.zeros((), dtype=torch.float32, device=x.device)
        grads = None
        if need_grad:
            grads = (torch.empty_like(x), torch.zeros_like(weight), torch.zeros_like(bias))
        for start in range(0, n, chunk):
            xs, ts = x[start : start + chunk], targets[start : start + chunk]
            logits = torch.addmm(bias, xs, weight).float()  # [chunk, vocab]
            logp = torch.log_softmax(logits, dim=1)
            rows = torch.arange(len(ts), device=x.device)
            total -= logp[rows, ts].sum()
            if grads is not None:
                probs = logp.exp_()  # softmax, in place
                probs[rows, ts] -= 1.0  # d(sum of losses)/d(logits)
                g = probs.to(x.dtype)
                grads[0][start : start + chunk] = g @ weight.T
                grads[1].addmm_(xs.T, g)
                grads[2].add_(g.sum(0))
        if grads is not None:
            ctx.save_for_backward(*grads)
            ctx.n = n
        return total / n

    @staticmethod
    def backward(ctx, grad_output):
        dx, dw, db = ctx.saved_tensors
        scale = grad_output / ctx.n
        return dx * scale, dw * scale, db * scale, None, None


def linear_cross_entropy(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: torch.Tensor,
    chunk: int = 128,
) -> torch.Tensor:
    """Mean cross-entropy of ``x @ weight + bias`` against ``targets``.

    x: [n_tokens, d_model]; weight: [d_model, d_vocab]; bias: [d_vocab];
    targets: int64[n_tokens] → scalar float32
    """
    return _LinearCrossEntropy.apply(x, weight, bias, targets, chunk)


class _GroupedLinearCrossEntropy(torch.autograd.Function):
    """G independent ``_LinearCrossEntropy`` problems at once (one per model of a group)."""

    @staticmethod
    def forward(ctx, x, weight, bias, targets, chunk):
        g, n = x.shape[0], x.shape[1]
        need_grad = torch.is_grad_enabled() or any(ctx.needs_input_grad[:3])
        total = torch.zeros(g, dtype=torch.float32, device=x.device)
        grads = None
        if need_grad:
            grads = (torch.empty_like(x), torch.zeros_like(weight), torch.zeros_like(bias))
        models = torch.arange(g, device=x.device)[:, None]
        for start in range(0, n, chunk):
            xs, ts = x[:, start : start + chunk], targets[:, start : start + chunk]
            logits = torch.baddbmm(bias[:, None, :], xs, weight).float()  # [G, chunk, vocab]
            logp = torch.log_softmax(logits, dim=2)
            rows = torch.arange(ts.shape[1], device=x.device)[None, :]
            total -= logp[models, rows, ts].sum(1)
            if grads is not None:
                probs = logp.exp_()
                probs[models, rows, ts] -= 1.0
                gl = probs.to(x.dtype)
                grads[0][:, start : start + chunk] = torch.bmm(gl, weight.transpose(1, 2))
                grads[1].baddbmm_(xs.transpose(1, 2), gl)
                grads[2].add_(gl.sum(1))
        if grads is not None:
            ctx.save_for_backward(*grads)
            ctx.n = n
        return total / n

    @staticmethod
    def backward(ctx, grad_output):
        dx, dw, db = ctx.saved_tensors
        scale = grad_output / ctx.n  # [G]: each model's loss has its own upstream gradient
        return dx * scale[:, None, None], dw * scale[:, None, None], db * scale[:, None], None, None


def grouped_linear_cross_entropy(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: torch.Tensor,
    chunk: int = 128,
) -> torch.Tensor:
    """Per-model mean cross-entropy of ``x[g] @ weight[g] + bias[g]`` against ``targets[g]``.

    x: [G, n_tokens, d_model]; weight: [G, d_model, d_vocab]; bias: [G, d_vocab];
    targets: int64[G, n_tokens] → float32[G]. Model g's entry equals
    ``linear_cross_entropy(x[g], weight[g], bias[g], targets[g])`` up to float rounding
    (batched instead of single matrix products: the same sums, possibly in another order).
    """
    return _GroupedLinearCrossEntropy.apply(x, weight, bias, targets, chunk)
