import pytest
import torch
import torch.nn.functional as F

from phrenology.models.fused_loss import linear_cross_entropy
from phrenology.models.model import build_model, model_kwargs
from phrenology.models.train import next_token_loss


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_matches_plain_cross_entropy_in_value_and_gradients(chunk):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(8, 30, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(30, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 30, (50,), generator=g)

    ref = F.cross_entropy(x @ w + b, t)
    ref_grads = torch.autograd.grad(3.0 * ref, (x, w, b))
    out = linear_cross_entropy(x, w, b, t, chunk=chunk)
    grads = torch.autograd.grad(3.0 * out, (x, w, b))
    torch.testing.assert_close(out, ref.float())
    for a, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, r)


def test_no_gradient_work_without_grad():
    x, w, b = torch.randn(4, 3), torch.randn(3, 5), torch.zeros(5)
    t = torch.tensor([0, 1, 2, 3])
    with torch.inference_mode():
        out = linear_cross_entropy(x, w, b, t)
    torch.testing.assert_close(out, F.cross_entropy(x @ w + b, t))


def test_model_loss_fused_equals_logits_route():
    cfg = {"n_layers": 2, "n_heads": 2, "n_ctx": 6, "d_model": 16, "d_head": 8, "d_mlp": 32,
           "act_fn": "solu_ln", "normalization_type": "LN"}  # fmt: skip
    model = build_model(model_kwargs(cfg, d_vocab=23, seed=1))
    windows = torch.randint(0, 23, (5, 7), generator=torch.Generator().manual_seed(2))
    plain = next_token_loss(model, windows, fused=False)
    plain_grads = torch.autograd.grad(plain, list(model.parameters()))
    fused = next_token_loss(model, windows, fused=True)
    fused_grads = torch.autograd.grad(fused, list(model.parameters()))
    torch.testing.assert_close(fused, plain)
    for a, r in zip(fused_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-6)
