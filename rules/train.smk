rule train_model:
    """One model per seed (the fan-out). Uses CUDA when the job has a GPU, else CPU threads."""
    input:
        **{k: v for k, v in corpus_files().items() if k != "vocab"},
    output:
        model="results/models/seed{seed}/model.pt",
        steps="results/models/seed{seed}/steps.tsv",
        epochs="results/models/seed{seed}/epochs.tsv",
    params:
        model=cfg("model"),
        train=cfg("train"),
        # not an output: it must survive a killed job so the rerun resumes from it
        checkpoint=lambda wc: f"results/checkpoints/seed{wc.seed}.pt",
    threads: 4
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 120 * attempt,
    log:
        "logs/train/seed{seed}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/train_model.py"


FINAL_OUTPUTS.extend(expand("results/models/seed{seed}/model.pt", seed=SEEDS))
