import copy

import pytest

from phrenology.pipeline.config import (
    check_consistency,
    config_hash,
    config_param,
    load_config,
    n_heads_total,
    validate_config,
)
from phrenology.pipeline.errors import ConfigError


def keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict):
            out |= keys(v, f"{prefix}{k}.")
    return out


def test_shipped_configs_are_valid(repo):
    for name in ("config.yaml", "quick.yaml"):
        load_config(repo / "config" / name)


def test_quick_config_has_the_same_shape_as_the_paper_config(paper_config, quick_config):
    assert keys(quick_config) == keys(paper_config)


def test_paper_values(paper_config):
    c = paper_config
    assert c["seeds"] == list(range(990, 999))
    assert c["model"] == {"n_layers": 1, "n_heads": 8, "n_ctx": 16, "d_model": 256, "d_head": 64,
                          "d_mlp": 2048, "act_fn": "solu_ln", "normalization_type": "LN"}  # fmt: skip
    assert c["corpus"]["vocab_size"] is None
    t = c["train"]
    assert (t["n_windows"], t["n_heldout_windows"], t["batch_size"], t["epochs"]) == (
        30000,
        1000,
        64,
        4,
    )
    assert (t["lr"], t["weight_decay"], t["betas"]) == (1e-3, 1.0, [0.9, 0.98])
    assert (c["capture"]["n_prompts"], c["capture"]["prompt_seed"]) == (1024, 9992)
    assert n_heads_total(c) == 72


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        (
            lambda c: c["model"].__setitem__("n_heads", "eight"),
            "model.n_heads",
            "not of type 'integer'",
        ),
        (lambda c: c["model"].__setitem__("n_heads", 0), "model.n_heads", "less than the minimum"),
        (lambda c: c.__setitem__("seeds", []), "seeds", "should be non-empty"),
        (lambda c: c["model"].__setitem__("act_fn", "tanh"), "model.act_fn", "allowed values"),
        (lambda c: c["train"].__setitem__("learning_rate", 1), "train", "allowed keys"),
        (lambda c: c["train"].pop("epochs"), "train", "'epochs' is a required property"),
    ],
)
def test_schema_errors_name_the_key(quick_config, change, key, fragment):
    cfg = copy.deepcopy(quick_config)
    change(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert err.value.key == key
    assert f"config key '{key}'" in str(err.value) and fragment in str(err.value)


@pytest.mark.parametrize(
    ("section", "key", "value", "fragment"),
    [
        ("clustering", "k", 24, "below the number of heads (24 = 3 seeds × 2 layers × 4 heads)"),
        ("clustering", "gamma_range", [3.0, 0.5], "min 3.0 must be below max 0.5"),
        ("autoencoder", "bottlenecks", [2, 200], "larger than the pattern"),
        ("knockout", "model_seed", 5, "not one of seeds"),
        ("knockout", "layer", 2, "below model.n_layers"),
        ("knockout", "head", 4, "below model.n_heads"),
    ],
)
def test_cross_field_errors_name_the_key(quick_config, section, key, value, fragment):
    cfg = copy.deepcopy(quick_config)
    cfg[section][key] = value
    with pytest.raises(ConfigError, match=rf"config key '{section}\.{key}'") as err:
        check_consistency(cfg)
    assert fragment in str(err.value)


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_config_param_is_the_value_and_remembers_its_keys():
    config = {"clustering": {"k": 3}, "model": {"n_layers": 2, "n_heads": 4}}
    k = config_param(config, ("clustering.k",))
    assert k.config_keys == ("clustering.k",) and k(None) == 3  # Snakemake calls it per job
    heads = config_param(config, ("model.n_layers", "model.n_heads"), combine=lambda a, b: a * b)
    assert heads(None) == 8 and heads.config_keys == ("model.n_layers", "model.n_heads")
    some = config_param(config, ("model",), only=("n_heads",))
    assert some(None) == {"n_heads": 4} and some.config_keys == ("model.n_heads",)
    with pytest.raises(ConfigError, match=r"'clustering\.gamma'"):
        config_param(config, ("clustering.gamma",))
    with pytest.raises(ValueError, match="combine"):
        config_param(config, ("model.n_layers", "model.n_heads"))
