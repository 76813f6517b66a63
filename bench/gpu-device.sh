#!/usr/bin/env bash
# One command for a machine with a GPU (NVIDIA, no network, no X server): the WebGPU backend on
# the real adapter through Dawn in Node, against the CPU backend at 2 threads in the same run
# (W1–W4 and a 3-D training step on 64³ volumes), and PyTorch's CUDA step when torch sees a GPU.
#
#   bash bench/gpu-device.sh [VOLUME]          # from the repository root, after npm ci
#
# Why Dawn in Node and not headless Chromium there: Debian's chromium is ~300 MB of binaries and
# shared libraries with its own dependency tree, which cannot be installed without a network; the
# npm package `webgpu` (dawn.node, in node_modules) needs only the Vulkan loader libvulkan.so.1
# and the NVIDIA driver's Vulkan ICD, which a machine with the NVIDIA driver has (the loader is
# Debian's libvulkan1; chromium also ships a copy in /usr/lib/chromium). Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
volume="${1:-64}"
out="bench/results/gpu-device-$(date -u +%Y-%m-%dT%H-%M-%S).json"

command -v node >/dev/null || { echo "gpu-device: node is missing" >&2; exit 1; }
[ -f node_modules/webgpu/package.json ] || { echo "gpu-device: node_modules/webgpu is missing (npm ci first)" >&2; exit 1; }
if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
  if [ -f /usr/lib/chromium/libvulkan.so.1 ]; then export LD_LIBRARY_PATH="/usr/lib/chromium${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else echo "gpu-device: the Vulkan loader libvulkan.so.1 is missing (Debian: libvulkan1)" >&2; exit 1; fi
fi
icd=$(ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -1 || true)
if [ -n "$icd" ] && [ -z "${VK_ICD_FILENAMES:-}" ]; then export VK_ICD_FILENAMES="$icd"; fi
echo "gpu-device: Vulkan driver ${VK_ICD_FILENAMES:-(the loader's default search)}" >&2
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true

NDCNN_THREADS=2 npx tsx bench/webgpu.ts --volume "$volume" --threads 2 --rounds 10 --out "$out"
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "PyTorch CUDA: $(python3 bench/torch_cuda.py "$volume")"
else
  echo "PyTorch CUDA: not run (torch missing or it sees no GPU)"
fi
echo "gpu-device: wrote $out" >&2
