import numpy as np
import pytest
import torch

from phrenology.models.capture import capture_patterns
from phrenology.models.model import build_model, model_kwargs

CFG = {
    "n_layers": 2, "n_heads": 3, "n_ctx": 8, "d_model": 16, "d_head": 4, "d_mlp": 32,
    "act_fn": "solu_ln", "normalization_type": "LN",
}  # fmt: skip


@pytest.fixture(scope="module")
def model():
    return build_model(model_kwargs(CFG, d_vocab=40, seed=11)).eval()


@pytest.fixture(scope="module")
def prompts():
    return np.random.default_rng(1).integers(0, 40, size=(7, 8))


def test_patterns_are_causal_distributions(model, prompts):
    patterns = capture_patterns(model, prompts, batch_size=3)
    assert patterns.shape == (7, 6, 8, 8) and patterns.dtype == np.float32
    np.testing.assert_allclose(patterns.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(patterns, k=1) == 0)
    assert np.all(patterns >= 0)


def test_patterns_equal_full_forward_cache_in_layer_major_order(model, prompts):
    """Independent route: a full forward pass with run_with_cache (unembedding included)."""
    patterns = capture_patterns(model, prompts, batch_size=4)
    _, cache = model.run_with_cache(torch.from_numpy(prompts))
    for layer in range(2):
        expected = cache[f"blocks.{layer}.attn.hook_pattern"].numpy()
        np.testing.assert_allclose(patterns[:, layer * 3 : (layer + 1) * 3], expected, atol=1e-6)


def test_batch_size_does_not_change_the_result(model, prompts):
    """Equal to float32 rounding, not bit for bit: the CPU matmul kernels block a batch of 1
    and one of 7 differently (seen on AMD EPYC: 1 ulp), which is why capture.batch_size is a
    parameter of the capture rule and a rerun with the same value is byte-identical."""
    np.testing.assert_allclose(
        capture_patterns(model, prompts, 1), capture_patterns(model, prompts, 7), rtol=0, atol=1e-6
    )


def test_capture_fills_a_given_array_and_checks_its_shape(model, prompts):
    out = np.full((7, 6, 8, 8), np.nan, dtype=np.float32)
    assert capture_patterns(model, prompts, 5, out=out) is out and not np.isnan(out).any()
    with pytest.raises(ValueError, match="expected"):
        capture_patterns(model, prompts, 5, out=np.empty((7, 5, 8, 8), dtype=np.float32))


def test_capture_never_runs_the_unembedding_nor_the_last_mlp(model, prompts):
    calls = []
    handles = [m.register_forward_hook(lambda *a, name=name: calls.append(name))
               for name, m in (("unembed", model.unembed), ("mlp1", model.blocks[1].mlp), ("mlp0", model.blocks[0].mlp))]  # fmt: skip
    try:
        capture_patterns(model, prompts, 4)
    finally:
        for h in handles:
            h.remove()
    assert calls == ["mlp0", "mlp0"]  # two batches; layer 1's MLP and the unembedding never ran
    assert not any(hp.fwd_hooks for hp in model.hook_dict.values())  # our hooks were removed
