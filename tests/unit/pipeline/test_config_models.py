"""The models: section: source train (default) or a pretrained family; safe names; one architecture."""

import copy

import pytest
import tiny_hf_models

from phrenology.pipeline.config import model_names, model_seeds, n_heads_total, validate_config
from phrenology.pipeline.errors import ConfigError


def pretrained(quick_config, entries, **model):
    cfg = copy.deepcopy(quick_config)
    for key in ("seeds", "train"):
        cfg.pop(key)
    # a family's knockout is Fig. 14 only: the trained seed / head / prompt keys do not apply
    cfg["knockout"] = {k: cfg["knockout"][k] for k in ("n_prompts", "prompt_seed", "batch_size")}
    cfg["model"] = {"n_layers": 12, "n_heads": 12, "n_ctx": 16, **model}
    cfg["models"] = {"source": "pretrained", "entries": copy.deepcopy(entries)}
    return cfg


STANFORD = [{"id": f"stanford-crfm/{n}"} for n in
            ("alias-gpt2-small-x21", "battlestar-gpt2-small-x49", "caprica-gpt2-small-x81")]  # fmt: skip


def test_absent_models_section_is_the_trained_default(quick_config):
    validate_config(quick_config)
    assert model_names(quick_config) == [f"seed{s}" for s in quick_config["seeds"]]
    cfg = copy.deepcopy(quick_config)
    cfg["models"] = {"source": "train"}
    validate_config(cfg)


def test_stanford_family_validates_without_downloads(quick_config):
    cfg = pretrained(quick_config, STANFORD)
    validate_config(cfg)
    assert model_names(cfg) == ["alias-gpt2-small-x21", "battlestar-gpt2-small-x49",
                                "caprica-gpt2-small-x81"]  # fmt: skip
    assert model_seeds(cfg) == [0, 1, 2]
    assert n_heads_total(cfg) == 3 * 144


def test_non_official_id_needs_its_architecture(quick_config):
    entries = [{"id": f"EleutherAI/pythia-14m-seed{i}"} for i in (3, 4)]
    with pytest.raises(ConfigError, match=r"models.entries\[0\].architecture.*pythia-14m-seed3"):
        validate_config(pretrained(quick_config, entries, n_layers=6, n_heads=4))
    for e in entries:
        e["architecture"] = "EleutherAI/pythia-14m"
    validate_config(pretrained(quick_config, entries, n_layers=6, n_heads=4))


def test_mixed_architectures_are_rejected_naming_the_entries(quick_config, tmp_path):
    entries = [*STANFORD[:2], {"id": "EleutherAI/pythia-160m-seed1"}]
    with pytest.raises(ConfigError, match="mixed architectures") as e:
        validate_config(pretrained(quick_config, entries))
    assert "alias-gpt2-small-x21" in str(e.value) and "pythia-160m-seed1" in str(e.value)
    tok = tiny_hf_models.tokenizer()
    a = tiny_hf_models.build(tmp_path / "a", "gpt2", seed=0, tok=tok)
    b = tiny_hf_models.build(tmp_path / "b", "gpt_neox", seed=0, tok=tok)
    with pytest.raises(
        ConfigError, match=r"mixed architectures in one family \(gpt2 2×2.*: a; gpt_neox 2×2.*: b\)"
    ):
        validate_config(pretrained(quick_config, [{"path": str(a)}, {"path": str(b)}]))


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"id": "../../etc/passwd"}, "models.entries[0].id"),
        ({"id": "/abs/olute"}, "models.entries[0].id"),
        ({"id": "owner/na me"}, "models.entries[0].id"),
        ({"id": "owner/..x", "architecture": "gpt2"}, "models.entries[0].id"),
        ({"id": "gpt2", "name": "../escape"}, "models.entries[0].name"),
        ({"id": "gpt2", "name": "/tmp/x"}, "models.entries[0].name"),
        ({"id": "gpt2", "name": "a;b"}, "models.entries[0].name"),
        ({"id": "gpt2", "name": ".hidden"}, "models.entries[0].name"),
        ({"id": "gpt2", "name": "seed990"}, "models.entries[0].name"),
        ({"id": "gpt2", "revision": "../main"}, "models.entries[0].revision"),
        ({"id": "gpt2", "path": "x"}, "models.entries[0]"),
    ],
)
def test_unsafe_entries_are_rejected_naming_the_entry(quick_config, entry, key):
    cfg = pretrained(quick_config, [entry, {"id": "gpt2", "name": "other"}])
    with pytest.raises(ConfigError) as e:
        validate_config(cfg)
    assert e.value.key == key, str(e.value)


def test_duplicate_names_are_rejected(quick_config):
    with pytest.raises(ConfigError, match=r"also the name of models\.entries"):
        validate_config(pretrained(quick_config, [{"id": "gpt2"}, {"id": "openai-community/gpt2",
                                                  "architecture": "gpt2"}]))  # fmt: skip


def test_seeds_merged_from_the_default_config_are_ignored(quick_config):
    cfg = pretrained(quick_config, STANFORD)
    cfg["seeds"] = [1, 2]  # snakemake merges config/config.yaml's keys under --configfile's
    validate_config(cfg)
    assert model_seeds(cfg) == [0, 1, 2]


def test_schema_requires_entries_for_pretrained_and_seeds_for_train(quick_config):
    cfg = pretrained(quick_config, STANFORD)
    del cfg["models"]["entries"]
    with pytest.raises(ConfigError, match="entries"):
        validate_config(cfg)
    cfg = copy.deepcopy(quick_config)
    del cfg["seeds"]
    with pytest.raises(ConfigError, match="seeds"):
        validate_config(cfg)
    cfg = pretrained(quick_config, STANFORD)
    cfg["models"]["entries"].append({"id": "gpt2", "trust_remote_code": True})
    with pytest.raises(ConfigError, match="trust_remote_code"):
        validate_config(cfg)


def test_a_family_needs_fig14s_knockout_keys_and_the_statistics(quick_config):
    validate_config(pretrained(quick_config, STANFORD))  # n_prompts, prompt_seed, batch_size
    cfg = pretrained(quick_config, STANFORD)
    del cfg["knockout"]["prompt_seed"]
    with pytest.raises(ConfigError, match="'knockout': 'prompt_seed' is a required property"):
        validate_config(cfg)
    cfg = pretrained(quick_config, STANFORD)
    del cfg["statistics"]
    with pytest.raises(ConfigError, match="'statistics' is a required property"):
        validate_config(cfg)
    trained = copy.deepcopy(quick_config)
    del trained["knockout"]["model_seed"]  # required where models are trained
    with pytest.raises(ConfigError, match="'knockout': 'model_seed' is a required property"):
        validate_config(trained)
