# Comparing heads on their raw attention patterns: paper Figs. 7–11.
# (distance matrix, PCA/UMAP/t-SNE with artificial heads, PCA components, attention to token 0)
