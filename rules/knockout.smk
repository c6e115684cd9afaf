# Head knockout (zeroing hook_z): paper Figs. 12–14.
#
# Fig. 14 is one fan-in job over all models rather than a fan-out per model: every entry of the
# heads × heads Gram matrix pairs the knockout effects of two heads (often of two models) on the
# same prompts, so a per-model job would have to write each head's n_prompts × d_vocab vector to
# disk (~1 GB at paper size) for a second job to read back. With all models in memory (~1 GB at
# paper size) the whole job is 9 × (1 + 8) forward passes per prompt batch: seconds on a GPU.

KNOCKOUT = config["knockout"]
KNOCKOUT_MODELS = expand("results/models/seed{seed}/model.pt", seed=SEEDS)
CLUSTERS = (
    "results/clustering/clusters.tsv"  # clustering.smk: head_index, seed, layer, head, cluster
)


if PRETRAINED:  # a family: Fig. 14 only (Figs. 12-13 need a prompt in the trained vocabulary)

    rule knockout_pca:
        """Fig. 14 data for a pretrained family: every head of every layer of every member
        knocked out (batched on the device), on held-out windows in the family's tokens."""
        input:
            fetched=expand("results/pretrained/{model}/fetch.json", model=MODEL_NAMES),
            tokens=FAMILY_HELDOUT["tokens"],
            offsets=FAMILY_HELDOUT["offsets"],
            heads="results/heads.tsv",
            clusters=CLUSTERS,
        output:
            table="results/knockout/knockout_pca.tsv",
            meta="results/knockout/knockout_pca.json",
            gram="results/knockout/knockout_gram.npy",
            prompts="results/knockout/knockout_prompts.npy",
        log:
            "logs/knockout/pca.log",
        benchmark:
            "logs/benchmarks/knockout_pca.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 2
        resources:
            gpu=1,
            # every member at once (Gram entries pair heads of two models): float32 weights
            # of 9 pythia-160m models are 5.9 GB, plus one 1 GB batch of changes
            mem_mb=lambda wc, attempt: 16000 * attempt,
            runtime=lambda wc, attempt: 60 * attempt,
        params:
            seeds=SEEDS_PARAM,
            entries=cfg("models.entries", combine=lambda _: ENTRY_PARAMS),
            n_layers=cfg("model.n_layers"),
            n_heads=cfg("model.n_heads"),
            n_ctx=cfg("model.n_ctx"),
            n_prompts=cfg("knockout.n_prompts"),
            prompt_seed=cfg("knockout.prompt_seed"),
            batch_size=cfg("knockout.batch_size"),
        script:
            "../workflow/scripts/knockout_pca.py"

else:

    rule knockout_single_head:
        """Fig. 12 data: one head of one model knocked out on the configured prompt."""
        input:
            model=f"results/models/seed{KNOCKOUT['model_seed']}/model.pt",
            vocab=corpus_files()["vocab"],
        output:
            table="results/knockout/single_head.tsv",
            meta="results/knockout/single_head.json",
        log:
            "logs/knockout/single_head.log",
        benchmark:
            "logs/benchmarks/knockout_single_head.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 1  # one prompt: the work is loading the model
        resources:
            gpu=1,
            mem_mb=lambda wc, attempt: 4000 * attempt,
            runtime=lambda wc, attempt: 20 * attempt,
        params:
            prompt=cfg("knockout.prompt"),
            tokenizer=cfg("corpus.tokenizer"),
            seed=cfg("knockout.model_seed"),
            layer=cfg("knockout.layer"),
            head=cfg("knockout.head"),
        script:
            "../workflow/scripts/knockout_single_head.py"

    rule knockout_cluster:
        """Fig. 13 data: every head of one attention cluster knocked out on the configured prompt."""
        input:
            models=KNOCKOUT_MODELS,
            vocab=corpus_files()["vocab"],
            heads="results/heads.tsv",
            clusters=CLUSTERS,
        output:
            table="results/knockout/cluster_heads.parquet",
            meta="results/knockout/cluster_heads.json",
        log:
            "logs/knockout/cluster.log",
        benchmark:
            "logs/benchmarks/knockout_cluster.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 1  # one prompt: the work is loading the model
        resources:
            gpu=1,
            mem_mb=lambda wc, attempt: 4000 * attempt,
            runtime=lambda wc, attempt: 20 * attempt,
        params:
            seeds=cfg("seeds"),
            prompt=cfg("knockout.prompt"),
            tokenizer=cfg("corpus.tokenizer"),
            cluster=cfg("knockout.cluster"),
            seed=cfg("knockout.model_seed"),
            layer=cfg("knockout.layer"),
            head=cfg("knockout.head"),
        script:
            "../workflow/scripts/knockout_cluster.py"

    rule knockout_pca:
        """Fig. 14 data: every head's change in next-token probabilities on held-out prompts, PCA."""
        input:
            models=KNOCKOUT_MODELS,
            tokens=corpus_files()["heldout_tokens"],
            offsets=corpus_files()["heldout_offsets"],
            heads="results/heads.tsv",
            clusters=CLUSTERS,
        output:
            table="results/knockout/knockout_pca.tsv",
            meta="results/knockout/knockout_pca.json",
            gram="results/knockout/knockout_gram.npy",  # heads × heads, uncentred
            prompts="results/knockout/knockout_prompts.npy",  # the held-out windows used
        log:
            "logs/knockout/pca.log",
        benchmark:
            "logs/benchmarks/knockout_pca.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 2
        resources:
            gpu=1,
            mem_mb=lambda wc, attempt: 8000 * attempt,
            runtime=lambda wc, attempt: 20 * attempt,
        params:
            seeds=cfg("seeds"),
            n_prompts=cfg("knockout.n_prompts"),
            prompt_seed=cfg("knockout.prompt_seed"),
            batch_size=cfg("knockout.batch_size"),
        script:
            "../workflow/scripts/knockout_pca.py"

    rule knockout_positions:
        """Fig. 12b data: the Fig. 12 head knocked out on the Fig. 12 prompt, at every position."""
        input:
            model=f"results/models/seed{KNOCKOUT['model_seed']}/model.pt",
            vocab=corpus_files()["vocab"],
        output:
            table="results/knockout/positions.parquet",
            effects="results/knockout/positions.tsv",
            meta="results/knockout/positions.json",
        log:
            "logs/knockout/positions.log",
        benchmark:
            "logs/benchmarks/knockout_positions.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 1  # one prompt: the work is loading the model
        resources:
            gpu=1,
            mem_mb=lambda wc, attempt: 4000 * attempt,
            runtime=lambda wc, attempt: 20 * attempt,
        params:
            prompt=cfg("knockout.prompt"),
            tokenizer=cfg("corpus.tokenizer"),
            seed=cfg("knockout.model_seed"),
            layer=cfg("knockout.layer"),
            head=cfg("knockout.head"),
        script:
            "../workflow/scripts/knockout_positions.py"

    rule knockout_compare:
        """Fig. 12c data: the two heads of knockout.compare (two models), every position."""
        input:
            models=[f"results/models/seed{c['model_seed']}/model.pt" for c in KNOCKOUT["compare"]],
            vocab=corpus_files()["vocab"],
        output:
            table="results/knockout/compare.parquet",
            effects="results/knockout/compare.tsv",
            meta="results/knockout/compare.json",
        log:
            "logs/knockout/compare.log",
        benchmark:
            "logs/benchmarks/knockout_compare.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 1
        resources:
            gpu=1,
            mem_mb=lambda wc, attempt: 4000 * attempt,
            runtime=lambda wc, attempt: 20 * attempt,
        params:
            prompt=cfg("knockout.prompt"),
            tokenizer=cfg("corpus.tokenizer"),
            compare=cfg("knockout.compare"),
        script:
            "../workflow/scripts/knockout_compare.py"

    rule plot_knockout_positions:
        input:
            # str(): an input named through rules.<name> makes Snakemake schedule that rule even
            # under --allowed-rules, i.e. inside another DVC stage (tests/workflow/test_dvc.py)
            table=str(rules.knockout_positions.output.table),
            effects=str(rules.knockout_positions.output.effects),
            meta=str(rules.knockout_positions.output.meta),
        output:
            report(
                "results/figures/fig12b_knockout_positions.png",
                caption="../report/fig12b.rst",
                category="Knockout",
            ),
        log:
            "logs/figures/fig12b.log",
        benchmark:
            "logs/benchmarks/plot_knockout_positions.tsv"
        conda:
            "../envs/analysis.yaml"
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            n_labels=cfg("knockout.n_labels"),
        script:
            "../workflow/scripts/plot_knockout_positions.py"

    rule plot_knockout_compare:
        input:
            table=str(rules.knockout_compare.output.table),
            effects=str(rules.knockout_compare.output.effects),
            meta=str(rules.knockout_compare.output.meta),
        output:
            report(
                "results/figures/fig12c_knockout_compare.png",
                caption="../report/fig12c.rst",
                category="Knockout",
            ),
        log:
            "logs/figures/fig12c.log",
        benchmark:
            "logs/benchmarks/plot_knockout_compare.tsv"
        conda:
            "../envs/analysis.yaml"
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            n_labels=cfg("knockout.n_labels"),
        script:
            "../workflow/scripts/plot_knockout_compare.py"

    rule plot_knockout_single:
        input:
            table=str(rules.knockout_single_head.output.table),
            meta=str(rules.knockout_single_head.output.meta),
        output:
            report(
                "results/figures/fig12_knockout_single.png",
                caption="../report/fig12.rst",
                category="Knockout",
            ),
        log:
            "logs/figures/fig12.log",
        benchmark:
            "logs/benchmarks/plot_knockout_single.tsv"
        conda:
            "../envs/analysis.yaml"
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            n_labels=cfg("knockout.n_labels"),
        script:
            "../workflow/scripts/plot_knockout_single.py"

    rule plot_knockout_cluster:
        input:
            table=str(rules.knockout_cluster.output.table),
            meta=str(rules.knockout_cluster.output.meta),
        output:
            report(
                "results/figures/fig13_knockout_cluster.png",
                caption="../report/fig13.rst",
                category="Knockout",
            ),
        log:
            "logs/figures/fig13.log",
        benchmark:
            "logs/benchmarks/plot_knockout_cluster.tsv"
        conda:
            "../envs/analysis.yaml"
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            n_labels=cfg("knockout.n_labels"),
        script:
            "../workflow/scripts/plot_knockout_cluster.py"


rule plot_knockout_pca:
    input:
        table=str(rules.knockout_pca.output.table),
        meta=str(rules.knockout_pca.output.meta),
    output:
        report(
            "results/figures/fig14_knockout_pca.png",
            caption="../report/fig14.rst",
            category="Knockout",
        ),
    log:
        "logs/figures/fig14.log",
    benchmark:
        "logs/benchmarks/plot_knockout_pca.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow/scripts/plot_knockout_pca.py"
