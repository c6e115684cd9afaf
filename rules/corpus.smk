rule prepare_corpus:
    """Brown sentences → token streams per split (train / held out) and the model vocabulary."""
    output:
        **corpus_files(),
    params:
        corpus=cfg("corpus"),
    log:
        "logs/prepare_corpus.log",
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/prepare_corpus.py"


rule sample_prompts:
    """The analysis prompts: held-out windows of n_ctx tokens, the same for every model."""
    input:
        tokens=corpus_files()["heldout_tokens"],
        offsets=corpus_files()["heldout_offsets"],
        vocab=corpus_files()["vocab"],
    output:
        npy="results/corpus/prompts.npy",
        parquet="results/corpus/prompts.parquet",
    params:
        n_prompts=cfg("capture.n_prompts"),
        n_ctx=cfg("model.n_ctx"),
        seed=cfg("capture.prompt_seed"),
    log:
        "logs/sample_prompts.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/sample_prompts.py"


FINAL_OUTPUTS.append("results/corpus/prompts.parquet")
