#!/usr/bin/env bash
# Runs vitest; under xvfb-run when there is no X display and Xvfb is installed, so the GPU
# backend's headless WebGL mode can run. Without Xvfb, GPU tests that need it report as skipped.
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1280x1024x24" npx vitest run "$@"
fi
exec npx vitest run "$@"
