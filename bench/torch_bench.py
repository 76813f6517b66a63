"""PyTorch peer of the ndcnn bench (run by bench/run.ts when `import torch` works).

Reads the workloads as JSON from argv[1] (so they are defined once, in bench/workloads.ts), and
the intra-op thread count from argv[2] (default: PyTorch's own), and prints one JSON object: W1-W3 forward and backward (input and filter gradients through
aten::convolution_backward, without a forward pass), W4's SGD step and W5's Gv and Hv products
on the same LeNet, all float32, NCHW.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def timed(fn, budget=2.0, min_runs=5):
    """Mean milliseconds per call after a warm-up call, over at least min_runs calls or budget seconds."""
    fn()
    runs, start = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < budget:
        fn()
        runs += 1
    return {"ms": (time.perf_counter() - start) * 1000 / runs, "samples": runs}


def conv_workload(w):
    rank = len(w["size"])
    conv = [F.conv1d, F.conv2d, F.conv3d][rank - 1]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(w["n"], w["cin"], *w["size"], generator=g)
    k = torch.randn(w["cout"], w["cin"], *w["kernel"], generator=g)
    y = conv(x, k)
    dy = torch.randn(y.shape, generator=g)
    ones, zeros = [1] * rank, [0] * rank

    def backward():
        torch.ops.aten.convolution_backward(dy, x, k, None, ones, zeros, ones, False, zeros, 1, [True, True, False])

    with torch.no_grad():
        return {"forward": timed(lambda: conv(x, k)), "backward": timed(backward)}


def lenet(cfg):
    torch.manual_seed(1)
    c1, c2 = cfg["conv1"], cfg["conv2"]
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, c1["channels"], c1["kernel"]), torch.nn.ReLU(), torch.nn.MaxPool2d(cfg["pool"]),
        torch.nn.Conv2d(c1["channels"], c2["channels"], c2["kernel"]), torch.nn.ReLU(), torch.nn.MaxPool2d(cfg["pool"]),
        torch.nn.Flatten(), torch.nn.Linear(256, cfg["classes"]),
    )


def train_workloads(cfg):
    net = lenet(cfg)
    params = list(net.parameters())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(cfg["batch"], *cfg["inShape"], generator=g)
    y = torch.randint(0, cfg["classes"], (cfg["batch"],), generator=g)
    opt = torch.optim.SGD(params, lr=cfg["learningRate"])

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    v = [torch.randn(p.shape, generator=g) for p in params]

    def hv():
        # H v = ∇(∇E · v), by double backward.
        grads = torch.autograd.grad(F.cross_entropy(net(x), y), params, create_graph=True)
        torch.autograd.grad(sum((a * b).sum() for a, b in zip(grads, v)), params)

    def gv():
        # G v = Jᵀ H_L J v: J v by the double-vjp trick, H_L of softmax-CE (mean over the batch),
        # then one vjp.
        z = net(x)
        w = torch.zeros_like(z, requires_grad=True)
        jtw = torch.autograd.grad(z, params, w, create_graph=True)
        jv = torch.autograd.grad(jtw, w, v)[0]
        p = torch.softmax(z, 1).detach()
        hu = (p * jv - p * (p * jv).sum(1, keepdim=True)) / z.shape[0]
        torch.autograd.grad(z, params, hu)

    return {"W4": timed(step), "W5 Gv": timed(gv), "W5 Hv": timed(hv)}


def main():
    spec = json.loads(sys.argv[1])
    if len(sys.argv) > 2:
        torch.set_num_threads(int(sys.argv[2]))
    out = {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "conv": {w["id"]: conv_workload(w) for w in spec["conv"]},
        "train": train_workloads(spec["lenet"]),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
