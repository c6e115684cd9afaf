"""G toy transformers of one architecture as one set of stacked tensors, for batched training.

The weights of G ``HookedTransformer`` models (same config, different seeds) are stacked on a
leading model axis: ``params["blocks.0.attn.W_Q"]`` is [G, n_heads, d_model, d_head]. The
forward pass below is HookedTransformer's own (embed + positional embed, pre-norm blocks of
attention then MLP, final norm, unembed), written with batched matrix products over the model
axis, so one Python-level op runs all G models: the per-op overhead that bounds a small
model's step is paid once per group instead of once per model.

Why not ``torch.func.vmap`` over ``functional_call(HookedTransformer)``: the fused
unembedding + loss (:mod:`phrenology.models.fused_loss`) is a custom autograd Function without a vmap
rule, and vmap adds a dispatch layer to every op, which is what a launch-bound step cannot
afford. The forward is checked against HookedTransformer numerically
(tests/test_batched_train.py) for every activation and normalisation the schema allows.

Parameter names are HookedTransformer's ``state_dict`` keys, so a trained group unstacks
into per-seed ``state_dict`` s that load into a plain HookedTransformer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from phrenology.models.fused_loss import grouped_linear_cross_entropy

NORMS = ("LN", "LNPre", "RMS", "RMSPre", None)


def _gelu_new(x: torch.Tensor) -> torch.Tensor:
    # TransformerLens' gelu_new, op for op
    return (
        0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    )


ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "gelu_new": _gelu_new,
    "solu_ln": lambda x: x * F.softmax(x, dim=-1),  # SoLU; its LayerNorm follows in _mlp
}


class GroupedTransformer:
    """Stacked weights of G same-architecture HookedTransformers and their forward pass.

    params: name → leaf tensor [G, *shape of that HookedTransformer parameter]
    """

    def __init__(self, cfg, params: Mapping[str, torch.Tensor]):
        _check_supported(cfg)
        self.cfg = cfg
        self.params = dict(params)
        first = next(iter(self.params.values()))
        self.n_models = first.shape[0]
        n_ctx = cfg.n_ctx
        self._causal = torch.ones(n_ctx, n_ctx, dtype=torch.bool, device=first.device).tril()

    @classmethod
    def from_models(cls, models: Sequence[torch.nn.Module]) -> GroupedTransformer:
        """Copy the parameters of ``models`` (HookedTransformers, one config) into stacked leaves."""
        names = [n for n, _ in models[0].named_parameters()]
        for m in models[1:]:
            if [n for n, _ in m.named_parameters()] != names:
                raise ValueError("the models of a group must share one architecture")
        params = {}
        for name in names:
            stacked = torch.stack([dict(m.named_parameters())[name].detach() for m in models])
            params[name] = stacked.clone().requires_grad_(True)
        return cls(models[0].cfg, params)

    def parameters(self) -> list[torch.Tensor]:
        """Stacked leaves in HookedTransformer's ``parameters()`` order."""
        return list(self.params.values())

    def state_dict_of(self, g: int, template: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Model ``g``'s ``state_dict``: ``template``'s (buffers included), weights from the stack."""
        state = template.state_dict()
        for name, value in self.params.items():
            state[name] = value[g].detach().clone()
        return state

    def load_model_state(self, g: int, state: Mapping[str, torch.Tensor]) -> None:
        """Overwrite model ``g``'s weights with those of a per-model ``state_dict``."""
        with torch.no_grad():
            for name, value in self.params.items():
                value[g].copy_(state[name])

    # --- forward ---------------------------------------------------------------------------

    def _p(self, name: str) -> torch.Tensor:
        return self.params[name]

    def _norm(self, x: torch.Tensor, prefix: str, kind: str | None) -> torch.Tensor:
        """TransformerLens' LayerNorm / LayerNormPre / RMSNorm / RMSNormPre over the last axis.

        x: [G, rows, d]; weights [G, d] broadcast over rows
        """
        if kind is None:
            return x
        eps = self.cfg.eps
        if kind in ("LN", "LNPre"):
            x = x - x.mean(-1, keepdim=True)
        scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
        x = x / scale
        if kind == "LN":
            return x * self._p(f"{prefix}.w")[:, None, :] + self._p(f"{prefix}.b")[:, None, :]
        if kind == "RMS":
            return x * self._p(f"{prefix}.w")[:, None, :]
        return x

    def _attention(self, x: torch.Tensor, layer: int, batch: int, pos: int) -> torch.Tensor:
        """x: [G, batch·pos, d_model] (normalised) → attention output [G, batch·pos, d_model]"""
        cfg, g = self.cfg, self.n_models
        heads, d_head = cfg.n_heads, cfg.d_head
        name = f"blocks.{layer}.attn"

        def project(w: str, b: str) -> torch.Tensor:  # → [G, batch, heads, pos, d_head]
            weight = self._p(f"{name}.{w}")  # [G, heads, d_model, d_head]
            weight = weight.permute(0, 2, 1, 3).reshape(g, cfg.d_model, heads * d_head)
            bias = self._p(f"{name}.{b}").reshape(g, 1, heads * d_head)
            out = torch.baddbmm(bias, x, weight).view(g, batch, pos, heads, d_head)
            return out.transpose(2, 3)

        q, k, v = project("W_Q", "b_Q"), project("W_K", "b_K"), project("W_V", "b_V")
        scores = q @ k.transpose(-1, -2) / cfg.attn_scale  # [G, batch, heads, q_pos, k_pos]
        scores = torch.where(self._causal[:pos, :pos], scores, float("-inf"))
        pattern = F.softmax(scores, dim=-1)
        z = (pattern @ v).transpose(2, 3).reshape(g, batch * pos, heads * d_head)
        w_o = self._p(f"{name}.W_O").reshape(g, heads * d_head, cfg.d_model)
        return torch.baddbmm(self._p(f"{name}.b_O")[:, None, :], z, w_o)

    def _mlp(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        name = f"blocks.{layer}.mlp"
        pre = torch.baddbmm(self._p(f"{name}.b_in")[:, None, :], x, self._p(f"{name}.W_in"))
        post = ACTIVATIONS[self.cfg.act_fn](pre)
        if self.cfg.act_fn.endswith("_ln"):
            post = self._norm(post, f"{name}.ln", "LN")
        return torch.baddbmm(self._p(f"{name}.b_out")[:, None, :], post, self._p(f"{name}.W_out"))

    def residual(self, tokens: torch.Tensor) -> torch.Tensor:
        """The final residual stream after ``ln_final`` (what the unembedding reads).

        tokens: int64[G, batch, pos] → [G, batch·pos, d_model]
        """
        cfg = self.cfg
        g, batch, pos = tokens.shape
        w_e = self._p("embed.W_E")  # [G, d_vocab, d_model]
        offsets = torch.arange(g, device=tokens.device)[:, None, None] * w_e.shape[1]
        embed = w_e.reshape(-1, cfg.d_model)[tokens + offsets]  # one index op, as TL's W_E[tokens]
        resid = embed + self._p("pos_embed.W_pos")[:, None, :pos, :]
        resid = resid.reshape(g, batch * pos, cfg.d_model)
        kind = cfg.normalization_type
        for layer in range(cfg.n_layers):
            resid = resid + self._attention(
                self._norm(resid, f"blocks.{layer}.ln1", kind), layer, batch, pos
            )
            resid = resid + self._mlp(self._norm(resid, f"blocks.{layer}.ln2", kind), layer)
        return self._norm(resid, "ln_final", kind)

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: int64[G, batch, pos] → logits [G, batch, pos, d_vocab]"""
        g, batch, pos = tokens.shape
        out = torch.baddbmm(
            self._p("unembed.b_U")[:, None, :], self.residual(tokens), self._p("unembed.W_U")
        )
        return out.view(g, batch, pos, -1)

    def loss(self, windows: torch.Tensor, fused: bool | None = None) -> torch.Tensor:
        """Each model's mean next-token cross-entropy on its own windows.

        windows: int64[G, batch, n_ctx + 1] → float32[G]

        As :func:`phrenology.models.train.next_token_loss`: the fused chunked unembedding + loss in
        fp32, the plain logits route under autocast (bf16 on the GPU).
        """
        inputs, targets = windows[:, :, :-1], windows[:, :, 1:].flatten(1)
        if fused is None:
            fused = not torch.is_autocast_enabled(inputs.device.type)
        if not fused:
            logits = self.logits(inputs).flatten(1, 2).float()  # [G, tokens, d_vocab]
            per_token = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
            return per_token.view(targets.shape).mean(1)
        resid = self.residual(inputs)
        return grouped_linear_cross_entropy(
            resid, self._p("unembed.W_U"), self._p("unembed.b_U"), targets
        )


def _check_supported(cfg) -> None:
    """Only the HookedTransformer features this project's configs use are reproduced."""
    problems = []
    if cfg.positional_embedding_type != "standard":
        problems.append(f"positional_embedding_type {cfg.positional_embedding_type}")
    if cfg.attn_only or cfg.parallel_attn_mlp or cfg.gated_mlp:
        problems.append("attn_only / parallel_attn_mlp / gated_mlp")
    if cfg.normalization_type not in NORMS:
        problems.append(f"normalization_type {cfg.normalization_type}")
    if cfg.act_fn not in ACTIVATIONS:
        problems.append(f"act_fn {cfg.act_fn}")
    if getattr(cfg, "n_key_value_heads", None) not in (None, cfg.n_heads):
        problems.append("grouped-query attention")
    if not cfg.use_attn_scale or cfg.scale_attn_by_inverse_layer_idx:
        problems.append("a non-default attention scale")
    if cfg.attn_scores_soft_cap > 0 or cfg.output_logits_soft_cap > 0:
        problems.append("soft-capped scores or logits")
    if cfg.post_embedding_ln or cfg.use_attn_result or cfg.use_split_qkv_input:
        problems.append("post_embedding_ln / use_attn_result / use_split_qkv_input")
    if problems:
        raise ValueError(f"GroupedTransformer does not reproduce {', '.join(problems)}")
