"""The method's analysis steps, one module per step: heads, distances, projections,
autoencoders and AIC, clustering, knockout. Small functions on arrays, shapes in signatures."""
