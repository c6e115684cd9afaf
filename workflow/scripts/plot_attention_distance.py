"""Fig. 7: heatmap of the head-distance matrix in model/layer/head order."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import load_heads
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.attention_distance import plot_attention_distance

    p = snakemake.params
    heads = load_heads(snakemake.input.heads, p.seeds, p.n_layers, p.n_heads)
    distances = io.load_npy(snakemake.input.distances, shape=(len(heads), len(heads)))
    fig = plot_attention_distance(distances, heads, p.n_prompts, p.n_ctx)
    save_figure(fig, snakemake.output[0])
