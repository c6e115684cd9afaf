"""Fault injection: mistyped or inconsistent configs fail at start-up, naming the key and what
is allowed, and no job runs."""

import copy

import pytest

from phrenology.data import vocab
from phrenology.pipeline.config import check_with_tokenizer, validate_config
from phrenology.pipeline.errors import ConfigError

from conftest import run_snakemake

LONG_PROMPT = "They sit alone in their rooms and wait for the night to come down over the city"


def set_key(cfg: dict, dotted: str, value) -> dict:
    cfg = copy.deepcopy(cfg)
    *parents, last = dotted.split(".")
    node = cfg
    for p in parents:
        node = node[p]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


DELETE = object()


@pytest.mark.parametrize(
    ("dotted", "value", "key", "allowed"),
    [
        # types
        ("model.n_heads", "8", "model.n_heads", "allowed: an integer ≥ 1"),
        ("train.lr", "fast", "train.lr", "allowed: a number > 0"),
        ("analysis.projection.umap.densmap", "yes", "analysis.projection.umap.densmap",
         "allowed: true or false"),
        # ranges
        ("model.n_ctx", 1, "model.n_ctx", "allowed: an integer ≥ 2"),
        ("corpus.train_fraction", 1.0, "corpus.train_fraction", "allowed: a number > 0 and < 1"),
        ("train.betas", [0.9, 1.0], "train.betas.1", "allowed: a number ≥ 0 and < 1"),
        ("train.checkpoint_every", -1, "train.checkpoint_every", "allowed: an integer ≥ 0"),
        ("clustering.n_iterations", 0, "clustering.n_iterations", "allowed: an integer ≠ 0"),
        ("corpus.vocab_size", 50257, "corpus.vocab_size",
         "allowed: null or an integer ≥ 2 and ≤ 50256"),
        # lists
        ("seeds", [], "seeds", "allowed: a non-empty list, each an integer ≥ 0, no repeats"),
        ("seeds", [990, 990], "seeds", "no repeats"),
        ("clustering.gamma_range", [0.5], "clustering.gamma_range",
         "allowed: a list of 2, each a number > 0"),
        ("autoencoder.bottlenecks", [], "autoencoder.bottlenecks", "a non-empty list"),
        # enums and alternatives
        ("model.act_fn", "tanh", "model.act_fn", "allowed values: ['solu_ln', 'gelu'"),
        ("train.precision", "fp16", "train.precision", "allowed values: ['auto', 'fp32', 'bf16']"),
        ("knockout.cluster", "biggest", "knockout.cluster", "allowed: 'auto' or an integer"),
        # keys
        ("train.learning_rate", 1e-3, "train", "allowed keys: batch_size, betas"),
        ("train.epochs", DELETE, "train", "'epochs' is a required property; required keys:"),
    ],
)  # fmt: skip
def test_schema_error_names_the_key_and_the_allowed_values(quick_config, dotted, value, key,
                                                          allowed):  # fmt: skip
    with pytest.raises(ConfigError) as err:
        validate_config(set_key(quick_config, dotted, value))
    assert err.value.key == key
    message = str(err.value)
    assert message.startswith(f"config key '{key}': ") and allowed in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("dotted", "value", "key", "fragment"),
    [
        # quick: n_ctx 16 → 136 token pairs; first_width 128; 3 seeds × 2 layers × 4 heads = 24
        ("autoencoder.bottlenecks", [2, 137], "autoencoder.bottlenecks", "must be ≤ 136"),
        ("autoencoder.first_width", 4, "autoencoder.bottlenecks",
         "8 must be ≤ autoencoder.first_width (4)"),
        ("autoencoder.perturbation.n_top_pairs", 200, "autoencoder.perturbation.n_top_pairs",
         "must be ≤ 136"),
        ("clustering.k", 24, "clustering.k",
         "24 must be below the number of heads (24 = 3 seeds × 2 layers × 4 heads)"),
        ("clustering.gamma_range", [1.0, 1.0], "clustering.gamma_range", "min 1.0 must be below max 1.0"),
        ("clustering.gamma_range", [2.0, 0.5], "clustering.gamma_range", "min 2.0 must be below max 0.5"),
        ("clustering.umap.n_neighbors", 30, "clustering.umap.n_neighbors", "below the number of heads"),
        ("analysis.projection.tsne.perplexity", 27, "analysis.projection.tsne.perplexity",
         "below the number of points (27 = 24 heads + 3 artificial)"),
        ("analysis.projection.umap.n_neighbors", 27, "analysis.projection.umap.n_neighbors",
         "below the number of points"),
        ("analysis.components.n_components", 25, "analysis.components.n_components",
         "must be ≤ the number of heads"),
        ("analysis.components.token_component", 6, "analysis.components.token_component",
         "must be ≤ analysis.components.n_components (5)"),
        ("analysis.first_token.n_prompts", 129, "analysis.first_token.n_prompts",
         "must be ≤ capture.n_prompts (128)"),
        ("knockout.model_seed", 7, "knockout.model_seed", "7 is not one of seeds [990, 991, 992]"),
        ("knockout.layer", 2, "knockout.layer", "must be below model.n_layers (2)"),
        ("knockout.head", 4, "knockout.head", "must be below model.n_heads (4)"),
    ],
)  # fmt: skip
def test_cross_field_error_names_the_key_and_the_limit(quick_config, dotted, value, key, fragment):
    with pytest.raises(ConfigError) as err:
        validate_config(set_key(quick_config, dotted, value))
    assert err.value.key == key
    assert str(err.value).startswith(f"config key '{key}': ") and fragment in str(err.value)


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml"])
def test_shipped_prompts_fit_the_context(repo, name):
    import yaml

    cfg = yaml.safe_load((repo / "config" / name).read_text())
    assert check_with_tokenizer(cfg) is None  # checked, not skipped: the tokenizer is cached


def test_prompt_longer_than_n_ctx_is_a_start_up_error(quick_config):
    with pytest.raises(ConfigError, match=r"17 tokens long.*model\.n_ctx = 16") as err:
        check_with_tokenizer(set_key(quick_config, "knockout.prompt", LONG_PROMPT))
    assert err.value.key == "knockout.prompt"
    # the same prompt fits a longer context
    fits = set_key(set_key(quick_config, "knockout.prompt", LONG_PROMPT), "model.n_ctx", 17)
    assert check_with_tokenizer(fits) is None


def test_prompt_check_is_skipped_with_a_note_without_a_cached_tokenizer(
    quick_config, tmp_path, monkeypatch
):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: a load would download

    def no_download(name):
        raise AssertionError("the start-up check must not try to download the tokenizer")

    monkeypatch.setattr(vocab, "load_encoding", no_download)
    note = check_with_tokenizer(set_key(quick_config, "knockout.prompt", LONG_PROMPT))
    assert "knockout.prompt" in note and "knockout jobs" in note


@pytest.mark.integration
@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("model.n_heads", 0, "config key 'model.n_heads': 0 is less than the minimum of 1; "
                             "allowed: an integer ≥ 1"),
        ("autoencoder.bottlenecks", [2, 500], "config key 'autoencoder.bottlenecks': 500 is larger"),
        ("knockout.prompt", LONG_PROMPT, "config key 'knockout.prompt': "
                                         f"'{LONG_PROMPT}' is 17 tokens long"),
    ],
)  # fmt: skip
def test_snakemake_stops_before_any_job(tmp_path, quick_config, dotted, value, message):
    from conftest import write_config

    bad = write_config(tmp_path / "bad.yaml", set_key(quick_config, dotted, value))
    workdir = tmp_path / "run"
    workdir.mkdir()
    proc = run_snakemake(workdir, "--cores", "1", configfile=bad, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()
    assert "rule prepare_corpus" not in out  # no job was even started
