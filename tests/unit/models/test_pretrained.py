"""Pretrained families: tiny random GPT-2 / GPT-NeoX models in Hugging Face format, loaded
through the pipeline's own code path, must give Hugging Face's own logits and patterns."""

import numpy as np
import pytest
import tiny_hf_models
import torch

from phrenology.models import pretrained
from phrenology.models.capture import capture_patterns
from phrenology.pipeline.errors import DataError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_hf")
    tok = tiny_hf_models.tokenizer()
    folders = {arch: tiny_hf_models.build(root / arch, arch, seed=3, tok=tok)
               for arch in ("gpt2", "gpt_neox")}  # fmt: skip
    # the Stanford CRFM GPT-2 seeds scale attention by 1 / layer index (Mistral's setting)
    folders["gpt2_mistral"] = tiny_hf_models.build(
        root / "gpt2_mistral", "gpt2", seed=4, tok=tok, scale_attn_by_inverse_layer_idx=True
    )
    return folders


@pytest.mark.parametrize("arch", ["gpt2", "gpt_neox", "gpt2_mistral"])
def test_transformer_lens_equals_hugging_face(tiny, arch):
    folder = str(tiny[arch])
    hf = pretrained.load_hf_model(folder)
    model = pretrained.load_hooked(folder, "cpu")
    assert (model.cfg.n_layers, model.cfg.n_heads) == (2, 2)
    tokens = torch.randint(
        0, hf.config.vocab_size, (4, 16), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        ref = hf(tokens, output_attentions=True)
        logits, cache = model.run_with_cache(tokens)
    torch.testing.assert_close(logits, ref.logits, atol=1e-4, rtol=0)
    for layer in range(2):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"]
        torch.testing.assert_close(pattern, ref.attentions[layer], atol=1e-4, rtol=0)
    # not a vacuous comparison: the random model's patterns are far from uniform attention
    uniform = torch.tril(torch.ones(16, 16)) / torch.arange(1, 17)[:, None]
    assert (ref.attentions[0] - uniform).abs().max() > 0.1

    # and the capture the pipeline runs stores exactly these patterns, layer-major
    out = capture_patterns(model, tokens.numpy(), batch_size=3)
    want = torch.cat([ref.attentions[0], ref.attentions[1]], dim=1).numpy()
    np.testing.assert_allclose(out, want, atol=1e-4)


def test_float16_capture_costs_at_most_half_an_ulp(tiny):
    model = pretrained.load_hooked(str(tiny["gpt2"]), "cpu")
    tokens = np.random.default_rng(0).integers(0, model.cfg.d_vocab, (8, 16))
    full = capture_patterns(model, tokens, batch_size=8)
    half = capture_patterns(model, tokens, 8, out=np.empty(full.shape, np.float16))
    error = np.abs(half.astype(np.float32) - full)
    assert error.max() <= 2.0**-12 + 1e-7  # values ≤ 1: half an ulp of float16 at [0.5, 1)
    assert (error[full > 0] <= full[full > 0] * 2.0**-11 + 6e-8).all()  # relative (and subnormals)


def test_shape_check_names_the_model_and_the_config_keys(tiny):
    model = pretrained.load_hooked(str(tiny["gpt2"]), "cpu")
    with pytest.raises(DataError, match=r"model fam-a has 2 layers × 2 heads .* model.n_layers 3"):
        pretrained.check_shape(model, "fam-a", n_layers=3, n_heads=2, n_ctx=16)
    with pytest.raises(DataError, match=r"context of 32 tokens, below model\.n_ctx 64"):
        pretrained.check_shape(model, "fam-a", n_layers=2, n_heads=2, n_ctx=64)


def test_uncached_model_fails_offline_with_one_line_naming_it_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    entry = pretrained.Entry(name="pythia-14m-seed3", id="EleutherAI/pythia-14m-seed3")
    with pytest.raises(DataError) as e:
        pretrained.local_folder(entry)
    message = str(e.value)
    assert "\n" not in message
    assert "pythia-14m-seed3" in message and "fetch_model" in message


def test_tokenizer_encodes_without_special_tokens(tiny):
    tok = pretrained.load_tokenizer(str(tiny["gpt2"]))
    ids = pretrained.encode_batch(tok)(["They sit alone", "in their rooms"])
    assert [tok.decode(i) for i in ids] == ["They sit alone", "in their rooms"]
    assert tok.eos_token_id not in ids[0] + ids[1]
    other = tiny_hf_models.tokenizer(vocab_size=300)
    assert pretrained.tokenizer_fingerprint(tok) != pretrained.tokenizer_fingerprint(other)


@pytest.mark.parametrize(
    ("repo_files", "weights"),
    [
        (
            ["config.json", "model.safetensors", "pytorch_model.bin", "modeling_x.py"],
            "*.safetensors",
        ),
        (["config.json", "pytorch_model.bin"], "*.bin"),
    ],
)
def test_fetch_prefers_safetensors_and_never_fetches_code(
    tmp_path, monkeypatch, repo_files, weights
):
    import huggingface_hub

    calls = {}
    snapshot = tmp_path / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")

    class Api:
        def list_repo_files(self, repo_id, revision=None):
            calls["listed"] = (repo_id, revision)
            return repo_files

    def download(repo_id, revision=None, allow_patterns=None, **kwargs):
        calls["download"] = (repo_id, revision, allow_patterns, kwargs)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    entry = pretrained.Entry(name="s", id="EleutherAI/pythia-14m-seed3", revision="step1000",
                             architecture="EleutherAI/pythia-14m")  # fmt: skip
    record = pretrained.fetch(entry)
    repo_id, revision, patterns, kwargs = calls["download"]
    assert (repo_id, revision) == ("EleutherAI/pythia-14m-seed3", "step1000")
    assert weights in patterns and not {"*.safetensors", "*.bin"} - {weights} & set(patterns)
    assert not any(p.endswith(".py") or p == "*" for p in patterns)
    assert "trust_remote_code" not in kwargs
    assert record["commit"] == "abc123" and record["architecture"] == "EleutherAI/pythia-14m"
