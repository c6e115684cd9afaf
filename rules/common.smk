# Shared set-up: config loading and validation, paths, helpers. Kept free of heavy
# imports: Snakemake parses this file for every invocation and every cluster job.
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# Jobs import the package from this checkout, also on compute nodes and in conda envs.
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)

from snakemake.io import is_flagged

from phrenology.pipeline.config import config_param, validate_config
from phrenology.pipeline.environment import prepare_job_environment
from phrenology.provenance.report import summary_name

# PYTHONPATH for the jobs; NLTK_DATA / TIKTOKEN_CACHE_DIR made absolute, NUMBA_CACHE_DIR set,
# before any job starts
prepare_job_environment(SRC)


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# The JSON schema (phrenology.pipeline.config.SCHEMA_PATH) and the cross-field checks, with a concise first error naming
# the key. This is the schema validation snakemake.utils.validate would do (the same Draft
# 2020-12 validator; the schema sets no defaults for it to fill in), so that second pass,
# 0.8 s of every Snakemake start, is not made.
validate_config(config)


onstart:
    # Checks that need the tokenizer (knockout.prompt fits model.n_ctx): once per run, before
    # any job; not at parse time, which every dry run and cluster job pays.
    from phrenology.pipeline.config import check_with_tokenizer

    note = check_with_tokenizer(config)
    if note:
        print(note, file=sys.stderr)


from phrenology.pipeline.config import is_pretrained, model_names, model_seeds

PRETRAINED = is_pretrained(config)  # models.source: pretrained (rules/pretrained.smk)
SEEDS = model_seeds(config)  # heads.tsv's seed column: the seeds, or 0, 1, ... for a family
MODEL_NAMES = model_names(config)  # seed990, ... or the family's entry names


def cfg(*keys, combine=None, only=None):
    """A param read from the config at dotted key(s), e.g. `k=cfg("clustering.k")` in params.

    Every param that comes from the config is written this way: the job gets the plain
    value, and the rule keeps which keys it read, so the params of the generated dvc.yaml
    (phrenology dvc sync) follow the rules. Several keys need `combine` (e.g. a product);
    `only` takes some entries of one section. A param that is no config value (a path made
    from the wildcards) is a function of the wildcards instead.
    """
    return config_param(config, keys, combine=combine, only=only)


# heads of one model, the stride of every head axis
HEADS_PER_MODEL = cfg("model.n_layers", "model.n_heads", combine=lambda l, h: l * h)
# heads.tsv's seed column as a param: the seeds, or a family's positions 0, 1, ... (its models)
MODELS_KEY = "models.entries" if PRETRAINED else "seeds"
SEEDS_PARAM = cfg(MODELS_KEY, combine=lambda _: SEEDS)


wildcard_constraints:
    seed=r"\d+",


def corpus_files():
    """Outputs of prepare_corpus, by name (inputs of training)."""
    return {
        "train_tokens": "results/corpus/train_tokens.npy",
        "train_offsets": "results/corpus/train_offsets.npy",
        "heldout_tokens": "results/corpus/heldout_tokens.npy",
        "heldout_offsets": "results/corpus/heldout_offsets.npy",
        "vocab": "results/corpus/vocab.tsv",
        "manifest": "results/corpus/manifest.json",
    }


def final_outputs():
    """The default target's inputs: every rule's final products, named through
    `rules.<name>` so that a renamed output cannot drop out. The Snakefile calls it once
    every rules file is included (the rules it names must exist by then; their include
    order does not matter). A pretrained family (PRETRAINED) has no trained models and no
    Figs. 12-13."""
    return [
        # plain paths: a file named through rules.<name> asks for that rule, and a pretrained
        # family makes these two with its own rules (ruleorder in pretrained.smk)
        str(rules.sample_prompts.output.parquet),
        *attention_files(),
        *map(str, rules.heads_table.output),
        # comparing heads' patterns (compare.smk)
        *rules.attention_distance.output,
        *rules.plot_attention_distance.output,
        *rules.project_heads.output,
        *rules.plot_projections.output,
        *rules.pca_components.output,
        *rules.plot_pca_components.output,
        rules.decompose_patterns.output.extremes,
        *rules.plot_decomposition.output,
        *rules.first_token_pca.output,
        *rules.plot_first_token.output,
        # autoencoders (autoencoder.smk)
        *rules.select_autoencoder.output,
        *rules.head_embedding.output,
        rules.pair_importance.output.importance,
        *rules.plot_fig01.output,
        # clustering (clustering.smk)
        rules.leiden_sweep.output.sweep,
        rules.leiden_sweep.output.clusters,
        *rules.plot_fig02.output,
        *rules.plot_fig03.output,
        *rules.plot_fig04.output,
        *rules.plot_fig05.output,
        *rules.plot_fig06.output,
        *rules.head_overview.output,
        *rules.plot_head_overview.output,
        # knockout of every head (knockout.smk)
        rules.knockout_pca.output.table,
        *rules.plot_knockout_pca.output,
        *([] if PRETRAINED else trained_model_outputs()),
        # the verdict (verdict.smk)
        rules.verdict_summary.output.summary,
        rules.verdict_summary.output.clusters,
        *rules.verdict_sensitivity.output,
        *rules.plot_verdict_null.output,
        *rules.plot_verdict_consensus.output,
        *rules.plot_verdict_matching.output,
        # DVC metrics and the report's provenance summaries (summary.smk)
        *rules.metrics_summary.output,
        *rules.report_provenance.output,
    ]


def trained_model_outputs():
    """final_outputs() that exist for trained models only: the models, and the knockouts of
    Figs. 12-13 (a prompt in the trained models' compact vocabulary)."""
    return [
        *expand("results/models/seed{seed}/model.pt", seed=SEEDS),  # train_model or train_group_*
        rules.knockout_single_head.output.table,
        rules.knockout_cluster.output.table,
        *rules.plot_knockout_single.output,
        *rules.plot_knockout_cluster.output,
        rules.knockout_positions.output.effects,
        rules.knockout_compare.output.effects,
        *rules.plot_knockout_positions.output,
        *rules.plot_knockout_compare.output,
    ]


def attention_files():
    """Per-model attention tensors in model order (= heads.tsv order when concatenated)."""
    return expand("results/attention/{name}.npy", name=MODEL_NAMES)


def untrained_attention_files():
    """Per-model attention tensors of the untrained baseline (verdict.smk), in model order."""
    return expand("results/untrained/attention/{name}.npy", name=MODEL_NAMES)


def autoencoder_files(name):
    """One file per bottleneck, in config order, e.g. autoencoder_files("model.pt")."""
    return expand(
        "results/autoencoder/k{bottleneck}/{name}",
        bottleneck=config["autoencoder"]["bottlenecks"],
        name=name,
    )


def _patterns_mem_mb(copies):
    """mem_mb for a job holding the patterns ``copies`` times over (plus 1 GB for Python and
    libraries), doubled on each retry. Measured peaks at the paper size (72 MB of patterns):
    distance 0.3 GB, PCA 1.1 GB (LAPACK SVD in float64), t-SNE 2.4 GB."""

    def mem_mb(wildcards, input, attempt):
        return int(1000 + copies * input.size_mb) * attempt

    return mem_mb


def report_products():
    """Every output marked report() in the rules defined so far: the figures and Table 1
    (summary.smk, included last, takes them as REPORT_PRODUCTS)."""
    products = sorted({str(f) for r in workflow.rules for f in r.output if is_flagged(f, "report")})
    templated = [f for f in products if "{" in f]
    if templated:
        raise ValueError(f"report() outputs with wildcards are not summarised yet: {templated}")
    return products


def checked_report_products(wildcards):
    """REPORT_PRODUCTS, after checking that no rule defined later added a report() output."""
    later = sorted(set(report_products()) - set(REPORT_PRODUCTS))
    if later:
        raise ValueError(
            f"report() outputs {later} have no provenance summary: include rules/summary.smk "
            "after every other rules file in the Snakefile"
        )
    return REPORT_PRODUCTS
