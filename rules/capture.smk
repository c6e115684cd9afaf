rule capture_attention:
    """Every head's attention pattern on the shared prompts; stops before the unembedding."""
    input:
        model="results/models/seed{seed}/model.pt",
        prompts="results/corpus/prompts.npy",
    output:
        "results/attention/seed{seed}.npy",
    params:
        batch_size=cfg("capture.batch_size"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    log:
        "logs/capture/seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/capture_attention.py"


rule heads_table:
    """heads.tsv: head_index, seed, layer, head — the order of every head axis downstream."""
    output:
        "results/heads.tsv",
    params:
        seeds=cfg("seeds"),
        n_layers=cfg("model.n_layers"),
        n_heads=cfg("model.n_heads"),
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        "logs/heads_table.log",
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/write_heads.py"


FINAL_OUTPUTS.extend([*attention_files(), "results/heads.tsv"])
