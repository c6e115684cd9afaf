import numpy as np
import pytest
import torch

from phrenology.models.capture import capture_patterns
from phrenology.models.model import (
    build_model,
    load_checkpoint,
    load_model,
    model_kwargs,
    save_model,
)
from phrenology.pipeline.errors import DataError

TINY = {
    "n_layers": 2, "n_heads": 3, "n_ctx": 8, "d_model": 16, "d_head": 4, "d_mlp": 32,
    "act_fn": "solu_ln", "normalization_type": "LN",
}  # fmt: skip


def test_model_kwargs_follow_config_and_seed():
    kwargs = model_kwargs(TINY, d_vocab=50, seed=7)
    assert kwargs["d_vocab"] == 50 and kwargs["seed"] == 7 and kwargs["act_fn"] == "solu_ln"
    model = build_model(kwargs)
    assert model.cfg.n_layers == 2 and model.cfg.n_heads == 3 and model.cfg.d_mlp == 32


def test_same_seed_same_init_and_other_seed_differs():
    a = build_model(model_kwargs(TINY, 50, seed=1)).state_dict()
    b = build_model(model_kwargs(TINY, 50, seed=1)).state_dict()
    c = build_model(model_kwargs(TINY, 50, seed=2)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["blocks.0.attn.W_Q"], c["blocks.0.attn.W_Q"])


def test_reload_reproduces_patterns(tmp_path):
    kwargs = model_kwargs(TINY, 50, seed=3)
    model = build_model(kwargs)
    with torch.no_grad():  # move away from the init so a re-init would not pass by accident
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    prompts = np.random.default_rng(0).integers(0, 50, size=(5, 8))
    save_model(tmp_path / "model.pt", model, kwargs, seed=3)
    reloaded = load_model(tmp_path / "model.pt")
    np.testing.assert_array_equal(
        capture_patterns(model.eval(), prompts, 2), capture_patterns(reloaded, prompts, 2)
    )


def test_readme_two_line_reload(tmp_path):
    """The reload shown in the README uses TransformerLens alone."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    kwargs = model_kwargs(TINY, 50, seed=4)
    model = build_model(kwargs)
    save_model(tmp_path / "model.pt", model, kwargs)
    ckpt = torch.load(tmp_path / "model.pt")
    m = HookedTransformer(HookedTransformerConfig(**ckpt["config"]))
    m.load_state_dict(ckpt["state_dict"])
    tokens = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(m.to("cpu")(tokens), model(tokens))


def test_truncated_model_file_is_a_clear_error(tmp_path):
    kwargs = model_kwargs(TINY, 50, seed=5)
    save_model(tmp_path / "model.pt", build_model(kwargs), kwargs)
    blob = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "model.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"model\.pt is not a readable model file"):
        load_model(tmp_path / "model.pt")


def test_foreign_file_is_rejected(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not written by this pipeline"):
        load_checkpoint(tmp_path / "other.pt")
