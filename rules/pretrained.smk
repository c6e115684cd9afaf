# A published family of seed variants (models.source: pretrained) instead of training:
# fetch each model once on the login node (localrule: clusters give it internet), then
# every compute job reads the Hugging Face cache offline. See docs/pretrained.md.
import re

from phrenology.models.pretrained import entries_from_config

ENTRIES = {e.name: e for e in entries_from_config(config)}
FIRST = next(iter(ENTRIES))  # its tokenizer makes the prompts; every model must share it
ENTRY_PARAMS = [e.as_params() for e in ENTRIES.values()]  # in model order
# the held-out split in the family's tokens (Fig. 14's knockout windows are drawn from it)
FAMILY_HELDOUT = {
    "tokens": "results/corpus/family_heldout_tokens.npy",
    "offsets": "results/corpus/family_heldout_offsets.npy",
}


localrules:
    fetch_model,


wildcard_constraints:
    model="|".join(re.escape(n) for n in ENTRIES),


# The family's own prompts, heads.tsv with its model names: these win over the trained path's.
ruleorder: sample_pretrained_prompts > sample_prompts
ruleorder: pretrained_heads_table > heads_table


rule fetch_model:
    """Download one model into the Hugging Face cache (needs internet; a local folder is only
    recorded). The record names the commit, so a moving branch shows up as a new input."""
    output:
        "results/pretrained/{model}/fetch.json",
    log:
        "logs/pretrained/fetch_{model}.log",
    benchmark:
        "logs/benchmarks/fetch_model/{model}.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        entry=lambda wc: ENTRIES[wc.model].as_params(),
    script:
        "../workflow/scripts/fetch_model.py"


rule sample_pretrained_prompts:
    """The analysis prompts in the family's own tokens: the held-out Brown windows of n_ctx
    tokens, drawn as for trained models (same split, same sentence starts); and that held-out
    split as a token stream, as prepare_corpus writes it for trained models."""
    input:
        fetched=f"results/pretrained/{FIRST}/fetch.json",
    output:
        npy="results/corpus/prompts.npy",
        parquet="results/corpus/prompts.parquet",
        tokenizer="results/corpus/prompts_tokenizer.json",
        heldout_tokens=FAMILY_HELDOUT["tokens"],
        heldout_offsets=FAMILY_HELDOUT["offsets"],
    log:
        "logs/pretrained/sample_prompts.log",
    benchmark:
        "logs/benchmarks/sample_pretrained_prompts.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        entry=cfg("models.entries", combine=lambda _: ENTRIES[FIRST].as_params()),
        corpus=cfg("corpus", only=("name", "train_fraction")),
        n_prompts=cfg("capture.n_prompts"),
        n_ctx=cfg("model.n_ctx"),
        seed=cfg("capture.prompt_seed"),
    script:
        "../workflow/scripts/sample_pretrained_prompts.py"


rule capture_pretrained:
    """Every head's attention pattern of one pretrained model on the shared prompts (offline)."""
    input:
        fetched="results/pretrained/{model}/fetch.json",
        prompts="results/corpus/prompts.npy",
        tokenizer="results/corpus/prompts_tokenizer.json",
    output:
        "results/attention/{model}.npy",
    log:
        "logs/capture/{model}.log",
    benchmark:
        "logs/benchmarks/capture_pretrained/{model}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        entry=lambda wc: ENTRIES[wc.model].as_params(),
        batch_size=cfg("capture.batch_size"),
        dtype=cfg("capture", combine=lambda capture: capture.get("dtype", "float32")),
        n_layers=cfg("model.n_layers"),
        n_heads=cfg("model.n_heads"),
    script:
        "../workflow/scripts/capture_pretrained.py"


rule pretrained_heads_table:
    """heads.tsv with a model column: head_index, seed (the model's position), layer, head, model."""
    output:
        "results/heads.tsv",
    log:
        "logs/heads_table.log",
    benchmark:
        "logs/benchmarks/pretrained_heads_table.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seeds=cfg("models.entries", combine=lambda _: SEEDS),
        models=cfg("models.entries", combine=lambda _: MODEL_NAMES),
        n_layers=cfg("model.n_layers"),
        n_heads=cfg("model.n_heads"),
    script:
        "../workflow/scripts/write_heads.py"
