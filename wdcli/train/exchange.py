"""The gradient exchange of data-parallel training (`torchrun`): after each process's backward pass, every
process ends with the gradient of the whole global batch, and the optimizers then make the same update on every
replica. No process holds more than the rows its batch touched.

- Dense parameters (the MLP, the bias): their gradients, flattened into one buffer with a few numbers the loop
  shares (the batch's loss, stop and save requests), are summed by one all-reduce.
- Sparse tables (the wide weights, the embeddings): each process sums its gradient's rows (`optim._rows`),
  then one all-gather exchanges the row counts and two more the rows' ids and values, padded to the longest;
  each process adds up the rows of all. This moves the rows a global batch touched (for 26 categorical
  columns and a batch of 1,024, some tens of thousands of rows) instead of all-reducing whole tables (millions of
  rows), or the per-row duplicates that torch's DDP sends for sparse gradients.

Each process's loss is its rows' summed loss divided by the global batch's rows, so the summed gradient is the
one a single process would get for the global batch; FTRL and AdaGrad then see the very gradients of
one-process training.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ..model.optim import _rows


class Exchange:
    def __init__(self, model: torch.nn.Module, device: torch.device):
        sparse = {id(p) for p in model.sparse_parameters()}
        self.sparse = [p for p in model.parameters() if id(p) in sparse]
        self.dense = [p for p in model.parameters() if id(p) not in sparse and p.requires_grad]
        self.device = device
        self.world = dist.get_world_size()

    def __call__(self, extras: torch.Tensor) -> torch.Tensor:
        """Sum every gradient across processes; returns `extras` (float64 numbers) summed too."""
        self._dense(extras)
        self._sparse()
        return self._extras

    def _dense(self, extras: torch.Tensor) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.dense]
        flat = torch.cat([g.reshape(-1).to(torch.float64) for g in grads] + [extras.to(self.device, torch.float64)])
        dist.all_reduce(flat)
        at = 0
        for p, g in zip(self.dense, grads):
            n = g.numel()
            p.grad = flat[at:at + n].view_as(g).to(g.dtype)
            at += n
        self._extras = flat[at:].cpu()

    def _sparse(self) -> None:
        if not self.sparse:
            return
        local = [_rows(p.grad) if p.grad is not None else
                 (torch.zeros(0, dtype=torch.long, device=self.device), p.new_zeros((0, *p.shape[1:])))
                 for p in self.sparse]
        sizes = torch.tensor([len(idx) for idx, _ in local], dtype=torch.long, device=self.device)
        all_sizes = _gather(sizes, self.world)
        longest = all_sizes.max(0).values.tolist()
        all_sizes = all_sizes.tolist()
        widths = [p[0].numel() for p in self.sparse]
        ids = torch.cat([torch.nn.functional.pad(idx, (0, m - len(idx))) for (idx, _), m in zip(local, longest)])
        vals = torch.cat([torch.nn.functional.pad(v.reshape(-1), (0, (m - len(v)) * w))
                          for (_, v), m, w in zip(local, longest, widths)])
        all_ids, all_vals = _gather(ids, self.world), _gather(vals, self.world)
        at_id = at_val = 0
        for j, (p, m, w) in enumerate(zip(self.sparse, longest, widths)):
            keep = [all_ids[r, at_id:at_id + all_sizes[r][j]] for r in range(self.world)]
            values = [all_vals[r, at_val:at_val + all_sizes[r][j] * w].view(-1, *p.shape[1:]) for r in range(self.world)]
            at_id, at_val = at_id + m, at_val + m * w
            grad = torch.sparse_coo_tensor(torch.cat(keep).unsqueeze(0), torch.cat(values), p.shape,
                                           check_invariants=False)
            rows, summed = _rows(grad)
            p.grad = torch.sparse_coo_tensor(rows.unsqueeze(0), summed, p.shape, is_coalesced=True,
                                             check_invariants=False)


def _gather(t: torch.Tensor, world: int) -> torch.Tensor:
    """[world, *t.shape]: every process's tensor of this shape."""
    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t)
    return torch.stack(parts)
