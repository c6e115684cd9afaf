"""Families of pretrained models (``models.source: pretrained``): names, fetching, offline loading.

A config entry is a Hugging Face model id (``id``, optional ``revision``) or a local folder in
Hugging Face format (``path``), optionally with the TransformerLens ``architecture`` name that
the id is an instance of (needed when the id is not one of TransformerLens' official names,
e.g. ``EleutherAI/pythia-14m-seed3`` → ``EleutherAI/pythia-14m``). Every entry gets a *name*
(``name``, or the id's / folder's last component) that becomes a path component under
``results/`` and the ``model`` column of heads.tsv, so it is checked here to be safe.

Loading, HPC-style: ``fetch_model`` (a Snakemake localrule: login nodes have internet) puts
each model into the Hugging Face cache once; compute jobs then only read the cache
(:func:`local_folder` with ``local_files_only``) and fail with one line naming the model and
the fix when it is not there.

:func:`load_hooked` builds the TransformerLens model from the folder's own ``config.json``
through TransformerLens' local-folder branch (``get_pretrained_model_config`` /
``get_pretrained_state_dict`` on a path) with every weight processing off, as
``HookedTransformer.from_pretrained_no_processing(arch, hf_model=...)`` does: folding or
centring never changes an attention pattern in exact arithmetic, but keeping the weights as
published keeps the patterns bit-comparable to the Hugging Face model's own
(``output_attentions=True``). Unlike ``from_pretrained(arch, hf_model=...)`` it does not need
the architecture's *official* config from the hub (which would also override the shape of a
model that differs from it, as the tiny test models do). Never ``trust_remote_code``;
safetensors weights are used whenever the folder has them.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phrenology.pipeline.errors import ConfigError, DataError

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

# A name is one path component under results/: letters, digits, '.', '_', '-'; no '..'.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# [owner/]name as the hub spells it (no '..', no leading '/', at most one '/')
_HF_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
# a branch, tag or commit: may hold '/' (refs/pr/1) but no '..' and no leading '/'
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
# trained models' own names (results/attention/seed990.npy): pretrained names must differ
_TRAINED_NAME = re.compile(r"^seed\d+$")

FETCH_HINT = "run the fetch_model rule on a machine with internet (snakemake --until fetch_model)"


@dataclass(frozen=True)
class Entry:
    """One model of a pretrained family, as the config gives it."""

    name: str
    id: str | None = None  # Hugging Face id, or None for a local folder
    path: str | None = None  # local folder in Hugging Face format
    revision: str | None = None
    architecture: str | None = None  # TransformerLens official name of its architecture

    @property
    def source(self) -> str:
        """What to show a person: the id (with @revision) or the folder."""
        if self.path is not None:
            return self.path
        return f"{self.id}@{self.revision}" if self.revision else str(self.id)

    def as_params(self) -> dict[str, Any]:
        """JSON-able form for Snakemake params (a change reruns the model's jobs)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _safe_component(value: str) -> bool:
    return bool(_SAFE_NAME.match(value)) and ".." not in value


def parse_entries(models: Mapping[str, Any]) -> list[Entry]:
    """The config's ``models.entries`` as :class:`Entry`, each name, id and path checked.

    Raises ConfigError naming ``models.entries[i]`` and the entry for anything that could
    escape ``results/`` or that Snakemake could not tell apart.
    """
    entries: list[Entry] = []
    for i, raw in enumerate(models.get("entries") or []):
        key = f"models.entries[{i}]"
        what = raw.get("id") or raw.get("path") or raw.get("name")
        if ("id" in raw) == ("path" in raw):
            raise ConfigError(
                key, f"{what!r}: give exactly one of id (Hugging Face) or path (folder)"
            )
        hf_id, path = raw.get("id"), raw.get("path")
        if hf_id is not None and not (_HF_ID.match(hf_id) and ".." not in hf_id):
            raise ConfigError(
                f"{key}.id",
                f"{hf_id!r} is not a Hugging Face id of the form owner/name or name (letters, digits, "
                "'.', '_', '-'; no '..'); for a local folder use path:",
            )
        revision = raw.get("revision")
        if revision is not None and (
            hf_id is None or not _REVISION.match(revision) or ".." in revision
        ):
            raise ConfigError(
                f"{key}.revision",
                f"{revision!r} for {what!r}: a revision is a branch, tag or commit of a Hugging "
                "Face id (letters, digits, '.', '_', '-', '/'; no '..')",
            )
        if path is not None:
            path = os.fspath(path)
        default = (hf_id or "").split("/")[-1] if hf_id else Path(path or "").name
        name = raw.get("name", default)
        if not isinstance(name, str) or not _safe_component(name):
            raise ConfigError(
                f"{key}.name",
                f"{name!r} (the name of {what!r}) becomes a folder under results/: use letters, "
                "digits, '.', '_', '-' only, not starting with '.' and without '..'; set name: "
                "to choose one",
            )
        if _TRAINED_NAME.match(name):
            raise ConfigError(
                f"{key}.name",
                f"{name!r} looks like a trained model's name (seed<N>); choose another name:",
            )
        arch = raw.get("architecture")
        entries.append(Entry(name=name, id=hf_id, path=path, revision=revision, architecture=arch))
    names = [e.name for e in entries]
    for i, name in enumerate(names):
        if name in names[:i]:
            j = names.index(name)
            raise ConfigError(
                f"models.entries[{i}].name",
                f"{name!r} is also the name of models.entries[{j}] ({entries[j].source}); "
                "names must be unique (set name: on one of them)",
            )
    return entries


@functools.cache
def official_names() -> frozenset[str]:
    """TransformerLens' OFFICIAL_MODEL_NAMES, read from its source without importing torch."""
    spec = importlib.util.find_spec("transformer_lens")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    source = Path(next(iter(spec.submodule_search_locations))) / "supported_models.py"
    tree = ast.parse(source.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) == "OFFICIAL_MODEL_NAMES" for t in targets):
                return frozenset(ast.literal_eval(node.value))
    return frozenset()


# Seed families share a shape; their official names differ only in a suffix.
_FAMILY_PATTERNS = (
    (re.compile(r"^stanford-crfm/[a-z]+-(gpt2-(?:small|medium))-x\d+$"), r"\1"),
    (re.compile(r"^EleutherAI/(pythia-\d+(?:\.\d+)?[mb])(?:-(?:data-|weight-)?seed\d+)?$"), r"\1"),
    (re.compile(r"^(?:openai-community/)?(gpt2(?:-medium|-large|-xl)?)$"), r"\1"),
)


def _family_from_name(name: str) -> str:
    for pattern, repl in _FAMILY_PATTERNS:
        if pattern.match(name):
            return pattern.sub(repl, name).replace("gpt2-small", "gpt2")
    return name


def _local_signature(folder: str) -> str | None:
    """``model_type layers×heads d_model`` from a folder's config.json; None if unreadable."""
    try:
        with open(Path(folder) / "config.json") as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return None
    layers = cfg.get("n_layer", cfg.get("num_hidden_layers"))
    heads = cfg.get("n_head", cfg.get("num_attention_heads"))
    width = cfg.get("n_embd", cfg.get("hidden_size"))
    return f"{cfg.get('model_type')} {layers}×{heads} d_model {width}"


def family_key(entry: Entry) -> str:
    """What must agree across a family: a local folder's shape, else the architecture's family."""
    if entry.path is not None:
        return _local_signature(entry.path) or f"unreadable {entry.path}/config.json"
    return _family_from_name(entry.architecture or str(entry.id))


def check_entries(models: Mapping[str, Any]) -> list[Entry]:
    """Cross-field checks of a pretrained family (no download): safe names, architecture
    known to TransformerLens, one architecture for all. Raises ConfigError naming entries."""
    entries = parse_entries(models)
    official = official_names()
    for i, e in enumerate(entries):
        key = f"models.entries[{i}]"
        if e.path is not None:
            if not (Path(e.path) / "config.json").is_file():
                raise ConfigError(
                    f"{key}.path",
                    f"{e.path!r} is not a folder in Hugging Face format (no config.json)",
                )
            continue
        if e.architecture is not None and official and e.architecture not in official:
            raise ConfigError(
                f"{key}.architecture",
                f"{e.architecture!r} (for {e.id!r}) is not a TransformerLens official model name",
            )
        if e.architecture is None and official and e.id not in official:
            raise ConfigError(
                f"{key}.architecture",
                f"{e.id!r} is not a TransformerLens official model name; add architecture: "
                "<the official name of its architecture> (e.g. EleutherAI/pythia-14m for "
                "EleutherAI/pythia-14m-seed3)",
            )
    keys = [family_key(e) for e in entries]
    if len(set(keys)) > 1:
        groups: dict[str, list[str]] = {}
        for e, k in zip(entries, keys, strict=True):
            groups.setdefault(k, []).append(e.name)
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in groups.items())
        raise ConfigError(
            "models.entries",
            f"mixed architectures in one family ({listed}); heads are compared across models "
            "of one architecture: split them into separate configs",
        )
    return entries


def entries_from_config(cfg: Mapping[str, Any]) -> list[Entry]:
    return parse_entries(cfg.get("models") or {})


def is_pretrained(cfg: Mapping[str, Any]) -> bool:
    return (cfg.get("models") or {}).get("source", "train") == "pretrained"


# --- Fetching (login node) and offline resolution (compute jobs) ---------------------------

_WANTED = ["*.json", "*.txt", "*.model", "tokenizer*", "merges.txt", "vocab.*"]


def fetch(entry: Entry) -> dict[str, Any]:
    """Download one model into the Hugging Face cache (needs internet); a record of what came.

    Only configuration, tokenizer and weight files: safetensors when the repository has them,
    else PyTorch ``.bin`` (loaded with ``weights_only``). No code files (never remote code).
    """
    if entry.path is not None:
        return {
            "name": entry.name,
            "path": os.path.abspath(entry.path),
            "files": _files(entry.path),
        }
    from huggingface_hub import HfApi, snapshot_download

    files = HfApi().list_repo_files(entry.id, revision=entry.revision)
    weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["*.bin"]
    folder = snapshot_download(entry.id, revision=entry.revision, allow_patterns=_WANTED + weights)
    record = {"name": entry.name, "id": entry.id, "revision": entry.revision,
              "commit": Path(folder).name, "folder": folder, "files": _files(folder)}  # fmt: skip
    if entry.architecture and entry.architecture != entry.id:
        record["architecture"] = entry.architecture
    return record


def _files(folder: str) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if p.is_file())


def local_folder(entry: Entry) -> str:
    """The entry's folder on this machine, never downloading: a local path, or the HF cache."""
    if entry.path is not None:
        if not (Path(entry.path) / "config.json").is_file():
            raise DataError(f"model {entry.name}: {entry.path} has no config.json")
        return entry.path
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(entry.id, revision=entry.revision, local_files_only=True)
    except Exception as e:  # LocalEntryNotFoundError, or an offline-mode error
        cache = (
            os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        )
        raise DataError(
            f"model {entry.name} ({entry.source}) is not in the Hugging Face cache ({cache}): "
            f"{FETCH_HINT}, with the same HF_HOME ({type(e).__name__})"
        ) from None


def load_tokenizer(folder: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)


def load_hf_model(folder: str) -> Any:
    """The Hugging Face model, float32, eager attention (so output_attentions works)."""
    import torch
    from transformers import AutoModelForCausalLM

    safetensors = any(Path(folder).glob("*.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(
        folder, local_files_only=True, trust_remote_code=False, use_safetensors=safetensors,
        dtype=torch.float32, attn_implementation="eager",
    )  # fmt: skip
    return model.eval()


def load_hooked(folder: str, device: Any = "cpu", hf_model: Any = None) -> HookedTransformer:
    """HookedTransformer of the model in ``folder``, weights unprocessed (see module doc)."""
    import torch
    from transformer_lens import HookedTransformer
    from transformer_lens import loading_from_pretrained as loading

    folder = str(Path(folder).resolve())
    hf_model = hf_model if hf_model is not None else load_hf_model(folder)
    cfg = loading.get_pretrained_model_config(
        folder, hf_cfg=hf_model.config.to_dict(), fold_ln=False, device=str(device),
        dtype=torch.float32,
    )  # fmt: skip
    state = loading.get_pretrained_state_dict(folder, cfg, hf_model, dtype=torch.float32)
    model = HookedTransformer(cfg, tokenizer=None, move_to_device=False)
    model.load_and_process_state_dict(
        state, fold_ln=False, center_writing_weights=False, center_unembed=False,
        fold_value_biases=False, refactor_factored_attn_matrices=False,
    )  # fmt: skip
    return model.to(device).eval()


def load_offline(entry: Entry, n_layers: int, n_heads: int, n_ctx: int, device: Any = "cpu"):
    """One family member from the cache (never downloading), checked against the config's shape."""
    model = load_hooked(local_folder(entry), device)
    check_shape(model, entry.name, n_layers, n_heads, n_ctx)
    return model


def untrained_seed(seed: int, position: int) -> int:
    """torch seed of the untrained copy of the family's model at ``position`` (0, 1, ...):
    distinct per model, all fixed by statistics.seed."""
    return 1000 * int(seed) + int(position)


def load_untrained(folder: str, seed: int, device: Any = "cpu") -> HookedTransformer:
    """The architecture of the model in ``folder`` at initialisation, without its weights.

    Hugging Face's own initialisation for that architecture (``from_config``: e.g. GPT-2's and
    Pythia's normal(0, initializer_range) weights) under ``torch.manual_seed(seed)``, then
    loaded exactly as :func:`load_hooked` loads trained weights: the untrained baseline of the
    verdict goes through the same path as the family. Deterministic on CPU.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    hf_config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    torch.manual_seed(seed)
    hf_model = AutoModelForCausalLM.from_config(
        hf_config, trust_remote_code=False, attn_implementation="eager", dtype=torch.float32
    )
    return load_hooked(folder, device, hf_model=hf_model.eval())


def check_shape(
    model: HookedTransformer, name: str, n_layers: int, n_heads: int, n_ctx: int
) -> None:
    """The loaded model must be the shape the config promised (heads.tsv was built from it)."""
    c = model.cfg
    if (c.n_layers, c.n_heads) != (n_layers, n_heads):
        raise DataError(
            f"model {name} has {c.n_layers} layers × {c.n_heads} heads but the config says "
            f"model.n_layers {n_layers}, model.n_heads {n_heads}: fix the config (one "
            "architecture per family)"
        )
    if c.n_ctx < n_ctx:
        raise DataError(
            f"model {name} has a context of {c.n_ctx} tokens, below model.n_ctx {n_ctx}"
        )


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """sha256 of the vocabulary (token → id): the prompts are valid for every model sharing it."""
    import hashlib

    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()


def encode_batch(tokenizer: Any) -> Any:
    """``texts → ids`` without special tokens (no BOS), as the trained path's tiktoken encode."""

    def encode(texts: Sequence[str]) -> list[list[int]]:
        return tokenizer(list(texts), add_special_tokens=False)["input_ids"]

    return encode
