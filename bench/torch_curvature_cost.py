"""PyTorch peer of bench/curvature-cost.ts: the same per-sample and diagonal quantities on the
same nets, weights and data (written by it; argv[1] is nets.json), one thread, float32.

Per-sample gradients through functorch's vmap(grad(.)) (torch 1.13's form of torch.func): one
vectorised backward pass over the per-sample losses, as BackPACK's and Opacus' fastest paths.
  gradient                              loss.backward() on the batch's mean loss
  per-sample norms + variance           vmap over l_n/N, then ||g_n||^2 and sum g_n^2, mean, variance
  per-sample gradients (materialised)   the vmap alone
  GGN diagonal, Monte-Carlo (1 sample)  vmap over the losses at targets sampled from softmax(z), squared and summed
  GGN diagonal, exact                   one vmap per class c over <z_n, s_nc> with S_n S_n^T = diag p - p p^T, squared and summed
Times are medians over rounds that run every quantity once in turn. Prints one JSON line.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from functorch import grad, make_functional, vmap

torch.set_num_threads(1)
cfg = json.load(open(sys.argv[1]))
ACT = {'relu': nn.ReLU, 'tanh': nn.Tanh, 'sigmoid': nn.Sigmoid}
CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}


def build(specs, in_shape):
    """ndcnn's conv / maxPool / flatten / dense specs as nn.Sequential (parameters in ndcnn's order)."""
    mods, shape = [], list(in_shape)
    for s in specs:
        if s['kind'] == 'conv':
            m = CONV[len(shape) - 1](shape[0], s['channels'], s['kernel'], stride=s.get('stride', 1))
            mods.append(m)
        elif s['kind'] == 'maxPool':
            mods.append(POOL[len(shape) - 1](s['window']))
        elif s['kind'] == 'flatten':
            mods.append(nn.Flatten())
        elif s['kind'] == 'dense':
            mods.append(nn.Linear(int(np.prod(shape)), s['units']))
        else:
            raise ValueError(f"unsupported layer {s['kind']}")
        if s.get('activation', 'identity') != 'identity':
            mods.append(ACT[s['activation']]())
        with torch.no_grad():
            shape = list(nn.Sequential(*mods)(torch.zeros(1, *in_shape)).shape[1:])
    return nn.Sequential(*mods)


def case(c):
    d = c['dir']
    n = c['batch']
    x = torch.from_numpy(np.fromfile(f'{d}/x.f32', dtype=np.float32).reshape(n, *c['inShape']))
    y = torch.from_numpy(np.fromfile(f'{d}/y.i32', dtype=np.int32).astype(np.int64))
    model = build(c['specs'], c['inShape'])
    theta = torch.from_numpy(np.fromfile(f'{d}/params.f32', dtype=np.float32))
    with torch.no_grad():
        at = 0
        for p in model.parameters():
            p.copy_(theta[at:at + p.numel()].view_as(p))
            at += p.numel()
    fmodel, params = make_functional(model)

    def loss_one(ps, xi, yi):
        return F.cross_entropy(fmodel(ps, xi[None]), yi[None]) / n

    def dot_one(ps, xi, si):
        return (fmodel(ps, xi[None])[0] * si).sum() / n ** 0.5

    per_sample = vmap(grad(loss_one), in_dims=(None, 0, 0))
    per_column = vmap(grad(dot_one), in_dims=(None, 0, 0))

    def gradient():
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()

    def norms_variance():
        g = per_sample(params, x, y)
        norms = sum((t ** 2).flatten(1).sum(1) for t in g)
        sgs = [(t ** 2).sum(0) for t in g]
        mean = [t.sum(0) / n for t in g]
        return norms, [s / n - m ** 2 for s, m in zip(sgs, mean)]

    def materialised():
        return per_sample(params, x, y)

    def mc_diagonal():
        with torch.no_grad():
            p = F.softmax(model(x), 1)
        sampled = torch.multinomial(p, 1)[:, 0]
        return [(t ** 2).sum(0) for t in per_sample(params, x, sampled)]

    def exact_diagonal():
        with torch.no_grad():
            p = F.softmax(model(x), 1)
        diag = None
        for k in range(p.shape[1]):
            s = p[:, k:k + 1].sqrt() * (F.one_hot(torch.full((n,), k), p.shape[1]) - p)
            sq = [(t ** 2).sum(0) for t in per_column(params, x, s)]
            diag = sq if diag is None else [a + b for a, b in zip(diag, sq)]
        return diag

    quantities = [('gradient', gradient), ('per-sample norms + variance', norms_variance), ('per-sample gradients (materialised)', materialised),
                  ('GGN diagonal, Monte-Carlo (1 sample)', mc_diagonal), ('GGN diagonal, exact', exact_diagonal)]
    for _, f in quantities:
        f()
    times = [[] for _ in quantities]
    for _ in range(cfg['rounds']):
        for i, (_, f) in enumerate(quantities):
            t = time.perf_counter()
            f()
            times[i].append((time.perf_counter() - t) * 1000)
    med = [float(np.median(t)) for t in times]
    return [{'net': c['id'], 'quantity': q, 'ms': m, 'ratio': m / med[0]} for (q, _), m in zip(quantities, med)]


print(json.dumps([r for c in cfg['nets'] for r in case(c)]))
