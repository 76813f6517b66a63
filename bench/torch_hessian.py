"""PyTorch peer of bench/hessian.ts: W4's top Hessian eigenvalue by Lanczos over Hessian-vector
products from double backpropagation, on the weights and data ndcnn wrote to argv[1], one thread.

Prints one JSON line: Hv per second, and the wall time and value of top-1 by the same Lanczos
(full reorthogonalisation, stop when the Ritz residual <= tol * |theta|) as ndcnn.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
d = sys.argv[1]
cfg = json.load(open(os.path.join(d, "config.json")))
n = cfg["samples"]
x = torch.from_numpy(np.fromfile(os.path.join(d, "x.f32"), dtype=np.float32).reshape(n, *cfg["inShape"]))
y = torch.from_numpy(np.fromfile(os.path.join(d, "y.i32"), dtype=np.int32).astype(np.int64))
theta = torch.from_numpy(np.fromfile(os.path.join(d, "params.f32"), dtype=np.float32))
c1, c2 = cfg["conv1"], cfg["conv2"]
shapes = [(c1["channels"], 1, c1["kernel"], c1["kernel"]), (c1["channels"],),
          (c2["channels"], c1["channels"], c2["kernel"], c2["kernel"]), (c2["channels"],),
          (cfg["classes"], 256), (cfg["classes"],)]


def unflatten(t):
    out, at = [], 0
    for s in shapes:
        k = int(np.prod(s))
        out.append(t[at:at + k].view(s))
        at += k
    return out


def loss_of(t):
    w1, b1, w2, b2, w3, b3 = unflatten(t)
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1)), cfg["pool"])
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2)), cfg["pool"])
    return F.cross_entropy(F.linear(h.flatten(1), w3, b3), y)


p = theta.clone().requires_grad_(True)
start = time.perf_counter()
g = torch.autograd.grad(loss_of(p), p, create_graph=True)[0]


def hv(v):
    return torch.autograd.grad(g, p, grad_outputs=torch.from_numpy(v.astype(np.float32)), retain_graph=True)[0].double().numpy()


def lanczos_top(tol, max_steps):
    rng = np.random.default_rng(1)
    q = rng.standard_normal(theta.numel())
    q /= np.linalg.norm(q)
    basis, alpha, beta = [], [], []
    for j in range(max_steps):
        basis.append(q)
        w = hv(q)
        a = q @ w
        alpha.append(a)
        Q = np.array(basis)
        for _ in range(2):
            w = w - Q.T @ (Q @ w)
        b = np.linalg.norm(w)
        beta.append(b)
        T = np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1)
        vals, vecs = np.linalg.eigh(T)
        if b * abs(vecs[-1, -1]) <= tol * max(abs(vals[0]), abs(vals[-1])):
            break
        q = w / b
    return vals[-1], j + 1


v = np.ones(theta.numel()) / np.sqrt(theta.numel())
hv(v)
t = time.perf_counter()
for _ in range(5):
    hv(v)
rate = 5 / (time.perf_counter() - t)
t = time.perf_counter()
g = torch.autograd.grad(loss_of(p), p, create_graph=True)[0]
top, steps = lanczos_top(cfg["tol"], 100)
top1 = time.perf_counter() - t
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "hvPerSecond": rate,
                  "top1": {"seconds": top1, "value": float(top), "steps": steps}}))
