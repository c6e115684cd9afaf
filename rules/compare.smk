# Comparing heads on their raw attention patterns: paper Figs. 7–11.
# (distance matrix, PCA/UMAP/t-SNE with artificial heads, PCA components, attention to token 0)
# Each analysis is one job that fans in from every seed's tensor and writes data files; a
# separate plot job draws the figure from those files alone, so figures can be restyled
# without recomputing.

HEADS_PARAMS = {
    "seeds": SEEDS_PARAM,
    "n_layers": cfg("model.n_layers"),
    "n_heads": cfg("model.n_heads"),
}


rule attention_distance:
    """Euclidean distance between every pair of heads' flattened patterns, heads.tsv order."""
    input:
        attention=attention_files(),
        heads="results/heads.tsv",
    output:
        "results/distance/attention_distance.npy",
    log:
        "logs/compare/attention_distance.log",
    benchmark:
        "logs/benchmarks/attention_distance.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=_patterns_mem_mb(6),
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        **HEADS_PARAMS,
    script:
        "../workflow/scripts/attention_distance.py"


rule plot_attention_distance:
    input:
        distances="results/distance/attention_distance.npy",
        heads="results/heads.tsv",
    output:
        report(
            "results/figures/fig07_attention_distance.png",
            caption="../report/fig07.rst",
            category="Comparing heads' patterns",
        ),
    log:
        "logs/compare/plot_attention_distance.log",
    benchmark:
        "logs/benchmarks/plot_attention_distance.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        **HEADS_PARAMS,
        n_prompts=cfg("capture.n_prompts"),
        n_ctx=cfg("model.n_ctx"),
    script:
        "../workflow/scripts/plot_attention_distance.py"


rule project_heads:
    """PCA, UMAP and t-SNE of the heads plus three artificial heads, in one job (one UMAP
    JIT compile); UMAP and t-SNE seeded from analysis.projection.seed."""
    input:
        attention=attention_files(),
        heads="results/heads.tsv",
    output:
        "results/projection/projections.tsv",
    log:
        "logs/compare/project_heads.log",
    benchmark:
        "logs/benchmarks/project_heads.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=_patterns_mem_mb(40),
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        **HEADS_PARAMS,
        projection=cfg("analysis.projection"),
    script:
        "../workflow/scripts/project_heads.py"


rule plot_projections:
    input:
        projections="results/projection/projections.tsv",
        heads="results/heads.tsv",
    output:
        report(
            "results/figures/fig08_projections.png",
            caption="../report/fig08.rst",
            category="Comparing heads' patterns",
        ),
    log:
        "logs/compare/plot_projections.log",
    benchmark:
        "logs/benchmarks/plot_projections.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        **HEADS_PARAMS,
        projection=cfg("analysis.projection"),
    script:
        "../workflow/scripts/plot_projections.py"


rule pca_components:
    """PCA over heads (features = every prompt's pattern values); components per prompt."""
    input:
        attention=attention_files(),
        heads="results/heads.tsv",
    output:
        components="results/components/pca_components.npy",
        variance="results/components/explained_variance.tsv",
        scores="results/components/head_scores.tsv",
    log:
        "logs/compare/pca_components.log",
    benchmark:
        "logs/benchmarks/pca_components.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=_patterns_mem_mb(20),
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        **HEADS_PARAMS,
        n_components=cfg("analysis.components.n_components"),
    script:
        "../workflow/scripts/pca_components.py"


rule plot_pca_components:
    input:
        components="results/components/pca_components.npy",
        variance="results/components/explained_variance.tsv",
        prompts="results/corpus/prompts.parquet",
    output:
        components=report(
            "results/figures/fig09_pca_components.png",
            caption="../report/fig09.rst",
            category="Comparing heads' patterns",
        ),
        tokens=report(
            "results/figures/fig10_pca_component_tokens.png",
            caption="../report/fig10.rst",
            category="Comparing heads' patterns",
        ),
    log:
        "logs/compare/plot_pca_components.log",
    benchmark:
        "logs/benchmarks/plot_pca_components.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_prompts_shown=cfg("analysis.components.n_prompts_shown"),
        token_component=cfg("analysis.components.token_component"),
    script:
        "../workflow/scripts/plot_pca_components.py"


rule decompose_patterns:
    """NMF and sparse PCA over heads (causal cells of the first analysis.decomposition.n_prompts
    prompts), seeded; and the heads most extreme along every PCA, NMF and sparse-PCA component."""
    input:
        attention=attention_files(),
        heads="results/heads.tsv",
        pca_scores="results/components/head_scores.tsv",
    output:
        nmf="results/components/nmf_components.npy",
        sparse_pca="results/components/sparse_pca_components.npy",
        share="results/components/decomposition_share.tsv",
        scores="results/components/decomposition_scores.tsv",
        extremes="results/components/extreme_heads.tsv",
    log:
        "logs/compare/decompose_patterns.log",
    benchmark:
        "logs/benchmarks/decompose_patterns.tsv"
    # the longest analysis job (with plot_decomposition after it): started as soon as it can
    # be, not last, so that the run does not end with one core idle
    priority: 1
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=_patterns_mem_mb(8),
        runtime=lambda wc, attempt: 20 * attempt,
    params:
        **HEADS_PARAMS,
        decomposition=cfg("analysis.decomposition"),
    script:
        "../workflow/scripts/decompose_patterns.py"


rule plot_decomposition:
    input:
        nmf="results/components/nmf_components.npy",
        sparse_pca="results/components/sparse_pca_components.npy",
        share="results/components/decomposition_share.tsv",
        extremes="results/components/extreme_heads.tsv",
    output:
        nmf=report(
            "results/figures/fig09b_nmf_components.png",
            caption="../report/fig09b.rst",
            category="Comparing heads' patterns",
        ),
        sparse_pca=report(
            "results/figures/fig09c_sparse_pca_components.png",
            caption="../report/fig09c.rst",
            category="Comparing heads' patterns",
        ),
    log:
        "logs/compare/plot_decomposition.log",
    benchmark:
        "logs/benchmarks/plot_decomposition.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_prompts_shown=cfg("analysis.components.n_prompts_shown"),
    script:
        "../workflow/scripts/plot_decomposition.py"


rule first_token_pca:
    """Per (prompt, position ≥ 1), attention to token 0 in every head; 2-D PCA over the
    first analysis.first_token.n_prompts prompts."""
    input:
        attention=attention_files(),
        heads="results/heads.tsv",
        prompts="results/corpus/prompts.parquet",
    output:
        points="results/first_token/first_token_pca.tsv",
        variance="results/first_token/explained_variance.tsv",
    log:
        "logs/compare/first_token_pca.log",
    benchmark:
        "logs/benchmarks/first_token_pca.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=_patterns_mem_mb(6),
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        **HEADS_PARAMS,
        n_prompts=cfg("analysis.first_token.n_prompts"),
    script:
        "../workflow/scripts/first_token_pca.py"


rule plot_first_token:
    input:
        points="results/first_token/first_token_pca.tsv",
        variance="results/first_token/explained_variance.tsv",
    output:
        report(
            "results/figures/fig11_first_token.png",
            caption="../report/fig11.rst",
            category="Comparing heads' patterns",
        ),
    log:
        "logs/compare/plot_first_token.log",
    benchmark:
        "logs/benchmarks/plot_first_token.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n_heads_total=cfg(
            MODELS_KEY, "model.n_layers", "model.n_heads", combine=lambda m, l, h: len(m) * l * h
        ),
    script:
        "../workflow/scripts/plot_first_token.py"
