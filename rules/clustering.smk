# kNN graph of head embeddings and Leiden over a γ sweep: paper Figs. 2–6.
