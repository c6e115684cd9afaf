rule prepare_corpus:
    """Brown sentences → token streams per split (train / held out) and the model vocabulary."""
    output:
        **corpus_files(),
    log:
        "logs/prepare_corpus.log",
    benchmark:
        "logs/benchmarks/prepare_corpus.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        corpus=cfg("corpus"),
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
    log:
        "logs/sample_prompts.log",
    benchmark:
        "logs/benchmarks/sample_prompts.tsv"
    priority: 20  # half a second, and every capture waits for it (the critical path: train.smk)
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_prompts=cfg("capture.n_prompts"),
        n_ctx=cfg("model.n_ctx"),
        seed=cfg("capture.prompt_seed"),
    script:
        "../workflow/scripts/sample_prompts.py"
