"""Optimizers for the two parts: FTRL-Proximal for the wide part, AdaGrad for the deep part (and Adam, AdamW,
SGD as alternatives).

All update only the rows a batch touched when the gradient is sparse (the wide table, embedding tables), so a
step costs in proportion to the batch, not to the table. Weight decay on such a table is lazy: it applies to
the rows a batch touched, when it touched them (as in TensorFlow's sparse optimizers).

FTRL-Proximal (McMahan et al., 2013, "Ad Click Prediction: a View from the Trenches", Algorithm 1), per
coordinate i with gradient g:
    sigma = (sqrt(n_i + g^2) - sqrt(n_i)) / alpha
    z_i  += g - sigma * w_i
    n_i  += g^2
    w_i   = 0                                                   if |z_i| <= l1
          = -(z_i - sign(z_i) * l1) / ((beta + sqrt(n_i)) / alpha + l2)   otherwise
so L1 sets weak weights to exactly zero. AdaGrad (Duchi et al., 2011), per coordinate:
    n_i += g^2;   w_i -= lr * g / sqrt(n_i)          (n_i starts at initial_accumulator)

Batch size. The paper states FTRL per example: t counts examples, g is one example's gradient of its log loss,
and beta ("beta = 1 is usually good enough"), l1 and l2 (the penalties l1 |w|_1 + l2/2 |w|^2 added to the
*summed* loss) are measured against per-example gradients; AdaGrad's initial accumulator likewise. The trainer's
loss is the batch *mean*, whose gradient is 1/B of the sum over the batch's B examples; fed as it is, every
g^2 is B^2 times smaller, beta = 1 and initial_accumulator = 0.1 swamp sqrt(n_i), and both optimizers turn into
plain SGD with a tiny step (the 10x slower learning measured at batch 1,024 in issue 10). So FTRL and AdaGrad
step on the per-example sum of the batch's gradients,
    g_i = sum over the batch's examples e of d loss_e / d w_i   (= B x the mean's gradient: `step(examples=B)`),
the update the paper's algorithm makes for a coordinate that one example of the batch touches. Both rules are
invariant to the gradient's scale except through their constants, so this is the same as scaling them with
the batch on the mean's gradient:
    FTRL(alpha, beta, l1, l2) on B g      ==  FTRL(alpha, beta / B, l1 / B, l2 / B) on g
    AdaGrad(lr, initial_accumulator) on B g  ==  AdaGrad(lr, initial_accumulator / B^2) on g
What this buys: a row that at most one example of a batch touches (most rows of a wide table or an embedding
table) gets exactly the example-by-example update whatever B is (tests/test_optim.py: one batch of B such
examples ends at the very weights of B batches of one), and the constants mean the same at every batch size.
A row that k examples of a batch touch takes one step on their summed gradient, n_i growing by (sum g)^2
rather than sum g^2: a cautious step (at most about alpha, or lr, at first), since the examples did not see
each other's updates. Adam and SGD take the mean as it is (their learning rates are stated for it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _rows(grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(unique row ids ascending, summed gradient rows) of a sparse gradient, as coalesce() gives. A table of at
    most MARK_TABLE times the batch's ids is marked in O(rows + ids) (about 2x faster than a sort for a batch's
    few thousand ids); a larger one (the wide part with hashed crosses of a million buckets) is sorted, so that
    a step never costs in proportion to the table."""
    if grad.is_coalesced():
        return grad.indices()[0], grad.values()
    idx, vals = grad._indices()[0], grad._values()
    n, device = grad.shape[0], vals.device
    if n > MARK_TABLE * max(len(idx), 1):
        rows, inverse = torch.unique(idx, sorted=True, return_inverse=True)
    else:
        seen = torch.zeros(n, dtype=torch.bool, device=device)
        seen[idx] = True
        rows = seen.nonzero().squeeze(1)
        pos = torch.empty(n, dtype=torch.long, device=device)
        pos[rows] = torch.arange(len(rows), device=device)
        inverse = pos[idx]
    summed = torch.zeros((len(rows), *vals.shape[1:]), dtype=vals.dtype, device=device).index_add_(0, inverse, vals)
    return rows, summed


MARK_TABLE = 64


class FTRL(torch.optim.Optimizer):
    """FTRL-Proximal on the per-example sum of gradients (`step(examples=B)`), as the module's docstring says."""

    def __init__(self, params, alpha: float = 0.02, beta: float = 1.0, l1: float = 0.0, l2: float = 0.0):
        super().__init__(params, dict(alpha=alpha, beta=beta, l1=l1, l2=l2))

    def fresh_state(self, p: torch.Tensor, group: dict) -> dict:
        return {"z": torch.zeros_like(p), "n": torch.zeros_like(p)}

    @staticmethod
    def _update(w, z, n, g, alpha, beta, l1, l2):
        """FTRL on matching slices; returns the new weights, z and n (all the same shape)."""
        n_new = n + g * g
        sigma = (n_new.sqrt() - n.sqrt()) / alpha
        z = z + g - sigma * w
        w = torch.where(z.abs() <= l1, torch.zeros_like(z), -(z - z.sign() * l1) / ((beta + n_new.sqrt()) / alpha + l2))
        return w, z, n_new

    @torch.no_grad()
    def step(self, closure=None, examples: float = 1.0):
        """One update from the gradient of a loss averaged over `examples` rows (1: a summed loss)."""
        for group in self.param_groups:
            hp = (group["alpha"], group["beta"], group["l1"], group["l2"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = start_state(self, p, group)
                z, n = state["z"], state["n"]
                if p.grad.is_sparse:
                    idx, g = _rows(p.grad)
                    w_new, z_new, n_new = self._update(p[idx], z[idx], n[idx], g * examples, *hp)
                    p.index_copy_(0, idx, w_new)
                    z.index_copy_(0, idx, z_new)
                    n.index_copy_(0, idx, n_new)
                else:
                    w_new, z_new, n_new = self._update(p, z, n, p.grad * examples, *hp)
                    p.copy_(w_new)
                    z.copy_(z_new)
                    n.copy_(n_new)


class Adagrad(torch.optim.Optimizer):
    """AdaGrad (Duchi et al., 2011) on the per-example sum of gradients (`step(examples=B)`), with sparse row
    updates: g = B * grad + weight_decay * w; sum += g^2; w -= lr * g / (sqrt(sum) + eps)."""

    def __init__(
        self, params, lr: float = 0.05, initial_accumulator: float = 0.1, weight_decay: float = 0.0, eps: float = 1e-10
    ):
        super().__init__(
            params, dict(lr=lr, initial_accumulator=initial_accumulator, weight_decay=weight_decay, eps=eps)
        )

    def fresh_state(self, p: torch.Tensor, group: dict) -> dict:
        return {"sum": torch.full_like(p, group["initial_accumulator"])}

    @torch.no_grad()
    def step(self, closure=None, examples: float = 1.0):
        """One update from the gradient of a loss averaged over `examples` rows (1: a summed loss)."""
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                acc = start_state(self, p, group)["sum"]
                if p.grad.is_sparse:
                    idx, g = _rows(p.grad)
                    g = g * examples
                    if wd:
                        g = g + wd * p[idx]
                    a = acc[idx] + g * g
                    acc.index_copy_(0, idx, a)
                    p.index_add_(0, idx, -lr * g / (a.sqrt() + eps))
                else:
                    g = p.grad * examples
                    if wd:
                        g = g + wd * p
                    acc.addcmul_(g, g)
                    p.addcdiv_(g, acc.sqrt().add_(eps), value=-lr)


class SparseAdam(torch.optim.SparseAdam):
    """torch's lazy Adam for sparse tables, with weight decay on the rows a batch touched: added to their
    gradient (adam), or decoupled, w -= lr * weight_decay * w after the step (adamw, Loshchilov & Hutter)."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, decoupled: bool = False):
        super().__init__(params, lr=lr)
        self.weight_decay, self.decoupled = weight_decay, decoupled

    def fresh_state(self, p: torch.Tensor, group: dict) -> dict:
        return {
            "step": 0,
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }

    @torch.no_grad()
    def step(self, closure=None):
        _start_touched(self)
        if not self.weight_decay:
            return super().step(closure)
        touched = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                idx, g = _rows(p.grad)
                if not self.decoupled:
                    g = g + self.weight_decay * p[idx]
                p.grad = torch.sparse_coo_tensor(
                    idx.unsqueeze(0), g, p.shape, check_invariants=False, is_coalesced=True
                )
                touched.append((p, idx, group["lr"]))
        super().step(closure)
        if self.decoupled:
            for p, idx, lr in touched:
                p.index_copy_(0, idx, p[idx] * (1 - lr * self.weight_decay))


class SparseSGD(torch.optim.Optimizer):
    """SGD for sparse tables, with lazy momentum: the rows a batch touched get v = momentum * v + g and
    w -= lr * v; other rows keep their velocity until they are touched again."""

    def __init__(self, params, lr: float, momentum: float = 0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def fresh_state(self, p: torch.Tensor, group: dict) -> dict:
        return {"velocity": torch.zeros_like(p)} if group["momentum"] else {}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, m = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not m:  # the sparse gradient added as it is (torch adds its uncoalesced rows): no need to sum them
                    p.add_(p.grad, alpha=-lr)
                    continue
                idx, g = _rows(p.grad)
                state = start_state(self, p, group)
                g = m * state["velocity"][idx] + g
                state["velocity"].index_copy_(0, idx, g)
                p.index_add_(0, idx, -lr * g)


class Adam(torch.optim.Adam):
    """torch's Adam, its state started by `fresh_state` (before its first step, or by a warm start)."""

    def fresh_state(self, p: torch.Tensor, group: dict) -> dict:
        state = {
            "step": torch.tensor(0.0, dtype=torch.get_default_dtype()),  # (on the CPU, as torch keeps it)
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self, closure=None):
        _start_touched(self)
        return super().step(closure)


class AdamW(Adam, torch.optim.AdamW):
    """torch's AdamW (decoupled weight decay), its state started as Adam's."""


class SGD(torch.optim.SGD):
    """torch's SGD, its momentum buffer started at zero by `fresh_state` (torch starts it as the first gradient:
    momentum * 0 + g is the same)."""

    def fresh_state(self, p: torch.Tensor, group: dict) -> dict:
        return {"momentum_buffer": torch.zeros_like(p)} if group["momentum"] else {}

    @torch.no_grad()
    def step(self, closure=None):
        _start_touched(self)
        return super().step(closure)


# the optimizers of this module (AdamW is an Adam): each starts a parameter's state by its `fresh_state`
PartOptimizer = FTRL | Adagrad | SparseAdam | SparseSGD | Adam | SGD


def start_state(opt: PartOptimizer, p: torch.Tensor, group: dict) -> dict:
    """A parameter's state, started (`opt.fresh_state`) if it has none yet: what its first step does, and a
    warm start or a resumed checkpoint before they fill it in."""
    state = opt.state[p]
    if not state:
        state.update(opt.fresh_state(p, group))
    return state


def _start_touched(opt: PartOptimizer) -> None:
    """Start the state of the parameters a step is about to update (for the torch optimizers above, whose own
    step then finds it started)."""
    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                start_state(opt, p, group)


def init_state(opt: PartOptimizer) -> None:
    """Start every parameter's state now, as its first step would, so that a warm start (`wdcli.train.warm`) can
    fill it in before the first step. State already there is kept."""
    for group in opt.param_groups:
        for p in group["params"]:
            start_state(opt, p, group)


# ---------------------------------------------------------------------------------- the state's encoding


def optimizer_state(model: torch.nn.Module, optimizers: Sequence[torch.optim.Optimizer]) -> dict[str, torch.Tensor]:
    """Every optimizer's state by parameter name and key ('wide.weight.z', 'embed.8.weight.exp_avg'), as tensors
    (a step count too): what checkpoints and artifacts hold."""
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for opt in optimizers:
        for p, state in opt.state.items():
            for key, value in state.items():
                out[f"{names[id(p)]}.{key}"] = (
                    value.detach() if isinstance(value, torch.Tensor) else torch.tensor(value)
                )
    return out


@torch.no_grad()
def load_optimizer_state(
    model: torch.nn.Module, optimizers: Sequence[PartOptimizer], saved: dict[str, torch.Tensor]
) -> None:
    """Restore what `optimizer_state` gave: a parameter with saved state starts its state and takes the saved
    values (on its device, in its types); one without keeps none, as it had."""
    names = {id(p): n for n, p in model.named_parameters()}
    for opt in optimizers:
        for group in opt.param_groups:
            for p in group["params"]:
                prefix = f"{names[id(p)]}."
                values = {k[len(prefix) :]: v for k, v in saved.items() if k.startswith(prefix)}
                values = {k: v for k, v in values.items() if "." not in k}  # (not a longer parameter name's)
                opt.state.pop(p, None)
                if values:
                    state = start_state(opt, p, group)
                    for key, value in values.items():
                        state[key] = _like(state.get(key), value)


def _like(current, value: torch.Tensor):
    """A saved value in the type of the started state's (an int step count, or a tensor on its device)."""
    if isinstance(current, int):
        return int(value.item())
    if isinstance(current, torch.Tensor):
        return current.copy_(value)
    return value.clone()


def step_all(optimizers: Sequence[torch.optim.Optimizer], examples: int) -> None:
    """Step every optimizer on the gradients of a loss averaged over `examples` rows (the batch's mean; with
    gradients averaged across ranks, every rank's rows). FTRL and AdaGrad turn them into the per-example sum;
    Adam and SGD take the mean as it is."""
    for opt in optimizers:
        if isinstance(opt, (FTRL, Adagrad)):
            opt.step(examples=examples)
        else:
            opt.step()


def make_optimizers(model, train) -> list[PartOptimizer]:
    """One optimizer (or a sparse/dense pair) per part, as the spec's train section says."""
    out: list[PartOptimizer] = []
    wide, deep = model.wide_parameters(), model.deep_parameters()
    # the shared bias learns with the deep part's optimizer when there is one (FTRL's L1 would pull it to 0)
    (deep if deep else wide).append(model.bias)
    sparse = {id(p) for p in model.sparse_parameters()}
    for params, opt in ((wide, train.wide_optimizer), (deep, train.deep_optimizer)):
        if params:
            out += _make(params, opt, sparse)
    return out


def _make(params, opt, sparse_ids: set[int]) -> list[PartOptimizer]:
    if opt.name == "ftrl":
        return [FTRL(params, opt.alpha, opt.beta, opt.l1, opt.l2)]
    if opt.name == "adagrad":
        return [Adagrad(params, opt.lr, opt.initial_accumulator, opt.weight_decay)]
    sparse = [p for p in params if id(p) in sparse_ids]
    dense = [p for p in params if id(p) not in sparse_ids]
    out: list[PartOptimizer] = []
    if opt.name in ("adam", "adamw"):
        if sparse:
            out.append(SparseAdam(sparse, lr=opt.lr, weight_decay=opt.weight_decay, decoupled=opt.name == "adamw"))
        cls = Adam if opt.name == "adam" else AdamW
        if dense:
            out.append(cls(dense, lr=opt.lr, weight_decay=opt.weight_decay))
    else:
        if sparse:
            out.append(SparseSGD(sparse, lr=opt.lr, momentum=opt.momentum))
        if dense:
            out.append(SGD(dense, lr=opt.lr, momentum=opt.momentum))
    return out
