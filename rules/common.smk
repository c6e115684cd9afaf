# Shared set-up: config loading and validation, paths, helpers. Kept free of heavy
# imports: Snakemake parses this file for every invocation and every cluster job.
import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# Jobs import the package from this checkout, also on compute nodes and in conda envs.
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

# The corpus and the tokenizer are found by their standard loaders through these variables.
# Slurm jobs inherit this process's environment (the plugin submits with sbatch --export=ALL)
# but must not depend on the directory they start in: make relative entries absolute now,
# against Snakemake's working directory, before any job is submitted.
if os.environ.get("NLTK_DATA"):
    os.environ["NLTK_DATA"] = os.pathsep.join(
        os.path.abspath(p) for p in os.environ["NLTK_DATA"].split(os.pathsep) if p
    )
if os.environ.get("TIKTOKEN_CACHE_DIR"):
    os.environ["TIKTOKEN_CACHE_DIR"] = os.path.abspath(os.environ["TIKTOKEN_CACHE_DIR"])

from phrenology.pipeline.config import SCHEMA_PATH, validate_config


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# Concise first error naming the key (schema + cross-field checks), then Snakemake's own validation.
validate_config(config)
validate(config, schema=str(SCHEMA_PATH))


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
MODEL = config["model"]


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


# Each rules/*.smk file appends the final products it owns; `rule all` asks for all of them.
FINAL_OUTPUTS = []


def attention_files():
    """Per-model attention tensors in model order (= heads.tsv order when concatenated)."""
    return expand("results/attention/{name}.npy", name=MODEL_NAMES)
