# Autoencoders over 16×16 patterns, one job per bottleneck; AIC selection (Table 1),
# token-pair importance (Fig. 1) and the head embedding.
