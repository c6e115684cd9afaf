"""Load and validate a pipeline configuration.

The JSON schema (``schemas/config.schema.yaml``) checks types and ranges; the
cross-field checks below catch what a schema cannot express (a knockout head that
does not exist, k not below the number of heads, ...). Every error names the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from phrenology.pipeline.errors import ConfigError

SCHEMA_PATH = Path(str(resources.files("phrenology.pipeline") / "schemas" / "config.schema.yaml"))


def load_schema() -> dict[str, Any]:
    # libyaml's loader when present: 10x faster on this schema, read at every Snakemake start
    with open(SCHEMA_PATH) as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config and validate it; raises ConfigError naming the offending key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("<file>", f"config file {path} does not exist")
    with open(path) as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ConfigError("<file>", f"{path} must hold a YAML mapping, not {type(cfg).__name__}")
    validate_config(cfg)
    return cfg


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def validate_config(cfg: Mapping[str, Any]) -> None:
    """Schema then cross-field checks. Raises ConfigError on the first problem."""
    import jsonschema  # imported here: Snakemake parses this module for every invocation

    validator = jsonschema.Draft202012Validator(load_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(cfg))
    if error is not None:
        raise ConfigError(_key(error.absolute_path), _describe(error))
    check_consistency(cfg)


def _describe(error: Any) -> str:
    """One line: what was found and what is allowed."""
    schema = error.schema
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        return f"{error.message}; allowed keys: {', '.join(allowed)}"
    if error.validator == "required":
        return f"{error.message}; required keys: {', '.join(schema['required'])}"
    parent = error.parent
    if parent is not None and parent.validator == "oneOf":  # name every alternative
        schema = parent.schema
    if error.validator == "enum" and schema is error.schema:
        return f"{error.instance!r} is not allowed; allowed values: {schema['enum']}"
    allowed = allowed_values(schema)
    if error.validator in ("oneOf", "enum", "not") or schema is not error.schema:
        found = f"{error.instance!r} is not allowed"
    else:
        found = error.message
    return f"{found}; allowed: {allowed}" if allowed else found


def _bounds(schema: Mapping[str, Any]) -> list[str]:
    bounds = []
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            bounds.append(f"{sign} {schema[key]}")
    if schema.get("not", {}).get("const") is not None:
        bounds.append(f"≠ {schema['not']['const']}")
    return bounds


def allowed_values(schema: Mapping[str, Any]) -> str:
    """The values a schema node accepts, in words: 'an integer ≥ 1', "one of ['LN', ...]", ..."""
    if "enum" in schema:
        values = schema["enum"]
        return repr(values[0]) if len(values) == 1 else f"one of {values}"
    if "oneOf" in schema:
        return " or ".join(allowed_values(s) for s in schema["oneOf"])
    kind = schema.get("type")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        return " ".join([noun, " and ".join(_bounds(schema))]).strip()
    if kind == "array":
        lo, hi = schema.get("minItems"), schema.get("maxItems")
        if lo is not None and lo == hi:
            text = f"a list of {lo}"
        else:
            text = "a non-empty list" if lo else "a list"
        if "items" in schema:
            text += f", each {allowed_values(schema['items'])}"
        if schema.get("uniqueItems"):
            text += ", no repeats"
        return text
    if kind == "string":
        return "a non-empty string" if schema.get("minLength") else "a string"
    if kind == "boolean":
        return "true or false"
    if kind == "null":
        return "null"
    if kind == "object":
        return f"a mapping with keys {', '.join(sorted(schema.get('properties', {})))}"
    return ""


def is_pretrained(cfg: Mapping[str, Any]) -> bool:
    """models.source is pretrained (a published family) rather than train (the default)."""
    return (cfg.get("models") or {}).get("source", "train") == "pretrained"


def model_seeds(cfg: Mapping[str, Any]) -> list[int]:
    """heads.tsv's ``seed`` column values, one per model: the seeds, or for a pretrained family
    the entries' positions 0, 1, ... (their names are heads.tsv's ``model`` column)."""
    if is_pretrained(cfg):
        return list(range(len(cfg["models"]["entries"])))
    return list(cfg["seeds"])


def model_names(cfg: Mapping[str, Any]) -> list[str]:
    """One name per model, in heads.tsv order: ``seed990`` for trained ones (their file names),
    the entry's name for a pretrained family."""
    if is_pretrained(cfg):
        from phrenology.models.pretrained import entries_from_config

        return [e.name for e in entries_from_config(cfg)]
    return [f"seed{s}" for s in cfg["seeds"]]


def n_heads_total(cfg: Mapping[str, Any]) -> int:
    """Heads across all models: models × layers × heads."""
    return len(model_seeds(cfg)) * cfg["model"]["n_layers"] * cfg["model"]["n_heads"]


def check_consistency(cfg: Mapping[str, Any]) -> None:
    """Checks between keys that a JSON schema cannot express."""
    model, n_ctx = cfg["model"], cfg["model"]["n_ctx"]
    pretrained = is_pretrained(cfg)
    if pretrained:  # seeds, train and knockout are then unused (Snakemake merges config.yaml's)
        from phrenology.models.pretrained import check_entries

        check_entries(cfg["models"])
    heads = n_heads_total(cfg)
    heads_desc = (
        f"{heads} = {len(model_seeds(cfg))} {'models' if pretrained else 'seeds'} × "
        f"{model['n_layers']} layers × {model['n_heads']} heads"
    )
    n_prompts = cfg["capture"]["n_prompts"]
    n_pairs = n_ctx * (n_ctx + 1) // 2

    train = cfg.get("train") if not pretrained else None
    if train and train.get("compile", "eager") != "eager" and train.get("models_per_job", 1) == 1:
        raise ConfigError(
            "train.compile",
            f"{train['compile']!r} applies to batched training only; set train.models_per_job "
            "above 1 or train.compile to 'eager'",
        )

    ko = cfg.get("knockout") if not pretrained else None
    if ko is None:
        pass
    elif ko["model_seed"] not in cfg["seeds"]:
        raise ConfigError(
            "knockout.model_seed", f"{ko['model_seed']} is not one of seeds {cfg['seeds']}"
        )
    elif ko["layer"] >= model["n_layers"]:
        raise ConfigError(
            "knockout.layer", f"{ko['layer']} must be below model.n_layers ({model['n_layers']})"
        )
    elif ko["head"] >= model["n_heads"]:
        raise ConfigError(
            "knockout.head", f"{ko['head']} must be below model.n_heads ({model['n_heads']})"
        )

    if ko is not None:  # knockout.compare: two heads of two different models
        for i, other in enumerate(ko["compare"]):
            key = f"knockout.compare.{i}"
            if other["model_seed"] not in cfg["seeds"]:
                raise ConfigError(
                    f"{key}.model_seed", f"{other['model_seed']} is not one of seeds {cfg['seeds']}"
                )
            if other["layer"] >= model["n_layers"]:
                raise ConfigError(
                    f"{key}.layer",
                    f"{other['layer']} must be below model.n_layers ({model['n_layers']})",
                )
            if other["head"] >= model["n_heads"]:
                raise ConfigError(
                    f"{key}.head",
                    f"{other['head']} must be below model.n_heads ({model['n_heads']})",
                )
        first, second = ko["compare"]
        if first["model_seed"] == second["model_seed"]:
            raise ConfigError(
                "knockout.compare.1.model_seed",
                f"{second['model_seed']} is the model of knockout.compare.0 too; the comparison is "
                "between heads of two different models",
            )

    ae = cfg["autoencoder"]
    for b in ae["bottlenecks"]:
        if b > n_pairs:
            raise ConfigError(
                "autoencoder.bottlenecks",
                f"{b} is larger than the pattern it compresses; must be ≤ {n_pairs} "
                f"(the token pairs of n_ctx {n_ctx})",
            )
        if b > ae["first_width"]:
            raise ConfigError(
                "autoencoder.bottlenecks",
                f"{b} must be ≤ autoencoder.first_width ({ae['first_width']}): widths halve "
                "from it down to the bottleneck",
            )

    if ae["perturbation"]["n_top_pairs"] > n_pairs:
        raise ConfigError(
            "autoencoder.perturbation.n_top_pairs",
            f"{ae['perturbation']['n_top_pairs']} must be ≤ {n_pairs} (the token pairs of n_ctx {n_ctx})",
        )
    n_rows = n_prompts * heads
    if ae["validation_fraction"] > 0 and n_rows < 2:
        raise ConfigError(
            "autoencoder.validation_fraction",
            f"{n_rows} (prompt, head) row cannot be split into training and validation rows",
        )

    cl = cfg["clustering"]
    if cl["k"] >= heads:
        raise ConfigError(
            "clustering.k", f"{cl['k']} must be below the number of heads ({heads_desc})"
        )
    if cl["umap"]["n_neighbors"] >= heads:
        raise ConfigError(
            "clustering.umap.n_neighbors",
            f"{cl['umap']['n_neighbors']} must be below the number of heads ({heads_desc})",
        )
    lo, hi = cl["gamma_range"]
    if lo >= hi:
        raise ConfigError("clustering.gamma_range", f"min {lo} must be below max {hi}")

    an = cfg["analysis"]
    points = heads + 3  # the three artificial heads join the projections
    if an["projection"]["tsne"]["perplexity"] >= points:
        raise ConfigError(
            "analysis.projection.tsne.perplexity",
            f"{an['projection']['tsne']['perplexity']} must be below the number of points ({points} = {heads} heads + 3 artificial)",
        )
    if an["projection"]["umap"]["n_neighbors"] >= points:
        raise ConfigError(
            "analysis.projection.umap.n_neighbors",
            f"{an['projection']['umap']['n_neighbors']} must be below the number of points ({points} = {heads} heads + 3 artificial)",
        )
    comp = an["components"]
    if comp["n_components"] > heads:
        raise ConfigError(
            "analysis.components.n_components",
            f"{comp['n_components']} must be ≤ the number of heads ({heads_desc})",
        )
    if comp["token_component"] > comp["n_components"]:
        raise ConfigError(
            "analysis.components.token_component",
            f"{comp['token_component']} must be ≤ analysis.components.n_components ({comp['n_components']})",
        )
    dec = an["decomposition"]
    if dec["n_components"] > heads:
        raise ConfigError(
            "analysis.decomposition.n_components",
            f"{dec['n_components']} must be ≤ the number of heads ({heads_desc})",
        )
    for key, value in (
        ("analysis.components.n_prompts_shown", comp["n_prompts_shown"]),
        ("analysis.first_token.n_prompts", an["first_token"]["n_prompts"]),
        ("analysis.decomposition.n_prompts", dec["n_prompts"]),
    ):
        if value > n_prompts:
            raise ConfigError(key, f"{value} must be ≤ capture.n_prompts ({n_prompts})")


def seed_groups(seeds: Sequence[int], models_per_job: int) -> list[list[int]]:
    """The seeds of each training job: in config order, ceil(N / G) groups of G (the last may
    be smaller). ``models_per_job`` 1 gives one seed per job (today's fan-out)."""
    g = int(models_per_job)
    if g < 1:
        raise ConfigError("train.models_per_job", f"{g} must be ≥ 1")
    return [list(seeds[i : i + g]) for i in range(0, len(seeds), g)]


def check_prompt_length(text: str, n_tokens: int, n_ctx: int) -> None:
    """knockout.prompt must be 1 to n_ctx tokens long: the models never saw longer inputs."""
    if n_tokens == 0:
        raise ConfigError(
            "knockout.prompt", f"{text!r} tokenises to nothing; allowed: 1 to {n_ctx} tokens"
        )
    if n_tokens > n_ctx:
        raise ConfigError(
            "knockout.prompt",
            f"{text!r} is {n_tokens} tokens long, more than the models' context "
            f"(model.n_ctx = {n_ctx}); shorten it to at most {n_ctx} tokens",
        )


def check_with_tokenizer(cfg: Mapping[str, Any]) -> str | None:
    """Start-up checks that need the tokenizer: knockout.prompt must fit model.n_ctx.

    Not part of :func:`validate_config`, which runs whenever Snakemake parses the
    workflow (every dry run, every cluster job): loading the tokenizer takes ~0.3 s.
    The workflow calls this once per run, before the first job (``onstart``). It loads
    the tokenizer only from tiktoken's cache — a download could hang on a node without
    internet — and otherwise returns a note: the knockout jobs check the prompt anyway.
    """
    from phrenology.data import vocab

    if is_pretrained(cfg):  # no knockout on pretrained families; their tokenizers are their own
        return None
    name = cfg["corpus"]["tokenizer"]
    if not vocab.encoding_cached(name):
        return (
            f"note: the {name} tokenizer is not in tiktoken's cache, so knockout.prompt is "
            "checked against model.n_ctx only when the knockout jobs run"
        )
    prompt = cfg["knockout"]["prompt"]
    n_tokens = len(vocab.load_encoding(name).encode_ordinary(prompt))
    check_prompt_length(prompt, n_tokens, cfg["model"]["n_ctx"])
    return None


def config_hash(subset: Any) -> str:
    """Stable sha256 of a JSON-able config subset (key order does not matter)."""
    blob = json.dumps(subset, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


# ---------------------------------------------------------------- rule params from the config


class ConfigParam:
    """A rule param read from the config that says which keys it was read from.

    Made by ``cfg(...)`` in rules/common.smk (``params: k=cfg("clustering.k")``). It is a
    Snakemake params function of the wildcards only: each job gets the plain value, so
    scripts and provenance records see what they saw before, while the rule keeps this
    object and :mod:`phrenology.provenance.dvc` reads :attr:`config_keys` from it. The
    params of dvc.yaml thus follow the rules: no second list to keep in step.
    """

    __slots__ = ("config_keys", "value")

    def __init__(self, config_keys: tuple[str, ...], value: Any) -> None:
        self.config_keys = config_keys
        self.value = value

    def __call__(self, wildcards: Any) -> Any:
        return self.value

    def __repr__(self) -> str:
        return f"cfg({', '.join(map(repr, self.config_keys))}) = {self.value!r}"


def config_value(cfg: Mapping[str, Any], key: str) -> Any:
    """The value at a dotted key (``"clustering.k"``); ConfigError naming it if absent."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(key, "no such key in the config (read by a rule's params)")
        node = node[part]
    return node


def config_param(
    cfg: Mapping[str, Any],
    keys: tuple[str, ...],
    combine: Any = None,
    only: tuple[str, ...] | None = None,
) -> ConfigParam:
    """A :class:`ConfigParam` for ``keys``: the value at the one key, ``combine`` of the
    values at several (``heads_per_model``), or with ``only`` the named entries of the
    one section (each ``section.entry`` then counts as a key of its own)."""
    if not keys:
        raise ValueError("cfg() needs at least one config key")
    if only is not None:
        if len(keys) != 1 or combine is not None:
            raise ValueError("cfg(section, only=...) takes one section and no combine")
        entries = {k: config_value(cfg, f"{keys[0]}.{k}") for k in only}
        return ConfigParam(tuple(f"{keys[0]}.{k}" for k in only), entries)
    values = [config_value(cfg, k) for k in keys]
    if combine is None:
        if len(keys) != 1:
            raise ValueError(f"cfg{keys}: several keys need combine= to make one value")
        return ConfigParam(tuple(keys), values[0])
    return ConfigParam(tuple(keys), combine(*values))
