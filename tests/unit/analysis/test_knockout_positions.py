"""Knockout at every position of the Fig. 12 prompt (Fig. 12b) and two heads compared (Fig. 12c)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from phrenology.analysis import knockout
from phrenology.models.model import build_model
from phrenology.pipeline.config import load_config, validate_config
from phrenology.pipeline.errors import ConfigError, DataError

N_LAYERS, N_HEADS, D_VOCAB, N_CTX = 2, 3, 40, 8
TOKENS = [f"t{i}" for i in range(D_VOCAB)]


def toy(seed: int):
    kwargs = {
        "n_layers": N_LAYERS, "n_heads": N_HEADS, "n_ctx": N_CTX, "d_model": 16, "d_head": 4,
        "d_mlp": 32, "act_fn": "solu_ln", "normalization_type": "LN", "d_vocab": D_VOCAB,
        "init_weights": True, "seed": seed,
    }  # fmt: skip
    return build_model(kwargs).eval()


@pytest.fixture(scope="module")
def model():
    return toy(11)


PROMPT = np.array([3, 1, 4, 1, 5, 9], dtype=np.int64)


def test_every_position_is_the_last_position_of_its_prefix(model):
    """Causal: position p of the whole prompt = the last position of the prompt cut after p."""
    table = knockout.position_logit_table(model, PROMPT, 1, 2, TOKENS)
    assert len(table) == len(PROMPT) * D_VOCAB
    for p in range(len(PROMPT)):
        prefix = torch.as_tensor(PROMPT[None, : p + 1])
        rows = table[table["position"] == p].sort_values("token_id")
        np.testing.assert_allclose(
            rows["logit_original"], knockout.last_logits(model, prefix)[0], atol=1e-5
        )
        np.testing.assert_allclose(
            rows["logit_knockout"], knockout.last_logits(model, prefix, (1, 2))[0], atol=1e-5
        )
    # and the last position is Fig. 12's table
    last = table[table["position"] == len(PROMPT) - 1].reset_index(drop=True)
    single = knockout.logit_table(model, PROMPT, 1, 2, TOKENS)
    np.testing.assert_allclose(last["logit_knockout"], single["logit_knockout"], atol=1e-5)


def test_kl_divergence_against_a_hand_computed_case():
    p, q = np.log([0.5, 0.25, 0.25]), np.log([0.25, 0.5, 0.25])
    expected = 0.5 * np.log(2) + 0.25 * np.log(0.5)
    assert knockout.kl_divergence(p, q) == pytest.approx(expected)
    assert knockout.kl_divergence(p + 3.0, p) == pytest.approx(0.0, abs=1e-12)  # shift-invariant


def test_position_effects_name_the_moved_tokens(model):
    table = knockout.position_logit_table(model, PROMPT, 0, 0, TOKENS)
    table.loc[(table["position"] == 2) & (table["token_id"] == 7), "logit_knockout"] += 50.0
    effects = knockout.position_effects(table, [TOKENS[i] for i in PROMPT])
    assert list(effects["position"]) == list(range(len(PROMPT)))
    row = effects.set_index("position").loc[2]
    assert row["most_suppressed"] == "t7" and row["top_knockout"] == "t7"
    assert row["query_token"] == "t4" and row["next_token"] == "t1"
    assert effects["next_token"].iloc[-1] == ""
    assert row["kl"] > effects["kl"].drop(index=2).max()


def test_change_correlation(model):
    a = knockout.position_logit_table(model, PROMPT, 0, 1, TOKENS)
    b = a.copy()
    b["logit_knockout"] = b["logit_original"] - 2 * (a["logit_knockout"] - a["logit_original"])
    r = knockout.change_correlation(a, b)
    np.testing.assert_allclose(r["r"], -1.0, atol=1e-6)
    assert knockout.change_correlation(a, a)["r"].tolist() == pytest.approx([1.0] * len(PROMPT))
    with pytest.raises(DataError):
        knockout.change_correlation(a, b.iloc[:-1])


@pytest.mark.parametrize(
    ("index", "key", "value", "message"),
    [
        (1, "model_seed", 12345, "knockout.compare.1.model_seed"),
        (0, "layer", 99, "knockout.compare.0.layer"),
        (1, "head", 99, "knockout.compare.1.head"),
    ],
)
def test_compare_heads_are_checked_naming_the_key(index, key, value, message):
    cfg = copy.deepcopy(load_config("config/quick.yaml"))
    cfg["knockout"]["compare"][index][key] = value
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        validate_config(cfg)


def test_compare_heads_must_come_from_two_models():
    cfg = copy.deepcopy(load_config("config/quick.yaml"))
    cfg["knockout"]["compare"][1]["model_seed"] = cfg["knockout"]["compare"][0]["model_seed"]
    with pytest.raises(ConfigError, match="two different models"):
        validate_config(cfg)
    cfg["knockout"]["compare"] = cfg["knockout"]["compare"][:1]
    with pytest.raises(ConfigError, match=r"knockout\.compare"):
        validate_config(cfg)
