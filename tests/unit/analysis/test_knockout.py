"""Head knockout: hooks against independent computations, probabilities, streaming PCA, prompts,
labels, cluster choice and config checks."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from phrenology.analysis import knockout
from phrenology.analysis.heads import head_table
from phrenology.models.model import build_model
from phrenology.pipeline.config import validate_config
from phrenology.pipeline.errors import ConfigError, DataError

N_LAYERS, N_HEADS, D_VOCAB, N_CTX = 2, 3, 40, 8


def toy_kwargs(seed: int) -> dict:
    return {
        "n_layers": N_LAYERS, "n_heads": N_HEADS, "n_ctx": N_CTX, "d_model": 16, "d_head": 4,
        "d_mlp": 32, "act_fn": "solu_ln", "normalization_type": "LN", "d_vocab": D_VOCAB,
        "init_weights": True, "seed": seed,
    }  # fmt: skip


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    built = [build_model(toy_kwargs(seed)).eval() for seed in (11, 12)]
    # a non-zero b_O checks that knockout leaves the layer's bias (which no head owns) in place
    with torch.no_grad():
        for m in built:
            for block in m.blocks:
                block.attn.b_O.normal_(0, 0.1)
    return built


@pytest.fixture(scope="module")
def tokens():
    return torch.as_tensor(np.random.default_rng(0).integers(0, D_VOCAB, size=(5, N_CTX)))


ALL_HEADS = [(layer, head) for layer in range(N_LAYERS) for head in range(N_HEADS)]


def logits_with_zeroed_w_o(model, tokens, layer, head):
    """Independent route 1: a copy of the model whose W_O rows for the head are zero."""
    clone = copy.deepcopy(model)
    with torch.no_grad():
        clone.blocks[layer].attn.W_O[head] = 0.0
        return clone(tokens)[:, -1, :]


def logits_from_cached_z(model, tokens, layer, head):
    """Independent route 2: recompute the layer's attention output from the cached z with the
    head zeroed (z·W_O + b_O), add it to the residual, then run the rest of the model."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens)
        z = cache[f"blocks.{layer}.attn.hook_z"].clone()  # [batch, pos, head, d_head]
        z[:, :, head, :] = 0.0
        attn = model.blocks[layer].attn
        attn_out = torch.einsum("bphd,hdm->bpm", z, attn.W_O) + attn.b_O
        resid = cache[f"blocks.{layer}.hook_resid_pre"] + attn_out
        block = model.blocks[layer]
        resid = resid + block.mlp(block.ln2(resid))
        return model(resid, start_at_layer=layer + 1)[:, -1, :]


@pytest.mark.parametrize(("layer", "head"), ALL_HEADS)
def test_hook_knockout_equals_model_with_zeroed_w_o(models, tokens, layer, head):
    got = knockout.last_logits(models[0], tokens, (layer, head))
    want = logits_with_zeroed_w_o(models[0], tokens, layer, head)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("layer", "head"), ALL_HEADS)
def test_hook_knockout_equals_recomputation_from_cached_z(models, tokens, layer, head):
    got = knockout.last_logits(models[1], tokens, (layer, head))
    want = logits_from_cached_z(models[1], tokens, layer, head)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_knocking_out_twice_equals_once(models, tokens):
    """Bit for bit, because both sides are the same computation (same shapes, same kernels).

    last_logits unembeds the last position only: a matrix product of another shape, whose
    last bits may differ from the full forward pass's (they do with 2 threads on AMD EPYC).
    That route is compared with a tolerance in test_last_logits_equal_the_full_forward_pass."""
    model = models[0]

    def last(hooks):
        with torch.inference_mode():
            return model.run_with_hooks(tokens, fwd_hooks=hooks)[:, -1, :]

    once = last(knockout.knockout_hooks(1, 2))
    twice = last(knockout.knockout_hooks(1, 2) + knockout.knockout_hooks(1, 2))
    assert torch.equal(once, twice)
    assert not torch.equal(once, last([]))  # the hook did knock the head out
    torch.testing.assert_close(knockout.last_logits(model, tokens, (1, 2)), once)


@pytest.mark.parametrize(("layer", "head"), ALL_HEADS)
def test_knockout_changes_the_logits(models, tokens, layer, head):
    original = knockout.last_logits(models[0], tokens)
    knocked = knockout.last_logits(models[0], tokens, (layer, head))
    assert (knocked - original).abs().max() > 1e-4


@pytest.mark.parametrize("normalization", ["LN", "LNPre", "RMS", None])
def test_last_logits_equal_the_full_forward_pass(tokens, normalization):
    model = build_model({**toy_kwargs(5), "normalization_type": normalization}).eval()
    with torch.no_grad():
        want = model(tokens)[:, -1, :]
    torch.testing.assert_close(knockout.last_logits(model, tokens), want, rtol=1e-5, atol=1e-5)


def test_hooks_do_not_leak_into_later_runs(models, tokens):
    before = knockout.last_logits(models[0], tokens)
    knockout.last_logits(models[0], tokens, (0, 1))
    assert torch.equal(knockout.last_logits(models[0], tokens), before)


def test_probabilities_are_a_softmax_over_the_vocabulary(models, tokens):
    model = models[0]
    for ko in (None, (1, 0)):
        probs = knockout.next_token_probabilities(model, tokens, ko)
        assert probs.shape == (len(tokens), D_VOCAB)
        torch.testing.assert_close(probs.sum(dim=-1), torch.ones(len(tokens), dtype=probs.dtype))
        with torch.no_grad():
            logits = model.run_with_hooks(
                tokens, fwd_hooks=[] if ko is None else knockout.knockout_hooks(*ko)
            )[:, -1, :]
        torch.testing.assert_close(probs, torch.softmax(logits.double(), dim=-1))


def test_probability_changes_are_differences_of_vocabulary_softmaxes(models, tokens):
    model = models[1]
    changes = knockout.probability_changes(model, tokens)
    assert changes.shape == (N_LAYERS * N_HEADS, len(tokens), D_VOCAB)
    # each is a difference of two distributions over the vocabulary
    torch.testing.assert_close(
        changes.sum(dim=-1), torch.zeros(changes.shape[:2], dtype=changes.dtype), atol=1e-12, rtol=0
    )
    original = knockout.next_token_probabilities(model, tokens)
    for layer, head in ALL_HEADS:
        knocked = knockout.next_token_probabilities(model, tokens, (layer, head))
        torch.testing.assert_close(changes[layer * N_HEADS + head], knocked - original)


def materialised_vectors(models, prompts, batch_size) -> np.ndarray:
    """Every head's change vector over ALL prompts held at once: [H, n_prompts * d_vocab],
    prompt-major. Forward passes use the same batches as the streamed run, so both see the
    same float32 logits (a different batch shape can change them by rounding)."""
    per_batch = [
        torch.cat([knockout.probability_changes(m, torch.as_tensor(prompts[i : i + batch_size]))
                   for m in models])
        for i in range(0, len(prompts), batch_size)
    ]  # fmt: skip
    return torch.cat(per_batch, dim=1).flatten(1).numpy()


def aligned(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``got`` with each column's sign matched to ``want`` (PCA signs are arbitrary)."""
    signs = np.sign(np.sum(got * want, axis=0))
    signs[signs == 0] = 1
    return got * signs


def test_gram_pca_equals_sklearn_pca_on_a_toy():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    x = rng.normal(size=(9, 60)) * np.linspace(3, 0.1, 60) + rng.normal(size=60)
    scores, ratio = knockout.gram_pca(x @ x.T, n_components=2)
    pca = PCA(n_components=2, svd_solver="full").fit(x)
    want = pca.transform(x)
    np.testing.assert_allclose(aligned(scores, want), want, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ratio, pca.explained_variance_ratio_, rtol=1e-8)


def test_streamed_gram_equals_materialised_and_its_pca_equals_sklearn(models):
    from sklearn.decomposition import PCA

    prompts = np.random.default_rng(2).integers(0, D_VOCAB, size=(5, N_CTX))
    x = materialised_vectors(models, prompts, batch_size=2)
    assert x.shape == (2 * N_LAYERS * N_HEADS, 5 * D_VOCAB)
    # one pass per head, as materialised_vectors does: the same float32 logits, so the streamed
    # sum must equal the materialised product to float64 rounding
    gram = knockout.knockout_gram(models, prompts, batch_size=2, batched=False)  # batches 2, 2, 1
    np.testing.assert_allclose(gram, x @ x.T, rtol=1e-12, atol=1e-18)
    # one batch of all prompts: the same up to float32 rounding in the forward passes
    whole = materialised_vectors(models, prompts, batch_size=len(prompts))
    np.testing.assert_allclose(gram, whole @ whole.T, rtol=1e-3, atol=1e-12)
    scores, ratio = knockout.gram_pca(gram)
    pca = PCA(n_components=2, svd_solver="full").fit(x)
    want = pca.transform(x)
    np.testing.assert_allclose(aligned(scores, want), want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ratio, pca.explained_variance_ratio_, rtol=1e-6)


def test_pc_signs_are_fixed_by_the_data_not_the_solver():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 20))
    scores, _ = knockout.gram_pca(x @ x.T)
    for column in scores.T:
        assert column[np.argmax(np.abs(column))] > 0
    # the same samples with every feature negated have the same Gram matrix: same scores
    flipped, _ = knockout.gram_pca((-x) @ (-x).T)
    np.testing.assert_array_equal(scores, flipped)
    np.testing.assert_array_equal(knockout.orient_components(-scores), scores)


def test_gram_pca_with_fewer_heads_than_components():
    scores, ratio = knockout.gram_pca(np.array([[4.0]]), n_components=2)
    assert scores.shape == (1, 2) and ratio.shape == (2,)
    np.testing.assert_array_equal(scores, 0.0)


# --- prompt --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoding():
    from phrenology.data.vocab import load_encoding

    return load_encoding("gpt2")


def test_prompt_in_the_full_vocabulary_is_the_gpt2_ids(encoding):
    gpt2_ids = np.arange(encoding.n_vocab)
    ids = knockout.encode_prompt("They sit alone in their rooms", encoding, gpt2_ids, 16)
    np.testing.assert_array_equal(ids, encoding.encode_ordinary("They sit alone in their rooms"))


def test_prompt_words_outside_a_compact_vocabulary_become_unk(encoding):
    words = encoding.encode_ordinary("They sit alone in their rooms")
    kept = [words[1], words[0], 13]  # " sit", "They", "."; then <unk>
    gpt2_ids = np.array([*kept, -1])
    ids = knockout.encode_prompt("They sit alone", encoding, gpt2_ids, 16)
    np.testing.assert_array_equal(ids, [1, 0, 3])


def test_prompt_without_unk_and_unknown_words_is_an_error(encoding):
    with pytest.raises(DataError, match=r"knockout\.prompt"):
        knockout.encode_prompt("They sit alone", encoding, np.array([0, 1, 2]), 16)


def test_prompt_longer_than_the_context_names_the_key(encoding):
    text = "They sit alone in their rooms and wait for the night to come down over the city"
    assert len(encoding.encode_ordinary(text)) > 16
    with pytest.raises(ConfigError, match=r"knockout\.prompt.*n_ctx = 16") as err:
        knockout.encode_prompt(text, encoding, np.arange(encoding.n_vocab), 16)
    assert err.value.key == "knockout.prompt"


def test_prompt_of_exactly_n_ctx_tokens_is_accepted(encoding):
    text = "They sit alone in their rooms"
    n = len(encoding.encode_ordinary(text))
    assert len(knockout.encode_prompt(text, encoding, np.arange(encoding.n_vocab), n)) == n


# --- labels, clusters, config ----------------------------------------------------------------------


def test_moved_tokens_are_the_largest_rises_and_falls():
    original = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    knocked = original + np.array([0.5, -2.0, 0.1, 1.5, -0.3, 0.0])
    above, below = knockout.moved_tokens(original, knocked, 4)
    np.testing.assert_array_equal(above, [3, 0])
    np.testing.assert_array_equal(below, [1, 4])
    # a shift of every knocked-out logit by one constant ranks the same tokens
    shifted_above, shifted_below = knockout.moved_tokens(original, knocked + 0.05, 4)
    np.testing.assert_array_equal(shifted_above, above)
    np.testing.assert_array_equal(shifted_below, below)
    odd_above, odd_below = knockout.moved_tokens(original, knocked, 3)
    assert len(odd_above) == 2 and len(odd_below) == 1
    assert [len(a) for a in knockout.moved_tokens(original, knocked, 0)] == [0, 0]


def clusters_for(seeds, labels) -> pd.DataFrame:
    table = head_table(seeds, N_LAYERS, N_HEADS)
    table["cluster"] = labels
    return table


def test_auto_cluster_is_the_cluster_of_the_fig12_head():
    clusters = clusters_for([11, 12], [0, 1, 2, 1, 0, 2, 2, 2, 1, 0, 0, 1])
    cluster, members = knockout.choose_cluster(clusters, "auto", seed=11, layer=1, head=2)
    assert cluster == 2
    assert members["head_index"].tolist() == [2, 5, 6, 7]
    cluster, members = knockout.choose_cluster(clusters, 1, seed=11, layer=1, head=2)
    assert members["head_index"].tolist() == [1, 3, 8, 11]


def test_unknown_cluster_names_the_key():
    clusters = clusters_for([11, 12], [0] * 12)
    with pytest.raises(ConfigError, match=r"knockout\.cluster"):
        knockout.choose_cluster(clusters, 5, seed=11, layer=0, head=0)


def test_clusters_must_list_the_heads_in_order():
    heads = head_table([11, 12], N_LAYERS, N_HEADS)
    good = clusters_for([11, 12], [0] * 12)
    knockout.check_clusters(good, heads)
    with pytest.raises(DataError, match="order"):
        knockout.check_clusters(good.iloc[::-1].reset_index(drop=True), heads)
    with pytest.raises(DataError, match="order"):
        knockout.check_clusters(good.iloc[:-1], heads)
    with pytest.raises(DataError, match="cluster"):
        knockout.check_clusters(good.drop(columns="cluster"), heads)


def test_head_outside_the_loaded_model_is_a_clear_error(models):
    with pytest.raises(DataError, match="no layer 0 head 3"):
        knockout.check_head(models[0], 0, N_HEADS, "model.pt")


def test_logit_table_has_one_row_per_vocabulary_token(models):
    model = models[0]
    table = knockout.logit_table(model, np.array([1, 2, 3]), 1, 1, [f"t{i}" for i in range(40)])
    assert list(table.columns) == ["token_id", "token", "logit_original", "logit_knockout"]
    assert len(table) == D_VOCAB and table["token_id"].tolist() == list(range(D_VOCAB))
    with pytest.raises(DataError, match="vocabulary has 3 tokens"):
        knockout.logit_table(model, np.array([1]), 0, 0, ["a", "b", "c"])


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"model_seed": 1}, "knockout.model_seed"),
        ({"layer": 2}, "knockout.layer"),
        ({"head": 4}, "knockout.head"),
        ({"cluster": "largest"}, "knockout.cluster"),
        ({"prompt": ""}, "knockout.prompt"),
    ],
)
def test_config_errors_name_the_knockout_key(quick_config, change, key):
    cfg = copy.deepcopy(quick_config)
    cfg["knockout"].update(change)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert err.value.key == key


def test_config_accepts_auto_or_an_integer_cluster(quick_config, paper_config):
    for cfg in (quick_config, paper_config):
        validate_config(cfg)
        cfg["knockout"]["cluster"] = 3
        validate_config(cfg)


# --- batched knockout: (head, prompt) pairs in one forward pass -----------------------------------
# Float tolerance: a row of the batched pass is computed as in its own pass (z · 1 = z, z · 0 = 0,
# no op mixes rows) except that the matrix products see more rows, which the BLAS blocks
# differently: float32 logits then differ in the last bits (measured ≤ 1e-6 here), so logits are
# compared to 1e-5 and the float64 probability changes to 1e-7 absolute.


def test_batched_logits_equal_one_knockout_at_a_time(models, tokens):
    model = models[0]
    knockouts = [None, *ALL_HEADS]
    got = knockout.last_logits_batched(model, tokens, knockouts)
    assert got.shape == (len(knockouts), len(tokens), D_VOCAB)
    for k, which in enumerate(knockouts):
        want = knockout.last_logits(model, tokens, which)
        torch.testing.assert_close(got[k], want, rtol=0, atol=1e-5)
    assert not torch.allclose(got[1], got[2])  # the rows really differ by their knockout


def test_batched_probability_changes_equal_the_loop(models, tokens):
    for model in models:
        got = knockout.probability_changes_batched(model, tokens)
        want = knockout.probability_changes(model, tokens)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-7)


def test_batched_gram_equals_the_one_at_a_time_gram(models):
    prompts = np.random.default_rng(3).integers(0, D_VOCAB, size=(7, N_CTX))
    fast = knockout.knockout_gram(models, prompts, batch_size=3, batched=True)
    slow = knockout.knockout_gram(models, prompts, batch_size=3, batched=False)
    # float32 rounding of the logits (≈ 1e-7 relative) reaches the Gram entries through sums
    # of products that partly cancel: compared relative to the Gram's largest entry
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5 * np.abs(slow).max())
    assert not np.allclose(fast, np.diag(np.diag(fast)))  # heads' effects do overlap


def test_gram_batches_are_cut_to_the_memory_budget(models):
    prompts = np.random.default_rng(4).integers(0, D_VOCAB, size=(5, N_CTX))
    n_heads = 2 * N_LAYERS * N_HEADS
    per_prompt = 8 * n_heads * D_VOCAB  # bytes of one prompt's changes, every head
    assert knockout.gram_batch_prompts(4, n_heads, D_VOCAB, 10 * per_prompt) == 4  # not binding
    assert knockout.gram_batch_prompts(4, n_heads, D_VOCAB, 2 * per_prompt + 1) == 2
    assert knockout.gram_batch_prompts(4, n_heads, D_VOCAB, 1) == 1  # at least one prompt
    whole = knockout.knockout_gram(models, prompts, batch_size=5, batched=False)
    cut = knockout.knockout_gram(models, prompts, batch_size=5, batched=False, budget=per_prompt)
    # one prompt per forward pass instead of five: float32 rounding of the logits, as above
    np.testing.assert_allclose(cut, whole, rtol=1e-5, atol=1e-5 * np.abs(whole).max())


def test_logit_tables_of_several_heads_equal_single_tables(models):
    model, ids = models[1], np.array([4, 5, 6, 7])
    words = [f"t{i}" for i in range(D_VOCAB)]
    tables = knockout.logit_tables(model, ids, [(0, 2), (1, 0)], words)
    batch = torch.as_tensor(ids[None, :])
    for table, head in zip(tables, [(0, 2), (1, 0)], strict=True):
        want = knockout.last_logits(model, batch, head)[0].numpy()
        np.testing.assert_allclose(table["logit_knockout"], want, rtol=0, atol=1e-5)
        original = knockout.last_logits(model, batch)[0].numpy()
        np.testing.assert_allclose(table["logit_original"], original, rtol=0, atol=1e-5)
