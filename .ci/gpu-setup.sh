#!/usr/bin/env bash
# Prepares real (software) WebGL for the GPU backend's tests: Xvfb for a display, Mesa's
# OpenGL, the X headers the optional `gl` npm package compiles against, and that package built.
# Idempotent: installs only what is missing (one `apt-get update` at most) and rebuilds `gl`
# only when Node cannot load it. Then run, from the repo root:
#   xvfb-run -a env NDCNN_GPU_MODE=headlessgl npx vitest run test/gpu
#   NDCNN_GPU_MODE=webasm npx vitest run test/gpu
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(xvfb xauth libx11-dev libxi-dev libxext-dev pkg-config libgl1-mesa-dri libglx-mesa0 libgl1 libegl1 python3 make g++ chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "gpu-setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "gpu-setup: apt packages present"
fi

# gpu.js lists `gl` as an optionalDependency, so `npm ci` carries on when its native build
# fails; rebuild it here (about 4 minutes of compiling ANGLE on 2 cores).
if node -e "require('gl')" 2>/dev/null; then
  echo "gpu-setup: gl loads"
else
  echo "gpu-setup: building gl (npm rebuild gl)"
  npm rebuild gl --foreground-scripts
  node -e "require('gl')"
fi

# The headless context needs an X display: prove one under xvfb-run before the tests rely on it.
xvfb-run -a node -e "
const gl = require('gl')(1, 1);
if (!gl) { console.error('gpu-setup: gl could not open a context under Xvfb'); process.exit(1); }
console.log('gpu-setup: WebGL', gl.getParameter(gl.VERSION), 'on', gl.getParameter(gl.RENDERER));
"
