"""PyTorch's CUDA peer of bench/webgpu.ts (run by bench/gpu-device.sh when torch sees a GPU):
W4's SGD step (the LeNet of bench/workloads.ts, batch 64) and the 3-D training step on
VOLUME³ volumes (argv[1], default 64), float32, timed with torch.cuda.synchronize(); prints JSON."""
import json
import sys
import time

import torch
import torch.nn as nn

volume = int(sys.argv[1]) if len(sys.argv) > 1 else 64
dev = torch.device("cuda")


def step_ms(net, x, y, rounds=20):
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(rounds):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1000 / rounds


torch.manual_seed(1)
lenet = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 10)).to(dev)
w4 = step_ms(lenet, torch.randn(64, 1, 28, 28, device=dev), torch.randint(0, 10, (64,), device=dev))
q = volume // 4
net3d = nn.Sequential(nn.Conv3d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2), nn.Conv3d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2), nn.Flatten(), nn.Linear(16 * q * q * q, 4)).to(dev)
v3 = step_ms(net3d, torch.randn(4, 1, volume, volume, volume, device=dev), torch.randint(0, 4, (4,), device=dev))
print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "W4": w4, f"3-D step {volume}³": v3}))
