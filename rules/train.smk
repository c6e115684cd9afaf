rule train_model:
    """One model per seed (the fan-out). Uses CUDA when the job has a GPU, else CPU threads."""
    input:
        **{k: v for k, v in corpus_files().items() if k != "vocab"},
    output:
        model="results/models/seed{seed}/model.pt",
        steps="results/models/seed{seed}/steps.tsv",
        epochs="results/models/seed{seed}/epochs.tsv",
    log:
        "logs/train/seed{seed}.log",
    benchmark:
        "logs/benchmarks/train_model/seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 120 * attempt,
    params:
        model=cfg("model"),
        train=cfg("train"),
        # not an output: it must survive a killed job so the rerun resumes from it
        checkpoint=lambda wc: f"results/checkpoints/seed{wc.seed}.pt",
    script:
        "../workflow/scripts/train_model.py"
