"""Load and validate a pipeline configuration.

The JSON schema (``schemas/config.schema.yaml``) checks types and ranges; the
cross-field checks below catch what a schema cannot express (a knockout head that
does not exist, k not below the number of heads, ...). Every error names the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from phrenology.errors import ConfigError

SCHEMA_PATH = Path(str(resources.files("phrenology") / "schemas" / "config.schema.yaml"))


def load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH) as f:
        return yaml.safe_load(f)


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
    if error.validator == "enum":
        return f"{error.instance!r} is not allowed; allowed values: {schema['enum']}"
    if error.validator == "oneOf":
        options = [s.get("type") for s in schema["oneOf"]]
        return f"{error.instance!r} is not valid; expected one of types {options}"
    return error.message


def n_heads_total(cfg: Mapping[str, Any]) -> int:
    """Heads across all models: seeds × layers × heads."""
    return len(cfg["seeds"]) * cfg["model"]["n_layers"] * cfg["model"]["n_heads"]


def check_consistency(cfg: Mapping[str, Any]) -> None:
    """Checks between keys that a JSON schema cannot express."""
    model, n_ctx = cfg["model"], cfg["model"]["n_ctx"]
    heads = n_heads_total(cfg)
    heads_desc = (
        f"{heads} = {len(cfg['seeds'])} seeds × {model['n_layers']} layers × "
        f"{model['n_heads']} heads"
    )
    n_prompts = cfg["capture"]["n_prompts"]
    n_pairs = n_ctx * (n_ctx + 1) // 2

    ko = cfg["knockout"]
    if ko["model_seed"] not in cfg["seeds"]:
        raise ConfigError(
            "knockout.model_seed", f"{ko['model_seed']} is not one of seeds {cfg['seeds']}"
        )
    if ko["layer"] >= model["n_layers"]:
        raise ConfigError(
            "knockout.layer", f"{ko['layer']} must be below model.n_layers ({model['n_layers']})"
        )
    if ko["head"] >= model["n_heads"]:
        raise ConfigError(
            "knockout.head", f"{ko['head']} must be below model.n_heads ({model['n_heads']})"
        )

    ae = cfg["autoencoder"]
    for b in ae["bottlenecks"]:
        if b > n_pairs:
            raise ConfigError(
                "autoencoder.bottlenecks",
                f"{b} is larger than the pattern it compresses ({n_pairs} token pairs for n_ctx {n_ctx})",
            )
        if b > ae["first_width"]:
            raise ConfigError(
                "autoencoder.bottlenecks",
                f"{b} is larger than autoencoder.first_width ({ae['first_width']}); widths halve from it down to the bottleneck",
            )

    if ae["perturbation"]["n_top_pairs"] > n_pairs:
        raise ConfigError(
            "autoencoder.perturbation.n_top_pairs",
            f"{ae['perturbation']['n_top_pairs']} exceeds the {n_pairs} token pairs of n_ctx {n_ctx}",
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
            f"{comp['n_components']} exceeds the number of heads ({heads_desc})",
        )
    if comp["token_component"] > comp["n_components"]:
        raise ConfigError(
            "analysis.components.token_component",
            f"{comp['token_component']} exceeds analysis.components.n_components ({comp['n_components']})",
        )
    for key, value in (
        ("analysis.components.n_prompts_shown", comp["n_prompts_shown"]),
        ("analysis.first_token.n_prompts", an["first_token"]["n_prompts"]),
    ):
        if value > n_prompts:
            raise ConfigError(key, f"{value} exceeds capture.n_prompts ({n_prompts})")


def config_hash(subset: Any) -> str:
    """Stable sha256 of a JSON-able config subset (key order does not matter)."""
    blob = json.dumps(subset, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
