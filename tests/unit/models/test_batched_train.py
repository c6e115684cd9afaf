"""Batched training (train.models_per_job > 1) against per-seed training, on CPU.

Equivalence, and its tolerance. The grouped forward is HookedTransformer's, op for op, with
batched matrix products (``baddbmm`` / batched ``@``) in place of single ones; AdamW over the
stacked weights is elementwise, so it is each model's own AdamW. What can differ is only the
rounding of a matrix product computed by a batched BLAS call instead of a single one (and the
summation order of the grouped fused loss), i.e. the last float32 bits:

* initial weights: identical (each model is built from its own seed, then stacked);
* logits of the grouped forward: equal to HookedTransformer's to 1e-5 (exactly equal on this CPU);
* first-step gradients: equal to 1e-6 relative per tensor, and for the whole gradient vector. The
  exception is the attention key bias b_K, whose true gradient is exactly zero (softmax is
  invariant to adding a constant to every score of a query), so both runs hold only rounding
  noise (~1e-8) for it: it is held to 1e-6 of the model's whole gradient norm instead;
* after a short run (3 epochs, 18 AdamW steps at lr 1e-2) the held-out losses agree to 1e-4
  relative and the weights to 1e-4: rounding differences of 1e-7 grow through training, slowly
  at this size (measured ≈ 1e-7 in losses), but a bit-exact match is not promised. b_K is left
  out of the weight comparison: AdamW divides its noise gradient by the noise's own RMS, so it
  moves by ~lr per step in a direction set by rounding, in either path; it has no effect on
  any output (the same invariance), which the matching losses confirm.

Within one path everything is deterministic: a killed and resumed batched job equals an
uninterrupted one bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phrenology.models.batched_train import Member, member_optimizer_state, train_group
from phrenology.models.grouped_model import GroupedTransformer
from phrenology.models.model import build_model, model_kwargs
from phrenology.models.train import TrainSettings, epoch_order, next_token_loss, train
from phrenology.pipeline.config import seed_groups, validate_config
from phrenology.pipeline.errors import ConfigError

CFG = {
    "n_layers": 1, "n_heads": 2, "n_ctx": 8, "d_model": 32, "d_head": 8, "d_mlp": 64,
    "act_fn": "solu_ln", "normalization_type": "LN",
}  # fmt: skip
V = 20
SEEDS = [0, 1, 2]


def counting_windows(n: int, seed: int) -> np.ndarray:
    """Windows where each token is the previous plus one (mod V): learnable in a few steps."""
    start = np.random.default_rng(seed).integers(0, V, size=(n, 1))
    return (start + np.arange(9)[None, :]) % V


def settings(**overrides) -> TrainSettings:
    base = dict(batch_size=16, epochs=3, lr=1e-2, weight_decay=0.1, betas=(0.9, 0.98), log_every=1)
    return TrainSettings(**{**base, **overrides})


def member(seed: int, checkpoint=None) -> Member:
    """Each seed its own training and held-out windows, as the training jobs sample them."""
    return Member(seed, model_kwargs(CFG, V, seed), counting_windows(96, seed),
                  counting_windows(32, 100 + seed), checkpoint)  # fmt: skip


def models(seeds=SEEDS, cfg=CFG):
    return [build_model(model_kwargs(cfg, V, s)) for s in seeds]


def float_tensors(state):
    return {k: v for k, v in state.items() if v.is_floating_point()}


@pytest.mark.parametrize(
    ("act_fn", "norm", "n_layers"),
    [("solu_ln", "LN", 1), ("solu_ln", "LN", 2), ("gelu", "LNPre", 1), ("gelu_new", "RMS", 2),
     ("relu", "RMSPre", 1), ("silu", None, 1)],
)  # fmt: skip
def test_grouped_forward_equals_hooked_transformer(act_fn, norm, n_layers):
    cfg = {**CFG, "act_fn": act_fn, "normalization_type": norm, "n_layers": n_layers}
    ms = models(cfg=cfg)
    group = GroupedTransformer.from_models(ms)
    tokens = torch.as_tensor(np.random.default_rng(0).integers(0, V, size=(3, 5, 9)))
    with torch.no_grad():
        logits = group.logits(tokens[:, :, :-1])
        losses = group.loss(tokens)
        for g, m in enumerate(ms):
            torch.testing.assert_close(logits[g], m(tokens[g, :, :-1]), rtol=0, atol=1e-5)
            torch.testing.assert_close(losses[g], next_token_loss(m, tokens[g]), rtol=1e-6, atol=0)
    assert not torch.allclose(logits[0], logits[1])  # three different models


def test_initial_weights_are_each_seeds_own():
    ms = models()
    group = GroupedTransformer.from_models(ms)
    for g, seed in enumerate(SEEDS):
        fresh = build_model(model_kwargs(CFG, V, seed))
        state = group.state_dict_of(g, ms[g])
        assert state.keys() == fresh.state_dict().keys()
        for name, value in fresh.state_dict().items():
            assert torch.equal(state[name], value), name


def test_first_step_gradients_equal_per_seed_gradients():
    ms = models()
    group = GroupedTransformer.from_models(ms)
    s = settings()
    batches = []
    for seed in SEEDS:  # the first batch each per-seed run would see
        m = member(seed)
        index = epoch_order(len(m.train_windows), seed, 0)[: s.batch_size]
        batches.append(m.train_windows[index])
    windows = torch.as_tensor(np.stack(batches))
    group.loss(windows).sum().backward()
    for g, m in enumerate(ms):
        next_token_loss(m, windows[g]).backward()
        grads = dict(m.named_parameters())
        total = torch.cat([p.grad.flatten() for p in grads.values()]).norm()
        diff = torch.cat([(group.params[n].grad[g] - p.grad).flatten() for n, p in grads.items()])
        assert diff.norm() <= 1e-6 * total
        for name, p in grads.items():
            err = (group.params[name].grad[g] - p.grad).norm()
            if name.endswith("b_K"):  # true gradient 0: both are rounding noise
                assert err <= 1e-6 * total, name
            else:
                assert err <= 1e-6 * p.grad.norm(), (name, float(err / p.grad.norm()))


def test_batched_job_trains_each_model_as_its_own_run():
    s = settings()
    alone = []
    for seed in SEEDS:
        m = member(seed)
        model = build_model(m.model_kwargs)
        log = train(model, m.train_windows, m.heldout_windows, s, seed, m.model_kwargs,
                    progress=False)  # fmt: skip
        alone.append((model, log))
    together = models()
    logs = train_group(together, [member(seed) for seed in SEEDS], s, progress=False)
    for (model, log), batched, blog in zip(alone, together, logs, strict=True):
        assert [r["epoch"] for r in blog.epochs] == [0, 1, 2, 3]
        assert [r["step"] for r in blog.steps] == [r["step"] for r in log.steps]
        want = np.array([r["heldout_loss"] for r in log.epochs])
        got = np.array([r["heldout_loss"] for r in blog.epochs])
        assert got[0] == pytest.approx(want[0], rel=1e-6)  # same initial model, same data
        np.testing.assert_allclose(got, want, rtol=1e-4)
        assert got[-1] < got[0] - 1.0  # it did train
        for name, value in float_tensors(model.state_dict()).items():
            if name.endswith("b_K"):  # see the module docstring: AdamW amplifies its noise
                continue
            torch.testing.assert_close(batched.state_dict()[name], value, rtol=1e-4, atol=1e-4)
    # the models stay distinct: different seeds, different results
    assert logs[0].epochs[-1]["heldout_loss"] != logs[1].epochs[-1]["heldout_loss"]


def run_group(ckpts=None, **kw):
    ms = models()
    members = [member(seed, None if ckpts is None else ckpts[i]) for i, seed in enumerate(SEEDS)]
    logs = train_group(ms, members, settings(checkpoint_every=3), progress=False, **kw)
    return ms, logs


def test_killed_group_resumes_to_the_same_result(tmp_path):
    reference, ref_logs = run_group()
    ckpts = [tmp_path / f"seed{s}.pt" for s in SEEDS]
    run_group(ckpts, stop_after_steps=8)  # 6 steps per epoch; last checkpoint at step 6
    assert all(c.is_file() for c in ckpts)
    resumed, logs = run_group(ckpts)
    for a, b in zip(reference, resumed, strict=True):
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y)
    for a, b in zip(ref_logs, logs, strict=True):
        assert [r["heldout_loss"] for r in a.epochs] == [r["heldout_loss"] for r in b.epochs]
        assert [r["step"] for r in b.steps] == list(range(1, 19))


def test_group_checkpoint_is_a_per_seed_checkpoint(tmp_path):
    """A seed of a killed batched job resumes in the per-seed path (same format, same run)."""
    ckpts = [tmp_path / f"seed{s}.pt" for s in SEEDS]
    run_group(ckpts, stop_after_steps=6)
    state = torch.load(ckpts[1], weights_only=False)
    assert state["global_step"] == 6
    assert set(state["optimizer"]["state"]) == set(range(len(list(models()[0].parameters()))))
    m = member(1)
    s = settings(checkpoint_every=3)
    resumed = build_model(m.model_kwargs)
    log = train(resumed, m.train_windows, m.heldout_windows, s, 1, m.model_kwargs,
                checkpoint_path=ckpts[1], progress=False)  # fmt: skip
    alone = build_model(m.model_kwargs)
    ref = train(alone, m.train_windows, m.heldout_windows, s, 1, m.model_kwargs, progress=False)
    assert [r["step"] for r in log.steps] == list(range(1, 19))
    np.testing.assert_allclose(
        [r["heldout_loss"] for r in log.epochs], [r["heldout_loss"] for r in ref.epochs], rtol=1e-4
    )


def test_a_group_with_a_missing_checkpoint_starts_afresh(tmp_path, capsys):
    reference, _ = run_group()
    ckpts = [tmp_path / f"seed{s}.pt" for s in SEEDS]
    run_group(ckpts, stop_after_steps=4)
    ckpts[2].unlink()
    again, _ = run_group(ckpts)
    assert "not every model has one" in capsys.readouterr().err
    for a, b in zip(reference, again, strict=True):
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y)


def test_member_optimizer_state_is_that_models_adamw_state():
    ms = models()
    group = GroupedTransformer.from_models(ms)
    opt = torch.optim.AdamW(group.parameters(), lr=1e-2, fused=True)
    windows = torch.as_tensor(np.stack([member(s).train_windows[:8] for s in SEEDS]))
    group.loss(windows).sum().backward()
    opt.step()
    state = member_optimizer_state(opt, 2)
    single = torch.optim.AdamW(ms[2].parameters(), lr=1e-2, fused=True)
    single.load_state_dict(state)  # loads into a model's own optimizer
    name_of = list(group.params)
    for i, p in enumerate(ms[2].parameters()):
        assert torch.equal(
            single.state[p]["exp_avg"], opt.state[group.params[name_of[i]]]["exp_avg"][2]
        )


def test_seed_groups_split_in_config_order():
    seeds = list(range(990, 999))
    assert seed_groups(seeds, 1) == [[s] for s in seeds]
    assert seed_groups(seeds, 9) == [seeds]
    assert seed_groups(seeds, 4) == [seeds[:4], seeds[4:8], seeds[8:]]
    assert seed_groups(seeds[:3], 9) == [seeds[:3]]
    with pytest.raises(ConfigError, match=r"train\.models_per_job"):
        seed_groups(seeds, 0)


@pytest.mark.parametrize(
    ("change", "key"),
    [({"models_per_job": 0}, "train.models_per_job"), ({"models_per_job": 1.5}, "train.models_per_job"),
     ({"compile": "jit"}, "train.compile"), ({"compile": "torch_compile"}, "train.compile")],
)  # fmt: skip
def test_config_errors_name_the_batching_key(quick_config, change, key):
    quick_config["train"].update(change)  # compile without batching is an error too
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(quick_config)


def test_config_accepts_batching(quick_config):
    quick_config["train"].update({"models_per_job": 3, "compile": "cuda_graphs"})
    validate_config(quick_config)
