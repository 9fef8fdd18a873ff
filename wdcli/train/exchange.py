"""The gradient exchange of data-parallel training (`torchrun`, `train --nproc`): after each process's backward
pass, every process ends with the gradient of the whole global batch, and the optimizers then make the same
update on every replica. No process holds more than the rows its batch touched.

Two collectives a step:
- one all-reduce (sum) of a float32 buffer: the dense parameters' gradients (the MLP, the bias), the numbers the
  loop shares (the batch's summed loss, stop and save requests), and each process's row counts of the sparse
  tables in a slot of its own (a sum of one-hot slots is an all-gather);
- one all-gather of the rows the batch touched in the sparse tables (the wide weights, the embeddings): each
  process's unique row ids (int64, carried bit for bit in the float32 buffer) and their summed gradient rows,
  padded to the longest; each process then adds up the rows of all.

This moves the rows a global batch touched (for 26 categorical columns and a batch of 1,024, some tens of
thousands) instead of all-reducing whole tables (millions of rows), or the per-row duplicates that torch's DDP
sends for sparse gradients. Each process's loss is its rows' summed loss divided by the global batch's rows, so
the summed gradient is the one a single process computes for the global batch: FTRL and AdaGrad see the
gradients of one-process training, up to the order of float additions.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ..model.optim import _rows
from ..model.widedeep import WideDeep


class Exchange:
    def __init__(self, model: WideDeep, device: torch.device):
        sparse = {id(p) for p in model.sparse_parameters()}
        self.sparse = [p for p in model.parameters() if id(p) in sparse]
        self.dense = [p for p in model.parameters() if id(p) not in sparse and p.requires_grad]
        self.device = device
        self.world, self.rank = dist.get_world_size(), dist.get_rank()

    def __call__(self, extras: torch.Tensor) -> torch.Tensor:
        """Sum every gradient across processes; returns `extras` summed too."""
        local = [
            _rows(p.grad)
            if p.grad is not None
            else (torch.zeros(0, dtype=torch.long, device=self.device), p.new_zeros((0, *p.shape[1:])))
            for p in self.sparse
        ]
        sizes = self._all_reduce(extras, [len(idx) for idx, _ in local])
        self._gather_rows(local, sizes)
        return self._extras

    def _all_reduce(self, extras: torch.Tensor, counts: list[int]) -> list[list[int]]:
        """Sum the dense gradients and extras; returns every process's sparse row counts [world][param]."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.dense]
        slots = torch.zeros((self.world, len(counts)), dtype=torch.float32)
        slots[self.rank] = torch.tensor(counts, dtype=torch.float32)
        flat = torch.cat(
            [g.reshape(-1).float() for g in grads] + [extras.float().to(self.device), slots.reshape(-1).to(self.device)]
        )
        dist.all_reduce(flat)
        at = 0
        for p, g in zip(self.dense, grads):
            n = g.numel()
            p.grad = flat[at : at + n].view_as(g).to(g.dtype)
            at += n
        self._extras = flat[at : at + len(extras)].double().cpu()
        return flat[at + len(extras) :].view(self.world, len(counts)).round().long().tolist()

    def _gather_rows(self, local: list[tuple[torch.Tensor, torch.Tensor]], sizes: list[list[int]]) -> None:
        if not self.sparse:
            return
        longest = [max(s[j] for s in sizes) for j in range(len(self.sparse))]
        widths = [p[0].numel() for p in self.sparse]
        pad = torch.nn.functional.pad
        parts = []
        for (idx, vals), m, w in zip(local, longest, widths):  # ids as float32 pairs: gathered bit for bit
            parts += [
                pad(idx, (0, m - len(idx))).view(torch.float32),
                pad(vals.reshape(-1).float(), (0, (m - len(idx)) * w)),
            ]
        mine = torch.cat(parts)
        everyone = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(everyone, mine)
        at = 0
        for j, (p, m, w) in enumerate(zip(self.sparse, longest, widths)):
            ids: list[torch.Tensor] = []
            values: list[torch.Tensor] = []
            for r in range(self.world):
                n = sizes[r][j]
                ids.append(everyone[r][at : at + 2 * n].clone().view(torch.long))  # (a copy: aligned to int64)
                values.append(everyone[r][at + 2 * m : at + 2 * m + n * w].view(-1, *p.shape[1:]))
            at += 2 * m + m * w
            rows, inverse = torch.unique(torch.cat(ids), sorted=True, return_inverse=True)
            summed = torch.zeros((len(rows), *p.shape[1:]), dtype=p.dtype, device=self.device)
            summed.index_add_(0, inverse, torch.cat(values).to(p.dtype))
            p.grad = torch.sparse_coo_tensor(
                rows.unsqueeze(0), summed, p.shape, is_coalesced=True, check_invariants=False
            )
