"""PyTorch peer of bench/kfac-cost.ts: K-FAC's Fisher factors of a small CNN (the ndcnn layer
specs, weights and data that ndcnn wrote to argv[1]), on its threads, float32, by the same
algorithm as ndcnn: the layers' inputs and pre-activations from one forward pass, one backward
pass of targets sampled from the model to every pre-activation, A = sum of patch Gram matrices
(F.unfold for 2-D, a length-1 height for 1-D, padded strided slices for 3-D, which torch has
no unfold for), G = sum of the output gradients' Gram matrices, both by matmul.

Prints one JSON line: ms per gradient (forward + backward), per factors, per gradient+factors
(one forward, two backward passes, the Grams) and their ratios to the gradient.
"""
import itertools
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1]
cfg = json.load(open(os.path.join(d, 'config.json')))
torch.set_num_threads(cfg['threads'])
n = cfg['n']
x = torch.from_numpy(np.fromfile(os.path.join(d, 'x.f32'), dtype=np.float32).reshape(n, *cfg['inShape']))
y = torch.from_numpy(np.fromfile(os.path.join(d, 'y.i32'), dtype=np.int32).astype(np.int64))
theta = torch.from_numpy(np.fromfile(os.path.join(d, 'params.f32'), dtype=np.float32))

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
ACT = {'identity': lambda h: h, 'relu': F.relu, 'tanh': torch.tanh, 'sigmoid': torch.sigmoid}


def tup(v, r):
    return tuple(v) if isinstance(v, list) else (v,) * r


# Parameters per layer, cut from ndcnn's flat vector (weights then bias, PyTorch layouts).
params, at, shape = [], 0, list(cfg['inShape'])
for s in cfg['specs']:
    ps = []
    if s['kind'] == 'conv':
        r = len(shape) - 1
        k = tup(s['kernel'], r)
        w = (s['channels'], shape[0], *k)
        ps = [theta[at:at + int(np.prod(w))].view(w).clone().requires_grad_(True)]
        at += int(np.prod(w))
        ps.append(theta[at:at + s['channels']].clone().requires_grad_(True))
        at += s['channels']
        p = tup(s.get('padding', 0), r)
        shape = [s['channels']] + [shape[1 + a] + 2 * p[a] - k[a] + 1 for a in range(r)]
    elif s['kind'] == 'dense':
        w = (s['units'], shape[0])
        ps = [theta[at:at + int(np.prod(w))].view(w).clone().requires_grad_(True)]
        at += int(np.prod(w))
        ps.append(theta[at:at + s['units']].clone().requires_grad_(True))
        at += s['units']
        shape = [s['units']]
    elif s['kind'] == 'maxPool':
        shape = [shape[0]] + [v // s['window'] for v in shape[1:]]
    elif s['kind'] == 'flatten':
        shape = [int(np.prod(shape))]
    params.append(ps)
flat = [p for ps in params for p in ps]


def forward(keep=None):
    h = x
    for s, ps in zip(cfg['specs'], params):
        if s['kind'] == 'conv':
            r = h.dim() - 2
            if keep is not None:
                keep.append(('conv', h, s))
            z = CONV[r](h, ps[0], ps[1], padding=s.get('padding', 0))
            if keep is not None:
                keep[-1] += (z,)
            h = ACT[s.get('activation', 'identity')](z)
        elif s['kind'] == 'dense':
            if keep is not None:
                keep.append(('dense', h, s))
            z = F.linear(h, ps[0], ps[1])
            if keep is not None:
                keep[-1] += (z,)
            h = ACT[s.get('activation', 'identity')](z)
        elif s['kind'] == 'maxPool':
            h = POOL[h.dim() - 2](h, s['window'])
        elif s['kind'] == 'flatten':
            h = h.flatten(1)
    return h


def columns(h, s):
    """[CK (+1), n*T]: the layer's input patches with the homogeneous row of ones."""
    r = h.dim() - 2
    k, p = tup(s['kernel'], r), tup(s.get('padding', 0), r)
    if r == 2:
        c = F.unfold(h, k, padding=p)
    elif r == 1:
        c = F.unfold(h.unsqueeze(2), (1, k[0]), padding=(0, p[0]))
    else:
        hp = F.pad(h, [q for v in reversed(p) for q in (v, v)])
        out = [hp.shape[2 + a] - k[a] + 1 for a in range(3)]
        c = torch.stack([hp[:, :, a[0]:a[0] + out[0], a[1]:a[1] + out[1], a[2]:a[2] + out[2]].reshape(h.shape[0], h.shape[1], -1)
                         for a in itertools.product(*[range(v) for v in k])], 2).reshape(h.shape[0], -1, int(np.prod(out)))
    c = c.transpose(0, 1).reshape(c.shape[1], -1)
    return torch.cat([c, torch.ones(1, c.shape[1])], 0)


def factors(with_grad):
    keep = []
    z = forward(keep)
    if with_grad:
        torch.autograd.grad(F.cross_entropy(z, y), flat, retain_graph=True)
    p = torch.softmax(z.detach(), 1)
    yhat = torch.multinomial(p, 1).squeeze(1)
    gs = torch.autograd.grad(F.cross_entropy(z, yhat, reduction='sum'), [k[3] for k in keep])
    out = []
    for (kind, h, s, _), g in zip(keep, gs):
        h = h.detach()
        cols = columns(h, s) if kind == 'conv' else torch.cat([h.t(), torch.ones(1, h.shape[0])], 0)
        A = cols @ cols.t() / n
        dz = g.reshape(n, g.shape[1], -1)
        T = dz.shape[2]
        dz = dz.transpose(0, 1).reshape(g.shape[1], -1)
        out.append((A, dz @ dz.t() / (n * T)))
    return out


def gradient():
    torch.autograd.grad(F.cross_entropy(forward(), y), flat)


def ms(fn, budget=2.0):
    fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < budget or len(times) < 5:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


g = ms(gradient)
f = ms(lambda: factors(False))
gf = ms(lambda: factors(True))
print(json.dumps({'gradientMs': g, 'factorsMs': f, 'gradientFactorsMs': gf, 'factors': f / g, 'gradientFactors': gf / g, 'threads': cfg['threads']}))
