from phrenology.pipeline.config import seed_groups

MODELS_PER_JOB = config["train"].get("models_per_job", 1)


if MODELS_PER_JOB == 1:

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
        # the critical path (corpus → training → capture → everything else): run first among
        # the jobs ready, not after knockouts that only one model's figures need; more than
        # the captures of two finished models together (the scheduler sums the priorities of
        # the jobs it starts at once)
        priority: 10
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

else:
    # Batched training: each job trains G seeds together, their weights stacked, and writes the
    # same per-seed files as train_model would (docs/batched.md). One rule per group: a rule's
    # outputs cannot vary in number with a wildcard, and every group's outputs are per-seed paths.
    for _index, _group in enumerate(seed_groups(SEEDS, MODELS_PER_JOB)):

        rule:
            """G seeds trained together, weights stacked (train.models_per_job); per-seed files as train_model."""
            name:
                f"train_group_{_index}"
            input:
                **{k: v for k, v in corpus_files().items() if k != "vocab"},
            output:
                model=expand("results/models/seed{seed}/model.pt", seed=_group),
                steps=expand("results/models/seed{seed}/steps.tsv", seed=_group),
                epochs=expand("results/models/seed{seed}/epochs.tsv", seed=_group),
            log:
                f"logs/train/group{_index}.log",
            benchmark:
                f"logs/benchmarks/train_group/{_index}.tsv"
            priority: 10  # the critical path, as train_model
            conda:
                "../envs/torch.yaml"
            threads: 4
            resources:
                gpu=1,
                mem_mb=lambda wc, attempt, n=len(_group): (4000 + 4000 * n) * attempt,
                runtime=lambda wc, attempt, n=len(_group): 120 * n * attempt,
            params:
                model=cfg("model"),
                train=cfg("train"),
                # a slice of the seeds (train.models_per_job is in train)
                group_seeds=cfg("seeds", combine=lambda s, g=_group: list(g)),
                # not outputs: they must survive a killed job so the rerun resumes from them
                checkpoints=lambda wc, g=_group: [f"results/checkpoints/seed{s}.pt" for s in g],
            script:
                "../workflow/scripts/train_group.py"
