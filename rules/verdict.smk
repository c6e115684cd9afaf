# The verdict (issue 12): are these really the same heads across models? Nulls for the
# clustering score (label permutation; untrained models through the same path), one-to-one
# matching and head families, bootstrap stability, attention versus knockout effect and
# archetypes, summarised in results/verdict/. Every random choice from config `statistics`.
UNTRAINED = "results/untrained"
VERDICT = "results/verdict"
STABILITY = config["statistics"]["stability"]
VERDICT_CHUNKS = list(range(min(STABILITY["n_chunks"], STABILITY["n_bootstrap"])))
# the autoencoder settings that shape training (as train_autoencoder's)
AE_SETTINGS = ("first_width", "epochs", "batch_size", "lr", "seed", "validation_fraction")


# ---------------------------------------------------------------- the untrained baseline


if PRETRAINED:

    rule untrained_baseline:
        """A pretrained family's untrained baseline: each member's architecture freshly
        initialised (Hugging Face's init, torch seed from statistics.seed and the model's
        position), captured on the family's prompts, and one autoencoder at the selected
        bottleneck with the same settings → the untrained head embedding. Weights are not
        kept (a seed away; untrained/models.json names the seeds)."""
        input:
            fetched=expand("results/pretrained/{model}/fetch.json", model=MODEL_NAMES),
            prompts="results/corpus/prompts.npy",
            aic="results/autoencoder/aic.tsv",
            heads="results/heads.tsv",
        output:
            models=f"{UNTRAINED}/models.json",
            attention=untrained_attention_files(),
            metrics=f"{UNTRAINED}/autoencoder/metrics.json",
            codes=f"{UNTRAINED}/autoencoder/codes.npy",
            embedding=f"{UNTRAINED}/embedding/head_embedding.npy",
        log:
            "logs/untrained/baseline.log",
        benchmark:
            "logs/benchmarks/untrained_baseline.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 1
        resources:
            gpu=1,
            mem_mb=lambda wc, input, attempt: int(8000 + 3 * input.size_mb) * attempt,
            runtime=lambda wc, attempt: 60 * attempt,
        params:
            entries=cfg("models.entries", combine=lambda _: ENTRY_PARAMS),
            seed=cfg("statistics.seed"),
            n_layers=cfg("model.n_layers"),
            n_heads=cfg("model.n_heads"),
            batch_size=cfg("capture.batch_size"),
            dtype=cfg("capture", combine=lambda capture: capture.get("dtype", "float32")),
            settings=cfg("autoencoder", only=AE_SETTINGS),
            mode=cfg("autoencoder.head_embedding"),
        script:
            "../workflow/scripts/verdict_untrained_pretrained.py"

else:

    rule untrained_baseline:
        """Each seed's model at initialisation (exactly the init train_model starts from, no
        training step), its patterns on the same prompts, and one autoencoder at the selected
        bottleneck with the same settings → the untrained head embedding. One job: seconds of
        work each, and one torch/TransformerLens start-up instead of seven."""
        input:
            manifest=corpus_files()["manifest"],
            prompts="results/corpus/prompts.npy",
            aic="results/autoencoder/aic.tsv",
            heads="results/heads.tsv",
        output:
            models=expand(f"{UNTRAINED}/models/seed{{seed}}/model.pt", seed=SEEDS),
            attention=untrained_attention_files(),
            metrics=f"{UNTRAINED}/autoencoder/metrics.json",
            codes=f"{UNTRAINED}/autoencoder/codes.npy",
            embedding=f"{UNTRAINED}/embedding/head_embedding.npy",
        log:
            "logs/untrained/baseline.log",
        benchmark:
            "logs/benchmarks/untrained_baseline.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 1
        resources:
            gpu=1,
            mem_mb=lambda wc, attempt: 4000 * attempt,
            runtime=lambda wc, attempt: 60 * attempt,
        params:
            seeds=cfg("seeds"),
            model=cfg("model"),
            batch_size=cfg("capture.batch_size"),
            settings=cfg("autoencoder", only=AE_SETTINGS),
            mode=cfg("autoencoder.head_embedding"),
        script:
            "../workflow/scripts/verdict_untrained.py"


rule untrained_knn_graph:
    """knn_graph's script on the untrained embedding."""
    input:
        f"{UNTRAINED}/embedding/head_embedding.npy",
    output:
        distances=f"{UNTRAINED}/clustering/embedding_distances.npy",
        edges=f"{UNTRAINED}/clustering/knn_edges.tsv",
    log:
        "logs/untrained/knn_graph.log",
    benchmark:
        "logs/benchmarks/untrained_knn_graph.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        k=cfg("clustering.k"),
        edge_weights=cfg("clustering.edge_weights"),
    script:
        "../workflow/scripts/knn_graph.py"


rule untrained_leiden_sweep:
    """leiden_sweep's script (the same γ draws and seed) on the untrained graph."""
    input:
        distances=f"{UNTRAINED}/clustering/embedding_distances.npy",
        edges=f"{UNTRAINED}/clustering/knn_edges.tsv",
        heads="results/heads.tsv",
    output:
        sweep=f"{UNTRAINED}/clustering/gamma_sweep.tsv",
        memberships=f"{UNTRAINED}/clustering/memberships.npy",
        clusters=f"{UNTRAINED}/clustering/clusters.tsv",
    log:
        "logs/untrained/leiden_sweep.log",
    benchmark:
        "logs/benchmarks/untrained_leiden_sweep.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        n_gamma=cfg("clustering.n_gamma"),
        gamma_range=cfg("clustering.gamma_range"),
        n_iterations=cfg("clustering.n_iterations"),
        seed=cfg("clustering.seed"),
    script:
        "../workflow/scripts/leiden_sweep.py"


rule untrained_attention_distance:
    """attention_distance's script on the untrained patterns (raw-pattern matching null)."""
    input:
        attention=untrained_attention_files(),
        heads="results/heads.tsv",
    output:
        f"{UNTRAINED}/distance/attention_distance.npy",
    log:
        "logs/untrained/attention_distance.log",
    benchmark:
        "logs/benchmarks/untrained_attention_distance.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=lambda wc, input, attempt: int(1000 + 6 * input.size_mb) * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        **HEADS_PARAMS,
    script:
        "../workflow/scripts/attention_distance.py"


# ---------------------------------------------------------------- the statistics


rule verdict_null:
    """Best F over every γ against its label-permutation null, trained and untrained."""
    input:
        heads="results/heads.tsv",
        memberships="results/clustering/memberships.npy",
        untrained=f"{UNTRAINED}/clustering/memberships.npy",
    output:
        summary=f"{VERDICT}/null.json",
        null=f"{VERDICT}/null_f.tsv",
    log:
        "logs/verdict/null.log",
    benchmark:
        "logs/benchmarks/verdict_null.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_permutations=cfg("statistics.n_permutations"),
        seed=cfg("statistics.seed"),
    script:
        "../workflow/scripts/verdict_null.py"


rule verdict_matching:
    """One-to-one head matching between every pair of models, head families, their nulls."""
    input:
        heads="results/heads.tsv",
        raw="results/distance/attention_distance.npy",
        embedding="results/clustering/embedding_distances.npy",
        untrained_raw=f"{UNTRAINED}/distance/attention_distance.npy",
        untrained_embedding=f"{UNTRAINED}/clustering/embedding_distances.npy",
    output:
        summary=f"{VERDICT}/matching.json",
        partners=f"{VERDICT}/matching_heads.tsv",
        families=f"{VERDICT}/families.tsv",
    log:
        "logs/verdict/matching.log",
    benchmark:
        "logs/benchmarks/verdict_matching.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        n_permutations=cfg("statistics.n_permutations"),
        seed=cfg("statistics.seed"),
        matching=cfg("statistics.matching"),
    script:
        "../workflow/scripts/verdict_matching.py"


rule verdict_bootstrap:
    """One chunk of the prompt-bootstrap replicates: codes of resampled prompts → embedding →
    kNN → Leiden at the selected γ."""
    input:
        aic="results/autoencoder/aic.tsv",
        codes=autoencoder_files("codes.npy"),
        heads="results/heads.tsv",
        sweep="results/clustering/gamma_sweep.tsv",
    output:
        f"{VERDICT}/bootstrap/chunk{{chunk}}.npy",
    log:
        "logs/verdict/bootstrap_chunk{chunk}.log",
    benchmark:
        "logs/benchmarks/verdict_bootstrap/{chunk}.tsv"
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=lambda wc, input, attempt: int(1000 + 3 * input.size_mb) * attempt,
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        bottlenecks=cfg("autoencoder.bottlenecks"),
        mode=cfg("autoencoder.head_embedding"),
        k=cfg("clustering.k"),
        edge_weights=cfg("clustering.edge_weights"),
        n_iterations=cfg("clustering.n_iterations"),
        leiden_seed=cfg("clustering.seed"),
        seed=cfg("statistics.seed"),
        n_bootstrap=cfg("statistics.stability.n_bootstrap"),
        n_chunks=cfg(
            "statistics.stability.n_chunks", "statistics.stability.n_bootstrap", combine=min
        ),
    script:
        "../workflow/scripts/verdict_bootstrap.py"


rule verdict_stability:
    """Consensus matrix, ARI per replicate, per-cluster best-match Jaccard (bootstrap, seeds)."""
    input:
        chunks=expand(f"{VERDICT}/bootstrap/chunk{{chunk}}.npy", chunk=VERDICT_CHUNKS),
        embedding="results/embedding/head_embedding.npy",
        clusters="results/clustering/clusters.tsv",
        sweep="results/clustering/gamma_sweep.tsv",
    output:
        summary=f"{VERDICT}/stability.json",
        consensus=f"{VERDICT}/consensus.npy",
        table=f"{VERDICT}/cluster_stability.tsv",
    log:
        "logs/verdict/stability.log",
    benchmark:
        "logs/benchmarks/verdict_stability.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        k=cfg("clustering.k"),
        edge_weights=cfg("clustering.edge_weights"),
        n_iterations=cfg("clustering.n_iterations"),
        leiden_seed=cfg("clustering.seed"),
        n_leiden_seeds=cfg("statistics.stability.n_leiden_seeds"),
    script:
        "../workflow/scripts/verdict_stability.py"


rule verdict_association:
    """Mantel test (attention embedding vs knockout effect distances) and cluster ARI."""
    input:
        heads="results/heads.tsv",
        distances="results/clustering/embedding_distances.npy",
        gram="results/knockout/knockout_gram.npy",
        clusters="results/clustering/clusters.tsv",
    output:
        summary=f"{VERDICT}/association.json",
        clusters=f"{VERDICT}/knockout_clusters.tsv",
    log:
        "logs/verdict/association.log",
    benchmark:
        "logs/benchmarks/verdict_association.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_permutations=cfg("statistics.n_permutations"),
        seed=cfg("statistics.seed"),
    script:
        "../workflow/scripts/verdict_association.py"


rule verdict_archetypes:
    """Template scores per head; artificial heads' distance to every cluster centroid."""
    input:
        attention=attention_files(),
        heads="results/heads.tsv",
        clusters="results/clustering/clusters.tsv",
    output:
        heads=f"{VERDICT}/head_archetypes.tsv",
        clusters=f"{VERDICT}/cluster_archetypes.tsv",
    log:
        "logs/verdict/archetypes.log",
    benchmark:
        "logs/benchmarks/verdict_archetypes.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=lambda wc, input, attempt: int(1000 + 3 * input.size_mb) * attempt,
        runtime=10,
    params:
        **HEADS_PARAMS,
        threshold=cfg("statistics.archetypes.threshold"),
    script:
        "../workflow/scripts/verdict_archetypes.py"


rule verdict_summary:
    """summary.json, clusters.tsv and the plain-language verdict (report/verdict_*.rst)."""
    input:
        clusters="results/clustering/clusters.tsv",
        sweep="results/clustering/gamma_sweep.tsv",
        untrained_sweep=f"{UNTRAINED}/clustering/gamma_sweep.tsv",
        # str(): an input named through rules.<name> makes Snakemake schedule that rule even
        # under --allowed-rules, i.e. inside another DVC stage (tests/workflow/test_dvc.py)
        null=str(rules.verdict_null.output.summary),
        matching=str(rules.verdict_matching.output.summary),
        families=str(rules.verdict_matching.output.families),
        stability=str(rules.verdict_stability.output.summary),
        cluster_stability=str(rules.verdict_stability.output.table),
        association=str(rules.verdict_association.output.summary),
        archetypes=str(rules.verdict_archetypes.output.clusters),
    output:
        summary=f"{VERDICT}/summary.json",
        clusters=f"{VERDICT}/clusters.tsv",
        text=f"{VERDICT}/verdict.rst",
    log:
        "logs/verdict/summary.log",
    benchmark:
        "logs/benchmarks/verdict_summary.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        # a pretrained family's untrained baseline is a fresh init (the text says so)
        **({"family": cfg("models.source")} if PRETRAINED else {}),
        alpha=cfg("statistics.alpha"),
        matching=cfg("statistics.matching"),
        n_permutations=cfg("statistics.n_permutations"),
        seed=cfg("statistics.seed"),
    script:
        "../workflow/scripts/verdict_summary.py"


rule verdict_sensitivity:
    """The best F and its permutation p redone for every trained bottleneck × k in
    clustering.k + statistics.sensitivity.k_offsets × both edge weightings: does the answer
    depend on these choices?"""
    input:
        aic="results/autoencoder/aic.tsv",
        codes=autoencoder_files("codes.npy"),
        heads="results/heads.tsv",
    output:
        f"{VERDICT}/sensitivity.tsv",
    log:
        "logs/verdict/sensitivity.log",
    benchmark:
        "logs/benchmarks/verdict_sensitivity.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=lambda wc, input, attempt: int(1000 + 3 * input.size_mb) * attempt,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        bottlenecks=cfg("autoencoder.bottlenecks"),
        mode=cfg("autoencoder.head_embedding"),
        k=cfg("clustering.k"),
        k_offsets=cfg("statistics.sensitivity.k_offsets"),
        edge_weights=cfg("clustering.edge_weights"),
        gamma_range=cfg("clustering.gamma_range"),
        n_gamma=cfg(
            "statistics.sensitivity.n_gamma",
            "clustering.n_gamma",
            combine=lambda n, default: default if n is None else n,
        ),
        n_iterations=cfg("clustering.n_iterations"),
        leiden_seed=cfg("clustering.seed"),
        n_permutations=cfg("statistics.n_permutations"),
        seed=cfg("statistics.seed"),
    script:
        "../workflow/scripts/verdict_sensitivity.py"


# ---------------------------------------------------------------- figures


rule plot_verdict_null:
    input:
        null=str(rules.verdict_null.output.null),
        summary=str(rules.verdict_null.output.summary),
        text=str(rules.verdict_summary.output.text),
    output:
        report(
            "results/figures/verdict_null.png",
            caption="../report/verdict_null.rst",
            category="Verdict",
        ),
    log:
        "logs/figures/verdict_null.log",
    benchmark:
        "logs/benchmarks/plot_verdict_null.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_verdict_null.py"


rule plot_verdict_consensus:
    input:
        consensus=str(rules.verdict_stability.output.consensus),
        clusters="results/clustering/clusters.tsv",
        table=str(rules.verdict_summary.output.clusters),
    output:
        report(
            "results/figures/verdict_consensus.png",
            caption="../report/verdict_consensus.rst",
            category="Verdict",
        ),
    log:
        "logs/figures/verdict_consensus.log",
    benchmark:
        "logs/benchmarks/plot_verdict_consensus.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_verdict_consensus.py"


rule plot_verdict_matching:
    input:
        partners=str(rules.verdict_matching.output.partners),
        families=str(rules.verdict_matching.output.families),
        summary=str(rules.verdict_matching.output.summary),
        clusters="results/clustering/clusters.tsv",
    output:
        report(
            "results/figures/verdict_matching.png",
            caption="../report/verdict_matching.rst",
            category="Verdict",
        ),
    log:
        "logs/figures/verdict_matching.log",
    benchmark:
        "logs/benchmarks/plot_verdict_matching.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_verdict_matching.py"
