"""Figs. 9–10: the first components per prompt, and one component on the prompts' tokens."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.data.corpus import prompt_tokens
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.pca_components import plot_component_tokens, plot_pca_components

    p = snakemake.params
    variance = io.read_tsv(
        snakemake.input.variance, columns=["component", "explained_variance_ratio"]
    )
    components = io.load_npy(snakemake.input.components, shape=(len(variance), None, None, None))
    ratio = variance["explained_variance_ratio"].to_numpy()
    shown = min(p.n_prompts_shown, components.shape[1])
    save_figure(plot_pca_components(components, ratio, shown), snakemake.output.components)

    c = p.token_component - 1  # 1-based in the config
    tokens = prompt_tokens(io.read_parquet(snakemake.input.prompts))[:shown]
    fig = plot_component_tokens(components[c, :shown], p.token_component, ratio[c], tokens)
    save_figure(fig, snakemake.output.tokens)
