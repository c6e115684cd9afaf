"""The head overview figure: clusters by layer and by model, distances between layers."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.overview import overview_figure

    inp = snakemake.input
    layers = io.read_tsv(inp.layers, columns=["layer", "cluster", "n_heads"])
    models = io.read_tsv(inp.models, columns=["model", "cluster", "n_heads"])
    distances = io.read_tsv(inp.distances, columns=["layer_a", "layer_b", "mean_distance"])
    fig = overview_figure(layers, models, distances, n_heads=int(layers["n_heads"].sum()))
    save_figure(fig, snakemake.output[0])
