# The verdict (issue 12): are these really the same heads across models? Nulls for the
# clustering score (label permutation; untrained models through the same path), one-to-one
# matching and head families, bootstrap stability, attention versus knockout effect and
# archetypes, summarised in results/verdict/. Every random choice from config `statistics`.
STATS = config["statistics"]
UNTRAINED = "results/untrained"
VERDICT = "results/verdict"
VERDICT_CHUNKS = list(range(min(STATS["stability"]["n_chunks"], STATS["stability"]["n_bootstrap"])))
AE_SETTINGS = {
    k: AE[k] for k in ("first_width", "epochs", "batch_size", "lr", "seed", "validation_fraction")
}
VERDICT_HEADS = {"seeds": SEEDS, "n_layers": MODEL["n_layers"], "n_heads": MODEL["n_heads"]}


def untrained_attention_files():
    return expand(f"{UNTRAINED}/attention/seed{{seed}}.npy", seed=SEEDS)


# ---------------------------------------------------------------- the untrained baseline


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
    params:
        seeds=SEEDS,
        model=MODEL,
        batch_size=config["capture"]["batch_size"],
        settings=AE_SETTINGS,
        mode=AE["head_embedding"],
    threads: 1
    resources:
        gpu=1,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
    log:
        "logs/untrained/baseline.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/verdict_untrained.py"


rule untrained_knn_graph:
    """knn_graph's script on the untrained embedding."""
    input:
        f"{UNTRAINED}/embedding/head_embedding.npy",
    output:
        distances=f"{UNTRAINED}/clustering/embedding_distances.npy",
        edges=f"{UNTRAINED}/clustering/knn_edges.tsv",
    params:
        k=CLUSTERING["k"],
        edge_weights=CLUSTERING["edge_weights"],
    log:
        "logs/untrained/knn_graph.log",
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
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
    params:
        n_gamma=CLUSTERING["n_gamma"],
        gamma_range=CLUSTERING["gamma_range"],
        n_iterations=CLUSTERING["n_iterations"],
        seed=CLUSTERING["seed"],
    log:
        "logs/untrained/leiden_sweep.log",
    resources:
        mem_mb=2000,
        runtime=lambda wc, attempt: 20 * attempt,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/leiden_sweep.py"


rule untrained_attention_distance:
    """attention_distance's script on the untrained patterns (raw-pattern matching null)."""
    input:
        attention=untrained_attention_files(),
        heads="results/heads.tsv",
    output:
        f"{UNTRAINED}/distance/attention_distance.npy",
    params:
        **VERDICT_HEADS,
    resources:
        mem_mb=lambda wc, input, attempt: int(1000 + 6 * input.size_mb) * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
    log:
        "logs/untrained/attention_distance.log",
    conda:
        "../envs/analysis.yaml"
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
    params:
        n_permutations=STATS["n_permutations"],
        seed=STATS["seed"],
    log:
        "logs/verdict/null.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
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
    params:
        n_permutations=STATS["n_permutations"],
        seed=STATS["seed"],
        matching=STATS["matching"],
    log:
        "logs/verdict/matching.log",
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/analysis.yaml"
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
    params:
        bottlenecks=BOTTLENECKS,
        mode=AE["head_embedding"],
        k=CLUSTERING["k"],
        edge_weights=CLUSTERING["edge_weights"],
        n_iterations=CLUSTERING["n_iterations"],
        leiden_seed=CLUSTERING["seed"],
        seed=STATS["seed"],
        n_bootstrap=STATS["stability"]["n_bootstrap"],
        n_chunks=len(VERDICT_CHUNKS),
    wildcard_constraints:
        chunk=r"\d+",
    log:
        "logs/verdict/bootstrap_chunk{chunk}.log",
    resources:
        mem_mb=lambda wc, input, attempt: int(1000 + 3 * input.size_mb) * attempt,
        runtime=lambda wc, attempt: 20 * attempt,
    conda:
        "../envs/analysis.yaml"
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
    params:
        k=CLUSTERING["k"],
        edge_weights=CLUSTERING["edge_weights"],
        n_iterations=CLUSTERING["n_iterations"],
        leiden_seed=CLUSTERING["seed"],
        n_leiden_seeds=STATS["stability"]["n_leiden_seeds"],
    log:
        "logs/verdict/stability.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
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
    params:
        n_permutations=STATS["n_permutations"],
        seed=STATS["seed"],
    log:
        "logs/verdict/association.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
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
    params:
        **VERDICT_HEADS,
        threshold=STATS["archetypes"]["threshold"],
    log:
        "logs/verdict/archetypes.log",
    resources:
        mem_mb=lambda wc, input, attempt: int(1000 + 3 * input.size_mb) * attempt,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/verdict_archetypes.py"


rule verdict_summary:
    """summary.json, clusters.tsv and the plain-language verdict (report/verdict_*.rst)."""
    input:
        clusters="results/clustering/clusters.tsv",
        sweep="results/clustering/gamma_sweep.tsv",
        untrained_sweep=f"{UNTRAINED}/clustering/gamma_sweep.tsv",
        null=rules.verdict_null.output.summary,
        matching=rules.verdict_matching.output.summary,
        families=rules.verdict_matching.output.families,
        stability=rules.verdict_stability.output.summary,
        cluster_stability=rules.verdict_stability.output.table,
        association=rules.verdict_association.output.summary,
        archetypes=rules.verdict_archetypes.output.clusters,
    output:
        summary=f"{VERDICT}/summary.json",
        clusters=f"{VERDICT}/clusters.tsv",
        text=f"{VERDICT}/verdict.rst",
    params:
        alpha=STATS["alpha"],
        matching=STATS["matching"],
        n_permutations=STATS["n_permutations"],
        seed=STATS["seed"],
    log:
        "logs/verdict/summary.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/verdict_summary.py"


# ---------------------------------------------------------------- figures


rule plot_verdict_null:
    input:
        null=rules.verdict_null.output.null,
        summary=rules.verdict_null.output.summary,
        text=rules.verdict_summary.output.text,
    output:
        report(
            "results/figures/verdict_null.png",
            caption="../report/verdict_null.rst",
            category="Verdict",
        ),
    log:
        "logs/figures/verdict_null.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_verdict_null.py"


rule plot_verdict_consensus:
    input:
        consensus=rules.verdict_stability.output.consensus,
        clusters="results/clustering/clusters.tsv",
        table=rules.verdict_summary.output.clusters,
    output:
        report(
            "results/figures/verdict_consensus.png",
            caption="../report/verdict_consensus.rst",
            category="Verdict",
        ),
    log:
        "logs/figures/verdict_consensus.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_verdict_consensus.py"


rule plot_verdict_matching:
    input:
        partners=rules.verdict_matching.output.partners,
        families=rules.verdict_matching.output.families,
        summary=rules.verdict_matching.output.summary,
        clusters="results/clustering/clusters.tsv",
    output:
        report(
            "results/figures/verdict_matching.png",
            caption="../report/verdict_matching.rst",
            category="Verdict",
        ),
    log:
        "logs/figures/verdict_matching.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_verdict_matching.py"


FINAL_OUTPUTS.extend(
    [
        f"{VERDICT}/summary.json",
        f"{VERDICT}/clusters.tsv",
        "results/figures/verdict_null.png",
        "results/figures/verdict_consensus.png",
        "results/figures/verdict_matching.png",
    ]
)
