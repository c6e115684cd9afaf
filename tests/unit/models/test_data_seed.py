"""train.data_seed: null keeps the paper's coupling of init and data; an integer decouples them."""

import numpy as np
import pytest
import torch

from phrenology.data.corpus import TokenStream, sample_windows
from phrenology.models import train as train_module
from phrenology.models.model import build_model, model_kwargs
from phrenology.models.train import TrainSettings, data_seed_for, run_fingerprint, train

CFG = {
    "n_layers": 1, "n_heads": 2, "n_ctx": 8, "d_model": 32, "d_head": 8, "d_mlp": 64,
    "act_fn": "solu_ln", "normalization_type": "LN",
}  # fmt: skip
V = 20
SETTINGS = TrainSettings(batch_size=16, epochs=2, lr=1e-2, weight_decay=0.0, betas=(0.9, 0.98))


def windows(n: int, seed: int) -> np.ndarray:
    start = np.random.default_rng(seed).integers(0, V, size=(n, 1))
    return (start + np.arange(9)[None, :]) % V


def trained(seed: int, data_seed: int | None = None) -> dict[str, torch.Tensor]:
    kwargs = model_kwargs(CFG, V, seed)
    model = build_model(kwargs)
    train(model, windows(64, 0), windows(16, 1), SETTINGS, seed=seed, model_kwargs=kwargs,
          progress=False, data_seed=data_seed)  # fmt: skip
    return model.state_dict()


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.values(), b.values(), strict=True))


def test_data_seed_for_defaults_to_the_model_seed():
    assert data_seed_for({"data_seed": None}, 991) == 991
    assert data_seed_for({}, 991) == 991
    assert data_seed_for({"data_seed": 7}, 991) == 7


def test_the_default_is_the_paper_path():
    """data_seed None and data_seed == seed train the same weights and share checkpoints."""
    assert same(trained(3), trained(3, data_seed=3))
    data = windows(64, 0)
    assert run_fingerprint(SETTINGS, 3, {}, data) == run_fingerprint(SETTINGS, 3, {}, data, 3)
    assert run_fingerprint(SETTINGS, 3, {}, data) != run_fingerprint(SETTINGS, 3, {}, data, 4)


def test_a_shared_data_seed_gives_every_model_the_same_order(monkeypatch):
    seen = []
    real = train_module.epoch_order

    def recording(n, seed, epoch):
        seen.append((n, seed, epoch))
        return real(n, seed, epoch)

    monkeypatch.setattr(train_module, "epoch_order", recording)
    trained(0, data_seed=7)
    first = list(seen)
    seen.clear()
    trained(1, data_seed=7)
    assert seen == first == [(64, 7, 0), (64, 7, 1)]


def test_the_data_seed_changes_the_order_and_the_init_seed_the_weights():
    assert not same(trained(0, data_seed=7), trained(0, data_seed=8))  # same init, other order
    assert not same(trained(0, data_seed=7), trained(1, data_seed=7))  # same data, other init


@pytest.mark.parametrize("seed", [990, 991])
def test_windows_follow_the_data_seed(seed):
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 9, size=200)
    stream = TokenStream(
        tokens=rng.integers(0, V, size=int(lengths.sum())),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
    )
    shared = [sample_windows(stream, 32, 9, data_seed_for({"data_seed": 5}, s)) for s in (990, 991)]
    np.testing.assert_array_equal(shared[0], shared[1])
    own = sample_windows(stream, 32, 9, data_seed_for({"data_seed": None}, seed))
    np.testing.assert_array_equal(own, sample_windows(stream, 32, 9, seed))
    assert not np.array_equal(own, shared[0])
