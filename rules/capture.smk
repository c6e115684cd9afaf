rule capture_attention:
    """Every head's attention pattern on the shared prompts; stops before the unembedding."""
    input:
        model="results/models/seed{seed}/model.pt",
        prompts="results/corpus/prompts.npy",
    output:
        "results/attention/seed{seed}.npy",
    log:
        "logs/capture/seed{seed}.log",
    benchmark:
        "logs/benchmarks/capture_attention/seed{seed}.tsv"
    priority: 1  # the critical path after training (train.smk): every analysis waits for it
    conda:
        "../envs/torch.yaml"
    # one thread: on a CPU the job's time is loading TransformerLens, not the forward pass (a
    # quick model's 128 prompts: 0.1 s), so two captures run side by side on two cores. The
    # attention bits are those of 2 threads (compared on the quick config's models: identical)
    threads: 1
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        batch_size=cfg("capture.batch_size"),
    script:
        "../workflow/scripts/capture_attention.py"


rule heads_table:
    """heads.tsv: head_index, seed, layer, head — the order of every head axis downstream."""
    output:
        "results/heads.tsv",
    log:
        "logs/heads_table.log",
    benchmark:
        "logs/benchmarks/heads_table.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seeds=SEEDS_PARAM,
        n_layers=cfg("model.n_layers"),
        n_heads=cfg("model.n_heads"),
    script:
        "../workflow/scripts/write_heads.py"
