"""Cross-model one-to-one matching on raw-pattern and embedding distances, trained and untrained."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import numpy as np
    import pandas as pd

    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.statistics.matching import matching_test

    p, inp = snakemake.params, snakemake.input
    heads = io.read_tsv(inp.heads, columns=HEAD_COLUMNS)
    models = heads["seed"].to_numpy()
    seeds = list(np.unique(models))
    n = len(heads)
    summary, partner_rows, family_rows = {}, [], []
    spaces = {
        "embedding": (inp.embedding, inp.untrained_embedding),
        "raw_patterns": (inp.raw, inp.untrained_raw),
    }
    for space, (trained_path, untrained_path) in spaces.items():
        for kind, path in (("trained", trained_path), ("untrained", untrained_path)):
            dist = io.load_npy(path, shape=(n, n))
            r = matching_test(
                dist,
                models,
                p.n_permutations,
                p.seed,
                p.matching["min_fraction"],
                p.matching["quantile"],
            )
            fams = r["families"]
            summary.setdefault(space, {})[kind] = {
                "relative_cost": r["relative_cost"],
                "p": r["p"],
                "null_mean": float(np.mean(r["null"])),
                "null_q05": float(np.quantile(r["null"], 0.05)),
                "n_families": len(fams),
                "families_p": [f["p"] for f in fams],
                "counterpart_threshold": r["threshold"],
                "mean_counterparts": float(np.mean(r["counterparts"])),
            }
            print(
                f"{space} {kind}: relative cost {r['relative_cost']:.3f} (p {r['p']:.3g}), {len(fams)} families"
            )
            if kind != "trained":
                continue
            for i in range(n):
                for m, seed in enumerate(seeds):
                    if r["partner"][i, m] >= 0:
                        partner_rows.append({"space": space, "head_index": i, "model": int(seed),
                                             "partner": int(r["partner"][i, m]),
                                             "distance": float(r["partner_dist"][i, m]),
                                             "counterpart": bool(r["partner_dist"][i, m] < r["threshold"])})  # fmt: skip
            for f_id, fam in enumerate(fams, start=1):
                family_rows.append({"space": space, "family": f_id, "n_models": fam["n_models"],
                                    "consistency": fam["consistency"], "strength": fam["strength"],
                                    "p": fam["p"], "members": " ".join(map(str, fam["members"]))})  # fmt: skip
            counts = r["counterparts"]
            summary[space]["trained"]["counterparts_per_head"] = [int(c) for c in counts]
    io.write_json(snakemake.output.summary, summary)
    io.write_tsv(snakemake.output.partners, pd.DataFrame(partner_rows))
    io.write_tsv(
        snakemake.output.families,
        pd.DataFrame(
            family_rows,
            columns=["space", "family", "n_models", "consistency", "strength", "p", "members"],
        ),
    )
