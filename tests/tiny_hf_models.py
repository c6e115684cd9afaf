"""Tiny random models in Hugging Face format, built offline for tests (GPT-2 and GPT-NeoX).

Each folder holds config.json, safetensors weights and a small byte-level BPE tokenizer
trained here on a fixed text, so nothing is downloaded and the family shares one tokenizer.
"""

from __future__ import annotations

from pathlib import Path

TEXT = (
    "They sit alone in their rooms. The jury said it did find that many of the election "
    "laws are outmoded or inadequate and often ambiguous. It recommended that the county "
    "legislators act to have these laws studied and revised to the end of modernizing them. "
    "The grand jury commented on a number of other topics, among them the Atlanta and Fulton "
    "County purchasing departments which it said are well operated and follow generally "
    "accepted practices which inure to the best interest of both governments. "
) * 4


def tokenizer(vocab_size: int = 400):
    """A GPT2TokenizerFast over a byte-level BPE trained on TEXT (deterministic)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([TEXT], vocab_size=vocab_size, min_frequency=1,
                            special_tokens=["<|endoftext|>"], show_progress=False)  # fmt: skip
    return GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>",
                             bos_token="<|endoftext|>", unk_token="<|endoftext|>")  # fmt: skip


def build(folder: Path, arch: str, seed: int, n_layers: int = 2, n_heads: int = 2,
          d_model: int = 16, n_ctx: int = 32, tok=None, **extra) -> Path:  # fmt: skip
    """Save a randomly initialised ``gpt2`` or ``gpt_neox`` model (+ tokenizer) to ``folder``."""
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config, GPTNeoXConfig

    tok = tok or tokenizer()
    vocab = len(tok)
    if arch == "gpt2":
        cfg = GPT2Config(vocab_size=vocab, n_positions=n_ctx, n_ctx=n_ctx, n_embd=d_model, n_layer=n_layers,
                         n_head=n_heads, initializer_range=0.4, bos_token_id=0, eos_token_id=0)  # fmt: skip
    elif arch == "gpt_neox":
        cfg = GPTNeoXConfig(vocab_size=vocab, max_position_embeddings=n_ctx, hidden_size=d_model,
                            num_hidden_layers=n_layers, num_attention_heads=n_heads,
                            intermediate_size=4 * d_model, rotary_pct=0.25, initializer_range=0.4,
                            bos_token_id=0, eos_token_id=0)  # fmt: skip
    else:
        raise ValueError(arch)
    for key, value in extra.items():  # e.g. the Stanford CRFM (Mistral) GPT-2 attention settings
        setattr(cfg, key, value)
    cfg.architectures = [{"gpt2": "GPT2LMHeadModel", "gpt_neox": "GPTNeoXForCausalLM"}[arch]]
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    with torch.no_grad():  # random biases and norms too, so a mix-up of weights cannot hide
        for p in model.parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def family(root: Path, arch: str = "gpt2", n: int = 3, **kw) -> list[Path]:
    """``n`` seeds of one tiny architecture under ``root`` (``<arch>-seed<i>``), one tokenizer."""
    tok = tokenizer()
    return [build(root / f"tiny-{arch}-seed{i}", arch, seed=i, tok=tok, **kw) for i in range(n)]
