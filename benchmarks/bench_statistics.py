"""The verdict's statistics at paper size on synthetic data of that shape, and the
planted-head recovery curve against noise.

python benchmarks/bench_statistics.py [--quick]

Paper size: 9 models × 8 heads = 72 heads, 1024 prompts of 16 tokens, 1000 γ,
1000 permutations, 200 prompt bootstraps, 50 Leiden seeds. Times are wall and CPU
(process) seconds of each step of the statistics branch; the target is ≤ 5 min of CPU
in all. Not timed: the untrained baseline's capture and autoencoder (the same code as
the trained models' capture and autoencoder, measured by bench_capture / the DAG).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from phrenology.statistics import synthetic as S
from phrenology.statistics.archetypes import centroid_percentiles, template_scores
from phrenology.statistics.association import cluster_agreement, effect_clusters, mantel
from phrenology.statistics.matching import matching_test
from phrenology.statistics.null import best_f_null, cluster_f_p
from phrenology.statistics.stability import bootstrap_prompts, seed_replicates, stability_summary

from common import write_result


def timed(steps: dict, name: str, fn, *args, **kwargs):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    steps[name] = {"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c}
    print(
        f"{name:28s} wall {steps[name]['wall_s']:7.2f} s   cpu {steps[name]['cpu_s']:7.2f} s",
        flush=True,
    )
    return out


def paper_size(n_perm: int, n_gamma: int, n_boot: int, n_seeds: int, n_prompts: int) -> dict:
    steps: dict = {}
    n_models, n_heads, n_ctx, k_ae = 9, 8, 16, 2
    patterns, models, _ = S.head_set(n_models, n_heads, n_prompts, n_ctx, 0.5, seed=0)
    patterns = patterns.astype(np.float32)
    dist = S.head_distances(patterns)
    # stand-in autoencoder codes: a fixed random projection of each (prompt, head) pattern
    proj = np.random.default_rng(1).normal(size=(n_ctx * n_ctx, k_ae)).astype(np.float32)
    codes = patterns.reshape(n_prompts, len(models), -1) @ proj
    memberships, f = timed(
        steps, "untrained_leiden_sweep", S.sweep_memberships, dist, models, 9, n_gamma, 0
    )
    reference = memberships[int(np.argmax(f))]
    gamma = float(np.sort(np.random.default_rng(0).uniform(0.01, 3.0, n_gamma))[int(np.argmax(f))])
    for kind_ in ("trained", "untrained"):
        timed(steps, f"f_null_{kind_}", best_f_null, memberships, models, n_perm, 0)
    for space in ("embedding", "raw"):
        for kind_ in ("trained", "untrained"):
            timed(steps, f"matching_{space}_{kind_}", matching_test, dist, models, n_perm, 0, 0.75)
    timed(steps, "cluster_f_p", cluster_f_p, reference, models, n_perm, 0)
    boot = timed(steps, "bootstrap_prompts", bootstrap_prompts, codes, "concat", 9, "unweighted",
                 gamma, 0, 0, range(n_boot))  # fmt: skip
    emb = codes.transpose(1, 0, 2).reshape(len(models), -1)
    seeded = timed(
        steps, "leiden_seeds", seed_replicates, emb, 9, "unweighted", gamma, range(1, n_seeds + 1)
    )
    timed(
        steps,
        "stability_summary",
        lambda: (stability_summary(reference, boot), stability_summary(reference, seeded)),
    )
    effect = dist + np.random.default_rng(2).normal(scale=0.1, size=dist.shape)
    effect = np.abs(effect + effect.T) / 2
    np.fill_diagonal(effect, 0)
    timed(steps, "mantel", mantel, dist, effect, n_perm, 0)
    labels = effect_clusters(effect, len(set(reference)))
    timed(steps, "cluster_agreement", cluster_agreement, reference, labels, n_perm, 0)
    timed(
        steps,
        "archetypes",
        lambda: (template_scores(patterns), centroid_percentiles(patterns, reference)),
    )
    total_cpu = sum(s["cpu_s"] for s in steps.values())
    total_wall = sum(s["wall_s"] for s in steps.values())
    print(f"{'total':28s} wall {total_wall:7.2f} s   cpu {total_cpu:7.2f} s")
    return {"n_heads": len(models), "n_gamma": n_gamma, "n_permutations": n_perm, "n_bootstrap": n_boot,
            "n_leiden_seeds": n_seeds, "n_prompts": n_prompts, "steps": steps,
            "total_cpu_s": total_cpu, "total_wall_s": total_wall, "target_cpu_s": 300}  # fmt: skip


def recovery_curve(noises, n_heads: int, n_perm: int) -> list[dict]:
    rows = []
    for noise in noises:
        patterns, models, kind = S.head_set(9, n_heads, 6, 8, noise=noise, seed=11)
        r = S.recovery(patterns, models, kind, k=3, n_gamma=30, n_permutations=n_perm, seed=0)
        rows.append({"noise": noise, "heads_per_model": n_heads, **r})
        print(f"{n_heads} heads/model, noise {noise:.1f}: clusters {r['cluster_recovery']:.2f}, "
              f"families {r['family_recovery']:.2f}, F p {r['f_p']:.3g}, matching p {r['matching_p']:.3g}, "
              f"family p {r['family_p']:.3g}", flush=True)  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--quick", action="store_true", help="a tenth of the permutations and bootstraps"
    )
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    result = {
        "paper_size": paper_size(1000 // scale, 1000 // scale, 200 // scale, 50 // scale, 1024)
    }
    noises = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    result["recovery"] = recovery_curve(noises, 6, 199) + recovery_curve(noises, 8, 199)
    write_result("statistics", result)


if __name__ == "__main__":
    main()
