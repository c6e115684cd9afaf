"""Head knockout: zero one head's output and see what the model predicts instead (paper §9).

Knocking out head ``h`` of layer ``L`` sets ``blocks.L.attn.hook_z[:, :, h, :]`` to zero, so the
head adds nothing to the residual stream (the layer's bias ``b_O`` still does: it belongs to no
head). Two read-outs, both at the last position of a prompt:

* logits of every vocabulary token, original vs knocked out (Figs. 12–13);
* the change in next-token *probabilities* — a softmax over the vocabulary — for every head,
  concatenated over many prompts, reduced to 2-D by PCA (Fig. 14). The authors' code took the
  softmax over positions; here it is over the vocabulary.

The Fig. 14 vectors are long (n_prompts × d_vocab values per head: 64 × 50257 at paper size), so
they are never held at once: :func:`knockout_gram` accumulates their Gram matrix prompt batch by
prompt batch, and :func:`gram_pca` gets the PCA scores exactly from its eigendecomposition.

torch is imported inside the functions: plotting jobs import this module for the numpy helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from phrenology.pipeline.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from transformer_lens import HookedTransformer

CLUSTER_COLUMNS = ["head_index", "seed", "layer", "head", "cluster"]


# --- knockout ---------------------------------------------------------------------------------


def hook_name(layer: int) -> str:
    """The hook point holding every head's weighted values ``z`` in ``layer``."""
    return f"blocks.{layer}.attn.hook_z"


def zero_head(head: int) -> Callable[..., torch.Tensor]:
    """A forward hook that zeroes one head's ``z`` ([batch, pos, head_index, d_head])."""

    def hook(z: torch.Tensor, hook=None) -> torch.Tensor:
        z[:, :, head, :] = 0.0
        return z

    return hook


def knockout_hooks(layer: int, head: int) -> list[tuple[str, Callable[..., torch.Tensor]]]:
    """``fwd_hooks`` for ``model.run_with_hooks`` that knock out one head."""
    return [(hook_name(layer), zero_head(head))]


def last_logits(
    model: HookedTransformer, tokens: torch.Tensor, knockout: tuple[int, int] | None = None
) -> torch.Tensor:
    """Logits at the last position, optionally with head ``knockout = (layer, head)`` zeroed.

    tokens:  int64[batch, pos] model token ids
    returns: float32[batch, d_vocab]
    """
    import torch

    hooks = [] if knockout is None else knockout_hooks(*knockout)
    with torch.inference_mode():
        # Unembed the last position only (the unembedding is the models' largest matrix):
        # run the blocks, then the model's own tail (final norm, unembed, soft-cap) on it.
        n_layers = model.cfg.n_layers
        resid = model.run_with_hooks(tokens, fwd_hooks=hooks, stop_at_layer=n_layers)
        logits = model(resid[:, -1:, :], start_at_layer=n_layers)
    return logits[:, -1, :].float()


def next_token_probabilities(
    model: HookedTransformer, tokens: torch.Tensor, knockout: tuple[int, int] | None = None
) -> torch.Tensor:
    """Next-token distribution at the last position: softmax over the VOCABULARY.

    tokens:  int64[batch, pos]
    returns: float64[batch, d_vocab], each row sums to 1 (float64: the differences of small
             probabilities are what Fig. 14 compares)
    """
    return last_logits(model, tokens, knockout).double().softmax(dim=-1)


def probability_changes(model: HookedTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """Every head's knockout effect on the next-token distribution of each prompt.

    tokens:  int64[batch, pos]
    returns: float64[n_layers * n_heads, batch, d_vocab], head axis layer-major;
             entry [h, b, v] = P_knockout_h(v | prompt b) − P_original(v | prompt b)
    """
    import torch

    cfg = model.cfg
    original = next_token_probabilities(model, tokens)
    changes = torch.empty(
        (cfg.n_layers * cfg.n_heads, *original.shape), dtype=original.dtype, device=original.device
    )
    for layer in range(cfg.n_layers):
        for head in range(cfg.n_heads):
            knocked = next_token_probabilities(model, tokens, (layer, head))
            changes[layer * cfg.n_heads + head] = knocked - original
    return changes


# --- batched: many knockouts in one forward pass ------------------------------------------------
#
# One pass runs every (knockout, prompt) pair as its own row: the prompts are repeated once per
# knockout and a per-row mask on hook_z zeroes the knocked-out head of that row only. A row's
# computation does not depend on the other rows (no op mixes the batch axis), so each row equals
# its one-at-a-time pass up to the rounding of a matrix product with more rows (tested).


def mask_heads(mask: torch.Tensor) -> Callable[..., torch.Tensor]:
    """A forward hook multiplying ``z`` [rows, pos, head_index, d_head] by ``mask`` [rows, head_index]
    (1 keeps a head, 0 knocks it out: ``z · 1`` is ``z`` exactly, ``z · 0`` is 0)."""

    def hook(z: torch.Tensor, hook=None) -> torch.Tensor:
        return z * mask[:, None, :, None].to(z.dtype)

    return hook


def batched_knockout_hooks(
    n_layers: int, n_heads: int, knockouts: Sequence[tuple[int, int] | None], batch: int, device
) -> list[tuple[str, Callable[..., torch.Tensor]]]:
    """``fwd_hooks`` for rows ordered knockout-major: row ``k·batch + b`` = prompt b, knockout k.

    knockouts: (layer, head) to zero, or None for the original model
    """
    import torch

    masks = torch.ones((n_layers, len(knockouts) * batch, n_heads), device=device)
    for k, which in enumerate(knockouts):
        if which is not None:
            layer, head = which
            masks[layer, k * batch : (k + 1) * batch, head] = 0.0
    return [
        (hook_name(layer), mask_heads(masks[layer]))
        for layer in range(n_layers)
        if bool((masks[layer] == 0).any())
    ]


def last_logits_batched(
    model: HookedTransformer, tokens: torch.Tensor, knockouts: Sequence[tuple[int, int] | None]
) -> torch.Tensor:
    """:func:`last_logits` for several knockouts at once, in one forward pass.

    tokens:    int64[batch, pos]
    knockouts: K entries, each (layer, head) or None (no knockout)
    returns:   float32[K, batch, d_vocab]; entry k equals ``last_logits(model, tokens, knockouts[k])``
    """
    import torch

    batch = tokens.shape[0]
    rows = tokens.repeat(len(knockouts), 1)  # [K · batch, pos], knockout-major
    cfg = model.cfg
    hooks = batched_knockout_hooks(cfg.n_layers, cfg.n_heads, knockouts, batch, tokens.device)
    with torch.inference_mode():
        resid = model.run_with_hooks(rows, fwd_hooks=hooks, stop_at_layer=cfg.n_layers)
        logits = model(resid[:, -1:, :], start_at_layer=cfg.n_layers)
    return logits[:, -1, :].float().view(len(knockouts), batch, -1)


def probability_changes_batched(model: HookedTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """:func:`probability_changes` in one forward pass over (head, prompt) pairs.

    tokens:  int64[batch, pos]
    returns: float64[n_layers * n_heads, batch, d_vocab], head axis layer-major
    """
    cfg = model.cfg
    heads = [(layer, head) for layer in range(cfg.n_layers) for head in range(cfg.n_heads)]
    probs = last_logits_batched(model, tokens, [None, *heads]).double().softmax(dim=-1)
    return probs[1:] - probs[0]


# --- Fig. 14: streaming PCA over heads ------------------------------------------------------------


# One prompt batch of every head's changes is [total heads, prompts, d_vocab] float64: 463 MB for
# the paper's 72 heads × 16 prompts × 50,257, but 521 MB per prompt for 1,296 pythia-160m heads.
# Batches are cut to this budget (at least one prompt); below it, batch_size is used as given.
GRAM_BATCH_BYTES = 1 << 30


def gram_batch_prompts(batch_size: int, n_heads: int, d_vocab: int, budget: int) -> int:
    """Prompts per knockout batch: batch_size, or fewer where the batch would exceed budget."""
    return max(1, min(batch_size, budget // (8 * n_heads * d_vocab)))


def knockout_gram(
    models: Sequence[HookedTransformer],
    prompts: np.ndarray,
    batch_size: int,
    batched: bool = True,
    budget: int = GRAM_BATCH_BYTES,
) -> np.ndarray:
    """Gram matrix of every head's probability-change vector, accumulated over prompt batches.

    Head i's vector is its :func:`probability_changes` concatenated over all prompts
    (n_prompts × d_vocab values). Only one batch of them is ever in memory:
    [total heads, batch, d_vocab] float64, batch = :func:`gram_batch_prompts` (≤ batch_size).

    models:  in model order (their heads in heads.tsv order), all with the same d_vocab
    prompts: int64[n_prompts, pos] model token ids
    batched: every head of a model knocked out in one forward pass
             (:func:`probability_changes_batched`) rather than one pass per head
    budget:  bytes one batch of changes may take
    returns: float64[H, H] uncentred Gram matrix, H = Σ n_layers × n_heads over models
    """
    import torch

    device = next(models[0].parameters()).device
    d_vocab = models[0].cfg.d_vocab
    if any(m.cfg.d_vocab != d_vocab for m in models):
        raise DataError(
            "the models' vocabularies differ in size; their knockouts cannot be compared"
        )
    sizes = [m.cfg.n_layers * m.cfg.n_heads for m in models]
    n_heads = sum(sizes)
    gram = torch.zeros((n_heads, n_heads), dtype=torch.float64, device=device)
    changes = probability_changes_batched if batched else probability_changes
    step = gram_batch_prompts(batch_size, n_heads, d_vocab, budget)
    for start in range(0, len(prompts), step):
        tokens = torch.as_tensor(np.asarray(prompts[start : start + step]), device=device)
        batch = torch.empty((n_heads, len(tokens), d_vocab), dtype=torch.float64, device=device)
        first = 0
        for model, size in zip(models, sizes, strict=True):  # fill in place: no second copy
            batch[first : first + size] = changes(model, tokens)
            first += size
        flat = batch.flatten(1)
        gram += flat @ flat.T
    return gram.cpu().numpy()


def gram_pca(gram: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """PCA scores of the samples behind an (uncentred) Gram matrix, without the features.

    With X [H, F] the samples and J = I − 11ᵀ/H, the centred Gram matrix is J X Xᵀ J = U Λ Uᵀ,
    and the PCA scores of X are U √Λ (the same as ``sklearn.decomposition.PCA`` up to each
    component's sign). Signs are made deterministic by :func:`orient_components`.

    gram:    float[H, H] = X Xᵀ
    returns: scores float64[H, n_components], explained-variance ratio float64[n_components]
    """
    n = len(gram)
    centre = np.eye(n) - 1.0 / n
    centred = centre @ np.asarray(gram, dtype=np.float64) @ centre
    centred = (centred + centred.T) / 2  # exact symmetry for eigh
    eigenvalues, eigenvectors = np.linalg.eigh(centred)
    order = np.argsort(eigenvalues)[::-1][:n_components]
    # round-off can leave tiny negative eigenvalues where the true ones are 0
    values = np.clip(eigenvalues[order], 0.0, None)
    scores = orient_components(eigenvectors[:, order] * np.sqrt(values))
    total = np.clip(eigenvalues, 0.0, None).sum()
    ratio = values / total if total > 0 else np.zeros_like(values)
    if len(values) < n_components:  # fewer samples than components: pad with empty axes
        pad = n_components - len(values)
        scores = np.pad(scores, ((0, 0), (0, pad)))
        ratio = np.pad(ratio, (0, pad))
    return scores, ratio


def orient_components(scores: np.ndarray) -> np.ndarray:
    """Flip each column so that its entry of largest magnitude is positive (a fixed sign).

    scores: float[n_samples, n_components]; returns a copy
    """
    scores = np.array(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    biggest = scores[np.argmax(np.abs(scores), axis=0), np.arange(scores.shape[1])]
    signs = np.where(biggest < 0, -1.0, 1.0)
    return scores * signs


# --- prompt and labels -----------------------------------------------------------------------------


def encode_prompt(text: str, encoding, gpt2_ids: np.ndarray, n_ctx: int) -> np.ndarray:
    """The configured prompt in model token ids.

    Tokenised as the corpus was (``encode_ordinary``: no BOS, none was seen in training), then
    mapped through the model vocabulary: GPT-2 tokens outside a compact vocabulary become
    ``<unk>``.

    encoding: a tiktoken Encoding (``phrenology.data.vocab.load_encoding``)
    gpt2_ids: int[d_vocab] vocab.tsv's ``gpt2_id`` column (row i = model id i; −1 = ``<unk>``)
    returns:  int64[n_tokens], 1 ≤ n_tokens ≤ n_ctx
    """
    from phrenology.pipeline.config import check_prompt_length  # the same check as at start-up

    gpt2_tokens = np.asarray(encoding.encode_ordinary(text), dtype=np.int64)
    check_prompt_length(text, len(gpt2_tokens), n_ctx)
    gpt2_ids = np.asarray(gpt2_ids, dtype=np.int64)
    unk = np.flatnonzero(gpt2_ids < 0)
    table = np.full(max(encoding.n_vocab, int(gpt2_ids.max()) + 1), unk[0] if len(unk) else -1)
    known = gpt2_ids >= 0
    table[gpt2_ids[known]] = np.flatnonzero(known)
    ids = table[gpt2_tokens]
    if (ids < 0).any():
        raise DataError("the model vocabulary has no <unk> and lacks tokens of knockout.prompt")
    return ids.astype(np.int64)


def moved_tokens(
    original: np.ndarray, knocked: np.ndarray, n_labels: int
) -> tuple[np.ndarray, np.ndarray]:
    """The tokens the knockout moved most above and most below the diagonal.

    Above the diagonal (knocked > original) = the head was suppressing the token. The ranking
    is by knocked − original, so it does not change if every logit shifts by one constant.
    ``n_labels`` is split between the two sides (the odd one goes above).

    original, knocked: float[d_vocab]
    returns: token ids above (largest rise first), token ids below (largest fall first)
    """
    change = np.asarray(knocked, dtype=np.float64) - np.asarray(original, dtype=np.float64)
    n_above = min((n_labels + 1) // 2, len(change))
    n_below = min(n_labels // 2, len(change) - n_above)
    order = np.argsort(-change, kind="stable")
    above = order[:n_above]
    below = order[::-1][:n_below]
    return above[change[above] > 0], below[change[below] < 0]


# --- cluster table ---------------------------------------------------------------------------------


def check_clusters(clusters: pd.DataFrame, heads: pd.DataFrame, path: str = "clusters.tsv") -> None:
    """clusters.tsv must list every head of heads.tsv, in its order, each with one cluster."""
    missing = [c for c in CLUSTER_COLUMNS if c not in clusters.columns]
    if missing:
        raise DataError(f"{path} lacks columns {missing}")
    keys = ["head_index", "seed", "layer", "head"]
    if (
        len(clusters) != len(heads)
        or not (clusters[keys].to_numpy() == heads[keys].to_numpy()).all()
    ):
        raise DataError(
            f"{path} does not list the heads of heads.tsv in its order "
            f"({len(clusters)} rows, {len(heads)} heads); rerun the clustering"
        )


def choose_cluster(clusters: pd.DataFrame, choice: str | int, seed: int, layer: int, head: int):
    """The cluster Fig. 13 shows: ``choice`` itself, or for ``"auto"`` the cluster of the
    Fig. 12 head (``seed``, ``layer``, ``head``).

    returns: (cluster id, the rows of clusters.tsv in that cluster, in head order)
    """
    if choice == "auto":
        row = clusters[
            (clusters["seed"] == seed) & (clusters["layer"] == layer) & (clusters["head"] == head)
        ]
        if len(row) != 1:
            raise DataError(f"clusters.tsv has no single row for head {seed} L{layer}H{head}")
        cluster = row["cluster"].iloc[0]
    else:
        cluster = choice
        if cluster not in set(clusters["cluster"]):
            raise ConfigError(
                "knockout.cluster",
                f"{choice!r} is not a cluster of clusters.tsv "
                f"(clusters: {sorted(set(clusters['cluster']))}); use auto or one of them",
            )
    return cluster, clusters[clusters["cluster"] == cluster]


# --- tables ----------------------------------------------------------------------------------------


def check_head(model: HookedTransformer, layer: int, head: int, source: str) -> None:
    """The knockout head must exist in the loaded model (a stale model file may differ)."""
    cfg = model.cfg
    if not (0 <= layer < cfg.n_layers and 0 <= head < cfg.n_heads):
        raise DataError(
            f"{source} has {cfg.n_layers} layers × {cfg.n_heads} heads: no layer {layer} head "
            f"{head}; rerun the pipeline so the models match the config"
        )


def logit_table(
    model: HookedTransformer,
    prompt_ids: np.ndarray,
    layer: int,
    head: int,
    tokens: Sequence[str],
) -> pd.DataFrame:
    """Every vocabulary token's last-position logit, original and with one head knocked out.

    prompt_ids: int64[n_tokens] model token ids of one prompt
    tokens:     text of every model token id (vocab.tsv ``token``), len d_vocab
    returns:    one row per token: ``token_id, token, logit_original, logit_knockout``
    """
    return logit_tables(model, prompt_ids, [(layer, head)], tokens)[0]


def logit_tables(
    model: HookedTransformer,
    prompt_ids: np.ndarray,
    heads: Sequence[tuple[int, int]],
    tokens: Sequence[str],
) -> list[pd.DataFrame]:
    """:func:`logit_table` for several heads of one model, all from one forward pass.

    heads:   (layer, head) pairs; returns one table per pair, in order
    """
    import pandas as pd

    batch = _prompt_batch(model, prompt_ids, tokens)
    logits = last_logits_batched(model, batch, [None, *heads])[:, 0].cpu().numpy()
    return [
        pd.DataFrame(
            {
                "token_id": np.arange(len(tokens)),
                "token": list(tokens),
                "logit_original": logits[0],
                "logit_knockout": knocked,
            }
        )
        for knocked in logits[1:]
    ]


# --- every position of one prompt; two heads side by side (Figs. 12b–12c) ---------------------

POSITION_COLUMNS = ["position", "token_id", "token", "logit_original", "logit_knockout"]


def all_logits(
    model: HookedTransformer, tokens: torch.Tensor, knockout: tuple[int, int] | None = None
) -> torch.Tensor:
    """Logits at every position, optionally with head ``knockout = (layer, head)`` zeroed.

    tokens:  int64[batch, pos] model token ids
    returns: float32[batch, pos, d_vocab]
    """
    import torch

    hooks = [] if knockout is None else knockout_hooks(*knockout)
    with torch.inference_mode():
        logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
    return logits.float()


def position_logit_table(
    model: HookedTransformer,
    prompt_ids: np.ndarray,
    layer: int,
    head: int,
    tokens: Sequence[str],
) -> pd.DataFrame:
    """Fig. 12's read-out at every position of the prompt, not only the last.

    prompt_ids: int64[n_tokens]; tokens: text of every model token id (len d_vocab)
    returns:    n_tokens × d_vocab rows ``position, token_id, token, logit_original,
                logit_knockout``; position p holds the prediction of the token after p
    """
    import pandas as pd

    batch = _prompt_batch(model, prompt_ids, tokens)
    original = all_logits(model, batch)[0].cpu().numpy()  # [pos, d_vocab]
    knocked = all_logits(model, batch, (layer, head))[0].cpu().numpy()
    n_pos, d_vocab = original.shape
    return pd.DataFrame({
        "position": np.repeat(np.arange(n_pos), d_vocab),
        "token_id": np.tile(np.arange(d_vocab), n_pos),
        "token": list(tokens) * n_pos,
        "logit_original": original.ravel(),
        "logit_knockout": knocked.ravel(),
    })[POSITION_COLUMNS]  # fmt: skip


def kl_divergence(logits_p: np.ndarray, logits_q: np.ndarray) -> np.ndarray:
    """KL(softmax(p) ‖ softmax(q)) in nats over the last axis; float[..., d_vocab] → float64[...]."""
    p = np.asarray(logits_p, dtype=np.float64)
    q = np.asarray(logits_q, dtype=np.float64)
    log_p = p - p.max(axis=-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=-1, keepdims=True))
    log_q = q - q.max(axis=-1, keepdims=True)
    log_q -= np.log(np.exp(log_q).sum(axis=-1, keepdims=True))
    return (np.exp(log_p) * (log_p - log_q)).sum(axis=-1)


def position_effects(table: pd.DataFrame, prompt_tokens: Sequence[str]) -> pd.DataFrame:
    """One row per position of :func:`position_logit_table`: how much the knockout changed it.

    returns: ``position, query_token`` (the token at that position), ``next_token`` (the one after
             it in the prompt, empty at the last), ``kl`` (KL(original ‖ knocked out), nats),
             ``top_original``, ``top_knockout`` (the most likely next token in each),
             ``most_suppressed`` (largest logit rise when knocked out: the head suppressed it),
             ``most_promoted`` (largest fall)
    """
    import pandas as pd

    rows = []
    for position, group in table.groupby("position", sort=True):
        original = group["logit_original"].to_numpy()
        knocked = group["logit_knockout"].to_numpy()
        change = knocked - original
        words = group["token"].astype(str).to_numpy()
        rows.append({
            "position": int(position),
            "query_token": str(prompt_tokens[position]),
            "next_token": str(prompt_tokens[position + 1]) if position + 1 < len(prompt_tokens) else "",
            "kl": float(kl_divergence(original, knocked)),
            "top_original": words[int(np.argmax(original))],
            "top_knockout": words[int(np.argmax(knocked))],
            "most_suppressed": words[int(np.argmax(change))],
            "most_promoted": words[int(np.argmin(change))],
        })  # fmt: skip
    return pd.DataFrame(rows)


def change_correlation(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per position, the Pearson correlation across the vocabulary of two heads' logit changes
    (knocked out − original), each head in its own model: do the two heads push the same tokens?

    a, b: :func:`position_logit_table` tables of the same prompt and vocabulary
    returns: ``position, r``
    """
    import pandas as pd

    keys = ["position", "token_id"]
    if len(a) != len(b) or not (a[keys].to_numpy() == b[keys].to_numpy()).all():
        raise DataError("the two knockout tables do not cover the same positions and tokens")
    rows = []
    for position in sorted(a["position"].unique()):
        pick = (a["position"] == position).to_numpy()
        da = (a["logit_knockout"] - a["logit_original"]).to_numpy()[pick]
        db = (b["logit_knockout"] - b["logit_original"]).to_numpy()[pick]
        r = np.nan if da.std() == 0 or db.std() == 0 else float(np.corrcoef(da, db)[0, 1])
        rows.append({"position": int(position), "r": r})
    return pd.DataFrame(rows)


def _prompt_batch(model: HookedTransformer, prompt_ids: np.ndarray, tokens: Sequence[str]):
    """prompt_ids int64[n_tokens] as a [1, n_tokens] batch on the model's device, after checking
    that the vocabulary's text (len d_vocab) belongs to this model."""
    import torch

    if len(tokens) != model.cfg.d_vocab:
        raise DataError(
            f"the vocabulary has {len(tokens)} tokens but the model {model.cfg.d_vocab}; "
            "rerun the pipeline so vocab.tsv and the models match"
        )
    device = next(model.parameters()).device
    return torch.as_tensor(np.asarray(prompt_ids, dtype=np.int64)[None, :], device=device)
