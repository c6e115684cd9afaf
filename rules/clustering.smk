# kNN graph of head embeddings and Leiden over a γ sweep: paper Figs. 2–6.


rule knn_graph:
    """Embedding distances and the symmetric kNN graph (union of directed kNN edges)."""
    input:
        "results/embedding/head_embedding.npy",
    output:
        distances="results/clustering/embedding_distances.npy",
        edges="results/clustering/knn_edges.tsv",
    log:
        "logs/clustering/knn_graph.log",
    benchmark:
        "logs/benchmarks/knn_graph.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        k=cfg("clustering.k"),
        edge_weights=cfg("clustering.edge_weights"),
    script:
        "../workflow/scripts/knn_graph.py"


rule umap_layout:
    """2-D UMAP of the head embeddings: the layout of Figs. 3 and 5."""
    input:
        "results/embedding/head_embedding.npy",
    output:
        "results/clustering/umap_layout.tsv",
    log:
        "logs/clustering/umap_layout.log",
    benchmark:
        "logs/benchmarks/umap_layout.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        umap=cfg("clustering.umap"),
        seed=cfg("clustering.seed"),
    script:
        "../workflow/scripts/umap_layout.py"


rule leiden_sweep:
    """Leiden over n_gamma seeded resolutions; every clustering scored; the best → clusters.tsv."""
    input:
        distances="results/clustering/embedding_distances.npy",
        edges="results/clustering/knn_edges.tsv",
        heads="results/heads.tsv",
    output:
        sweep="results/clustering/gamma_sweep.tsv",
        memberships="results/clustering/memberships.npy",
        clusters="results/clustering/clusters.tsv",
    log:
        "logs/clustering/leiden_sweep.log",
    benchmark:
        "logs/benchmarks/leiden_sweep.tsv"
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


rule plot_fig02:
    input:
        distances="results/clustering/embedding_distances.npy",
        heads="results/heads.tsv",
        clusters="results/clustering/clusters.tsv",
    output:
        report(
            "results/figures/fig02_embedding_distance.png",
            caption="../report/fig02.rst",
            category="Clustering",
        ),
    log:
        "logs/figures/fig02.log",
    benchmark:
        "logs/benchmarks/plot_fig02.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_fig02.py"


rule plot_fig03:
    input:
        layout="results/clustering/umap_layout.tsv",
        edges="results/clustering/knn_edges.tsv",
        heads="results/heads.tsv",
    output:
        report(
            "results/figures/fig03_knn_graph.png",
            caption="../report/fig03.rst",
            category="Clustering",
        ),
    log:
        "logs/figures/fig03.log",
    benchmark:
        "logs/benchmarks/plot_fig03.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        k=cfg("clustering.k"),
    script:
        "../workflow/scripts/plot_fig03.py"


rule plot_fig04:
    input:
        "results/clustering/gamma_sweep.tsv",
    output:
        report(
            "results/figures/fig04_gamma_sweep.png",
            caption="../report/fig04.rst",
            category="Clustering",
        ),
    log:
        "logs/figures/fig04.log",
    benchmark:
        "logs/benchmarks/plot_fig04.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_fig04.py"


rule plot_fig05:
    input:
        layout="results/clustering/umap_layout.tsv",
        clusters="results/clustering/clusters.tsv",
        sweep="results/clustering/gamma_sweep.tsv",
    output:
        report(
            "results/figures/fig05_clusters_umap.png",
            caption="../report/fig05.rst",
            category="Clustering",
        ),
    log:
        "logs/figures/fig05.log",
    benchmark:
        "logs/benchmarks/plot_fig05.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_fig05.py"


rule plot_fig06:
    input:
        patterns=attention_files(),
        clusters="results/clustering/clusters.tsv",
    output:
        report(
            "results/figures/fig06_cluster_patterns.png",
            caption="../report/fig06.rst",
            category="Clustering",
        ),
    log:
        "logs/figures/fig06.log",
    benchmark:
        "logs/benchmarks/plot_fig06.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=10,
    params:
        heads_per_model=HEADS_PER_MODEL,
    script:
        "../workflow/scripts/plot_fig06.py"


rule head_overview:
    """The clustering by layer and by model, and the raw-pattern distances between layers
    across models: the per-layer / per-cluster view that stays readable at 1,000+ heads."""
    input:
        heads="results/heads.tsv",
        clusters="results/clustering/clusters.tsv",
        distances="results/distance/attention_distance.npy",
    output:
        layers="results/overview/layer_clusters.tsv",
        models="results/overview/model_clusters.tsv",
        distances="results/overview/layer_distances.tsv",
    log:
        "logs/clustering/head_overview.log",
    benchmark:
        "logs/benchmarks/head_overview.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=lambda wc, input, attempt: int(1000 + 3 * input.size_mb) * attempt,
    script:
        "../workflow/scripts/head_overview.py"


rule plot_head_overview:
    input:
        # str(): an input named through rules.<name> makes Snakemake schedule that rule even
        # under --allowed-rules, i.e. inside another DVC stage (tests/workflow/test_dvc.py)
        layers=str(rules.head_overview.output.layers),
        models=str(rules.head_overview.output.models),
        distances=str(rules.head_overview.output.distances),
    output:
        report(
            "results/figures/overview_heads.png",
            caption="../report/overview_heads.rst",
            category="Clustering",
        ),
    log:
        "logs/figures/overview_heads.log",
    benchmark:
        "logs/benchmarks/plot_head_overview.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/plot_head_overview.py"
