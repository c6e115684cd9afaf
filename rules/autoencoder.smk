# Autoencoders over 16×16 patterns, one job per bottleneck; AIC selection (Table 1),
# token-pair importance (Fig. 1) and the head embedding.


wildcard_constraints:
    bottleneck=r"\d+",


rule train_autoencoder:
    """One autoencoder per bottleneck (the second fan-out); CUDA when the job has a GPU."""
    input:
        patterns=attention_files(),
        heads="results/heads.tsv",
    output:
        model="results/autoencoder/k{bottleneck}/model.pt",
        metrics="results/autoencoder/k{bottleneck}/metrics.json",
        history="results/autoencoder/k{bottleneck}/history.tsv",
        codes="results/autoencoder/k{bottleneck}/codes.npy",
    log:
        "logs/autoencoder/k{bottleneck}.log",
    benchmark:
        "logs/benchmarks/train_autoencoder/k{bottleneck}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1  # tiny matrices: extra CPU threads only add contention (a GPU does the work)
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    params:
        bottleneck=lambda wc: int(wc.bottleneck),
        # only what shapes the training: changing the bottleneck list reruns no existing job
        settings=cfg(
            "autoencoder",
            only=("first_width", "epochs", "batch_size", "lr", "seed", "validation_fraction"),
        ),
        heads_per_model=HEADS_PER_MODEL,
    script:
        "../workflow/scripts/train_autoencoder.py"


rule select_autoencoder:
    """aic.tsv and Table 1: the paper's AIC and Gaussian AIC/BIC per bottleneck; the lowest of
    autoencoder.selection (default: the paper's) is selected."""
    input:
        metrics=autoencoder_files("metrics.json"),
    output:
        aic="results/autoencoder/aic.tsv",
        table=report(
            "results/figures/table1_aic.tsv",
            caption="../report/table1.rst",
            category="Autoencoder",
        ),
        markdown="results/figures/table1_aic.md",
    log:
        "logs/autoencoder/select.log",
    benchmark:
        "logs/benchmarks/select_autoencoder.tsv"
    conda:
        "../envs/torch.yaml"
    params:
        selection=cfg("autoencoder.selection"),
    script:
        "../workflow/scripts/select_autoencoder.py"


rule head_embedding:
    """Each head's codes from the selected autoencoder, over all prompts (concat or mean)."""
    input:
        aic="results/autoencoder/aic.tsv",
        codes=autoencoder_files("codes.npy"),
        heads="results/heads.tsv",
    output:
        "results/embedding/head_embedding.npy",
    log:
        "logs/autoencoder/head_embedding.log",
    benchmark:
        "logs/benchmarks/head_embedding.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        mem_mb=2000,
    params:
        bottlenecks=cfg("autoencoder.bottlenecks"),
        mode=cfg("autoencoder.head_embedding"),
    script:
        "../workflow/scripts/head_embedding.py"


rule pair_importance:
    """Fig. 1 data: MSE with each token pair replaced by noise; decoder output over a code grid."""
    input:
        aic="results/autoencoder/aic.tsv",
        models=autoencoder_files("model.pt"),
        patterns=attention_files(),
    output:
        importance="results/autoencoder/pair_importance.tsv",
        grid="results/autoencoder/decoded_grid.tsv",
    log:
        "logs/autoencoder/pair_importance.log",
    benchmark:
        "logs/benchmarks/pair_importance.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1  # tiny matrices: extra CPU threads only add contention (a GPU does the work)
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        bottlenecks=cfg("autoencoder.bottlenecks"),
        perturbation=cfg("autoencoder.perturbation"),
        heads_per_model=HEADS_PER_MODEL,
    script:
        "../workflow/scripts/pair_importance.py"


rule plot_fig01:
    input:
        importance="results/autoencoder/pair_importance.tsv",
        grid="results/autoencoder/decoded_grid.tsv",
        aic="results/autoencoder/aic.tsv",
    output:
        report(
            "results/figures/fig01_decoded_token_pairs.png",
            caption="../report/fig01.rst",
            category="Autoencoder",
        ),
    log:
        "logs/figures/fig01.log",
    benchmark:
        "logs/benchmarks/plot_fig01.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        n_ctx=cfg("model.n_ctx"),
    script:
        "../workflow/scripts/plot_fig01.py"
