"""The deep part's optional blocks, `forward` only: embeddings of numeric columns (periodic, piecewise-linear,
values)
and explicit interactions of the fields (dot products, cross layers). Their settings are the model config's
(`EmbeddedNumeric`, `Interaction`); where their inputs and outputs sit, its layout's.

Periodic (Gorishniy et al., 2022, "On Embeddings for Numerical Features in Tabular Deep Learning", PLR), for
the value x of column j with trained frequencies c_j (k of them, started from N(0, sigma)):
    v = [sin(2 pi c_j x), cos(2 pi c_j x)]        [2k]
    e = ReLU(W_j v + b_j)                        [dim]
Piecewise-linear (the same paper, PLE), for bins [e_0, e_1), ..., [e_{T-1}, e_T] fitted on the training rows:
    p_t = clamp((x - e_{t-1}) / (e_t - e_{t-1}), 0, 1)   (0 below the bin, 1 above it)      [T]
    e = ReLU(W_j p + b_j)                                                                  [dim]
Values (a number that names things: a household's income, a code), for the values v_1 < ... < v_V it knows:
    i = the k of the nearest v_k where |x - v_k| <= tol_k (a millionth of max(|v_k|, 1)), else 0
    e = T_j[i] + x a_j + b_j                                                              [dim]
Dot (FM, Rendle 2010; DLRM, Naumov et al. 2019): every pair of fields' vectors (those of another width first
projected, without bias, to the width they meet at) gives <f_a, f_b>, appended to the MLP's input.
Cross (DCN-V2, Wang et al. 2021, stacked): x_{l+1} = x_0 * (W_l x_l + b_l) + x_l over the whole input, W_l
full or low-rank (U_l V_l).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PeriodicEmbedding(nn.Module):
    """Columns [B, C] -> embeddings [B, C, dim], one set of frequencies and one linear map per column."""

    def __init__(self, columns: int, frequencies: int, sigma: float, dim: int):
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(columns, frequencies) * sigma)
        self.weight = nn.Parameter(torch.randn(columns, 2 * frequencies, dim) / math.sqrt(2 * frequencies))
        self.bias = nn.Parameter(torch.zeros(columns, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = 2 * math.pi * self.frequencies * x.unsqueeze(-1)  # [B, C, k]
        v = torch.cat([torch.sin(v), torch.cos(v)], dim=-1)  # [B, C, 2k]
        return torch.relu(torch.einsum("bck,ckd->bcd", v, self.weight) + self.bias)  # [B, C, dim]


class PiecewiseEmbedding(nn.Module):
    """Columns [B, C] -> embeddings [B, C, dim] from each column's position in its bins (columns with fewer
    bins than the most are padded with bins that always read 0)."""

    lo: torch.Tensor  # buffers [C, T]: each bin's start, width, and 1 for a column's own bins
    width: torch.Tensor
    used: torch.Tensor

    def __init__(self, edges: list[list[float]], dim: int):
        super().__init__()
        bins = max(max(len(e) - 1, 1) for e in edges)
        lo = torch.zeros(len(edges), bins)
        width = torch.ones(len(edges), bins)
        used = torch.zeros(len(edges), bins)
        for j, e in enumerate(edges):
            t = torch.tensor(e if len(e) >= 2 else [e[0] if e else 0.0] * 2, dtype=torch.float64)
            n = len(t) - 1
            lo[j, :n] = t[:-1].float()
            width[j, :n] = (t[1:] - t[:-1]).clamp(min=1e-12).float()
            used[j, :n] = 1.0
        self.register_buffer("lo", lo, persistent=False)
        self.register_buffer("width", width, persistent=False)
        self.register_buffer("used", used, persistent=False)
        self.weight = nn.Parameter(torch.randn(len(edges), bins, dim) / math.sqrt(bins))
        self.bias = nn.Parameter(torch.zeros(len(edges), dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = ((x.unsqueeze(-1) - self.lo) / self.width).clamp(0.0, 1.0) * self.used  # [B, C, T]
        return torch.relu(torch.einsum("bct,ctd->bcd", p, self.weight) + self.bias)  # [B, C, dim]


class ValuesEmbedding(nn.Module):
    """Columns [B, C] -> embeddings [B, C, dim]: a trained vector per value a column knows (row 0: any other
    value), plus the value times a vector of the column's own and a bias. Each column's known values are
    padded to the most with +inf, which no value matches.

    The nearest known value is the nearer of the two around x (the first not below it, the one before), compared
    in float32 as the values are: a midpoint between two values one float32 step apart rounds onto one of them,
    and a search of the midpoints gave that value its neighbour's vector (and ONNX's comparison another)."""

    known: torch.Tensor  # buffers [C, V]: each column's known values, ascending (+inf past its last)
    tol: torch.Tensor

    def __init__(self, known: list[list[float]], dim: int):
        super().__init__()
        most = max(max(len(k) for k in known), 1)
        values = torch.full((len(known), most), math.inf, dtype=torch.float32)
        for j, k in enumerate(known):
            values[j, : len(k)] = torch.tensor(k, dtype=torch.float32)  # (the model's inputs are float32)
        self.register_buffer("known", values, persistent=False)
        tol = torch.where(values.isinf(), 0.0, 1e-6 * values.abs().clamp(min=1.0))  # (padding matches nothing)
        self.register_buffer("tol", tol.float(), persistent=False)
        self.rows = most + 1
        self.table = nn.Parameter(torch.randn(len(known) * self.rows, dim) * 0.05)
        self.scale = nn.Parameter(torch.zeros(len(known), dim))
        self.bias = nn.Parameter(torch.zeros(len(known), dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        columns, last = x.shape[1], self.known.shape[1] - 1
        # how many known values lie below x: a search, or a comparison in the exported graph (ONNX has no search)
        if torch.onnx.is_in_onnx_export():
            above = (x.unsqueeze(-1) > self.known).sum(-1)  # [B, C]
        else:
            above = torch.searchsorted(self.known, x.t().contiguous()).t()  # [B, C] (left: the count below x)
        hi = above.clamp(max=last)  # the first known value not below x (any, past the last: its +inf misses)
        lo = (above - 1).clamp(min=0)  # the one before it (any, where none is: its distance is made +inf)
        d_hi = (self.known.gather(1, hi.t()).t() - x).abs()
        d_lo = torch.where(above > 0, (x - self.known.gather(1, lo.t()).t()).abs(), torch.full_like(x, math.inf))
        k = torch.where(d_hi <= d_lo, hi, lo)
        near = torch.minimum(d_hi, d_lo)
        tol = self.tol.gather(1, k.t()).t()
        i = torch.where(near <= tol, k + 1, torch.zeros_like(k))  # 0: a value it does not know
        rows = i + torch.arange(columns, device=x.device) * self.rows  # [B, C]
        return self.table[rows] + x.unsqueeze(-1) * self.scale + self.bias  # [B, C, dim]


class DotInteraction(nn.Module):
    """Groups of fields ([B, n_g, w_g] each) -> the dot product of every pair of fields [B, F (F - 1) / 2], in the
    order (0, 1), (0, 2), ..., (1, 2), ... of the fields as the groups list them; a group of width other than
    `dim` is projected to it first (one map per group)."""

    pairs: torch.Tensor  # buffer [F (F - 1) / 2]: each pair (i, j) as i * F + j

    def __init__(self, groups: list[tuple[int, int]], dim: int):
        super().__init__()
        self.project = nn.ModuleList(nn.Identity() if w == dim else nn.Linear(w, dim, bias=False) for _, w in groups)
        fields = sum(n for n, _ in groups)
        i, j = torch.triu_indices(fields, fields, offset=1)
        self.register_buffer("pairs", i * fields + j, persistent=False)  # each pair's place in [F, F] flattened

    def forward(self, groups: list[torch.Tensor]) -> torch.Tensor:
        e = torch.cat([p(g) for p, g in zip(self.project, groups)], dim=1)  # [B, F, dim]
        products = torch.bmm(e, e.transpose(1, 2))  # [B, F, F]
        # index_select on the flattened products, not products[:, i, j]: the same values, with a backward (an
        # index_add) that takes half the time of advanced indexing's (bench/bench_blocks.py)
        return products.flatten(1).index_select(1, self.pairs)  # [B, F (F - 1) / 2]


class CrossLayers(nn.Module):
    """x [B, W] -> [B, W] through `layers` cross layers, full (W [W, W]) or of `rank` (U [r, W], V [W, r])."""

    def __init__(self, width: int, layers: int, rank: int = 0):
        super().__init__()
        if rank:
            self.down = nn.ModuleList(nn.Linear(width, rank, bias=False) for _ in range(layers))
            up = [nn.Linear(rank, width) for _ in range(layers)]
        else:
            up = [nn.Linear(width, width) for _ in range(layers)]
        for layer in up:
            nn.init.zeros_(layer.bias)
        self.up = nn.ModuleList(up)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for i, up in enumerate(self.up):
            h = up(self.down[i](x)) if hasattr(self, "down") else up(x)  # W x_l + b
            x = x0 * h + x
        return x
