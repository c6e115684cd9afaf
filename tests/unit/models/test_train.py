import numpy as np
import pytest
import torch

from phrenology.models.model import build_model, model_kwargs
from phrenology.models.train import TrainingDiverged, TrainSettings, epoch_order, evaluate, train

CFG = {
    "n_layers": 1, "n_heads": 2, "n_ctx": 8, "d_model": 32, "d_head": 8, "d_mlp": 64,
    "act_fn": "solu_ln", "normalization_type": "LN",
}  # fmt: skip
V = 20


def counting_windows(n: int, seed: int) -> np.ndarray:
    """Windows where each token is the previous plus one (mod V): learnable in a few steps."""
    start = np.random.default_rng(seed).integers(0, V, size=(n, 1))
    return (start + np.arange(9)[None, :]) % V


def settings(**overrides) -> TrainSettings:
    base = dict(batch_size=16, epochs=2, lr=1e-2, weight_decay=0.0, betas=(0.9, 0.98), log_every=1)
    return TrainSettings(**{**base, **overrides})


def fresh(seed: int = 0):
    kwargs = model_kwargs(CFG, V, seed)
    return build_model(kwargs), kwargs


def test_a_few_steps_lower_the_loss():
    model, kwargs = fresh()
    data, heldout = counting_windows(128, 0), counting_windows(32, 1)
    before = evaluate(model, heldout, 16, torch.device("cpu"))
    log = train(model, data, heldout, settings(), seed=0, model_kwargs=kwargs, progress=False)
    after = evaluate(model, heldout, 16, torch.device("cpu"))
    assert after < before - 1.0
    assert [r["epoch"] for r in log.epochs] == [0, 1, 2]
    assert log.epochs[0]["heldout_loss"] == pytest.approx(before)
    assert log.epochs[-1]["heldout_loss"] == pytest.approx(after)
    assert len(log.steps) == 16 and log.steps[-1]["step"] == 16


def test_training_is_deterministic():
    data, heldout = counting_windows(64, 0), counting_windows(16, 1)
    (a, ka), (b, kb) = fresh(), fresh()
    train(a, data, heldout, settings(), seed=0, model_kwargs=ka, progress=False)
    train(b, data, heldout, settings(), seed=0, model_kwargs=kb, progress=False)
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_epoch_order_is_a_seeded_permutation():
    assert sorted(epoch_order(10, 3, 0)) == list(range(10))
    np.testing.assert_array_equal(epoch_order(10, 3, 1), epoch_order(10, 3, 1))
    assert not np.array_equal(epoch_order(10, 3, 0), epoch_order(10, 3, 1))


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    data, heldout = counting_windows(80, 0), counting_windows(16, 1)
    s = settings(checkpoint_every=3)  # 5 steps per epoch, 10 in all
    reference, kwargs = fresh()
    ref_log = train(reference, data, heldout, s, seed=0, model_kwargs=kwargs, progress=False)

    ckpt = tmp_path / "resume.pt"
    killed, _ = fresh()
    train(killed, data, heldout, s, seed=0, model_kwargs=kwargs, checkpoint_path=ckpt,
          progress=False, stop_after_steps=7)  # fmt: skip
    assert ckpt.exists()  # last checkpoint at step 6: steps 7.. are lost and redone
    resumed, _ = fresh()
    log = train(
        resumed, data, heldout, s, seed=0, model_kwargs=kwargs, checkpoint_path=ckpt, progress=False
    )
    for x, y in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    assert [r["heldout_loss"] for r in log.epochs] == [r["heldout_loss"] for r in ref_log.epochs]
    assert [r["step"] for r in log.steps] == list(range(1, 11))


def test_checkpoint_of_another_run_is_ignored(tmp_path):
    data, heldout = counting_windows(32, 0), counting_windows(16, 1)
    ckpt = tmp_path / "resume.pt"
    m, kwargs = fresh()
    train(m, data, heldout, settings(checkpoint_every=1), seed=0, model_kwargs=kwargs,
          checkpoint_path=ckpt, progress=False, stop_after_steps=2)  # fmt: skip
    other, kwargs = fresh()
    log = train(other, data, heldout, settings(checkpoint_every=1, lr=5e-3), seed=0,
                model_kwargs=kwargs, checkpoint_path=ckpt, progress=False)  # fmt: skip
    assert log.steps[0]["step"] == 1  # started from scratch


def test_nan_loss_stops_with_step_and_batch():
    model, kwargs = fresh()
    with torch.no_grad():
        model.embed.W_E.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 1, step 1 \(batch 0"):
        train(model, counting_windows(32, 0), counting_windows(16, 1), settings(), seed=0,
              model_kwargs=kwargs, progress=False)  # fmt: skip
