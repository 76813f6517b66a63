#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (which builds dist/), install the tarball into an
# empty project, import it from plain Node ESM and run a prediction, type-check a TypeScript
# consumer under NodeNext and under Bundler resolution (strict, no skipLibCheck, no @types/node),
# run the installed `ndcnn` bin, and build the optional OpenBLAS addon from the tarball's sources
# where libopenblas-dev is installed. Prints PASS/FAIL per check; exits non-zero on any failure.
# Needs the npm registry (or its cache) for the package's dependencies.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ndcnn-pack-XXXXXX")"
trap 'rm -rf "$work"' EXIT
tsc="$root/node_modules/typescript/bin/tsc"
failed=0
check() { # check NAME COMMAND...: runs the command, prints PASS or FAIL with its output
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then
    echo "check-pack: PASS $name${out:+: $(tail -n 1 <<<"$out")}"
  else
    echo "check-pack: FAIL $name"; sed 's/^/    /' <<<"$out"; failed=1
  fi
}

cd "$root" || exit 1
check "npm pack" npm pack --silent --pack-destination "$work"
tarball="$(ls "$work"/ndcnn-*.tgz 2>/dev/null | head -n 1)"
if [ -z "$tarball" ]; then echo "check-pack: FAIL no tarball"; exit 1; fi
check "tarball holds no tests, benchmarks or TypeScript sources" bash -c \
  "! tar -tzf '$tarball' | grep -E '^package/(test|bench|src|datasets|experiments|scripts)/|\\.test\\.|^package/dist/.*\\.ts$' | grep -v '\\.d\\.ts$'"

mkdir -p "$work/consumer"
cp "$root"/scripts/pack-consumer/* "$work/consumer/"
cd "$work/consumer" || exit 1
echo '{ "name": "consumer", "private": true, "type": "module" }' > package.json
# --ignore-scripts: the optional native builds (gl, the OpenBLAS addon) are left to the last check.
check "install the tarball into an empty project" npm install --silent --no-audit --no-fund --ignore-scripts "$tarball"
check "import from plain Node ESM and predict" node main.mjs
check "type-check a TypeScript consumer (NodeNext)" node "$tsc" -p tsconfig.nodenext.json
check "type-check a TypeScript consumer (Bundler)" node "$tsc" -p tsconfig.bundler.json
check "ndcnn --help from the installed bin" bash -c './node_modules/.bin/ndcnn --help | grep -q "ndcnn train" && echo ok'
check "ndcnn info runs the wasm GEMM from dist" bash -c './node_modules/.bin/ndcnn info | grep -E "gemm (openblas|wasm-simd)"'
if dpkg -s libopenblas-dev >/dev/null 2>&1; then
  check "the optional OpenBLAS addon builds from the tarball and is used" bash -c \
    'npm rebuild --silent ndcnn-blas && ./node_modules/.bin/ndcnn info | grep "gemm openblas"'
else
  echo "check-pack: SKIP the OpenBLAS addon build (libopenblas-dev is not installed)"
fi

if [ "$failed" = 0 ]; then echo "check-pack: all checks passed"; else echo "check-pack: FAILED"; fi
exit "$failed"
