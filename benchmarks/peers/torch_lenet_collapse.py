#!/usr/bin/env python3
"""Why some noisy LeNet models collapse to a constant predictor (issue #11 finding: ~9% at σ = 0.5, 3 epochs).

Two modes, both printing one line per model: test accuracy on noisy test inputs (σ as in training), the share of the
most-predicted class (> 0.9 = collapsed), and the number of dead ReLU units per layer (conv1 /16, conv2 /32,
dense /128: a unit whose output is 0 on every test input), then a SUMMARY line.

  # PyTorch, the same LeNet, init and SGD as `nativecert train --model lenet` (torch_lenet_ensemble.py), optional
  # linear warm-up (steps) or gradient-norm clipping, which the engine does not have:
  /usr/bin/python3 benchmarks/peers/torch_lenet_collapse.py --models 12 --epochs 3 --sigma 0.5 --lr 0.05 --warmup-steps 63
  # a nativecert ensemble file (nativecert train --model lenet ...): the same per-model report
  /usr/bin/python3 benchmarks/peers/torch_lenet_collapse.py --ensemble l05.bin --sigma 0.5

Data: the default MNIST split exported by the benchmark project (as torch_ensemble.py), or --data DIR.
"""
import argparse, os, sys

if "--keep-blas-env" not in sys.argv:  # see torch_ensemble.py: one OpenBLAS thread per torch thread
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ensemble import load  # noqa: E402  (same data export, same MNIST split)
from torch_lenet_ensemble import MOMENTUM, WEIGHT_DECAY, BATCH, lenet  # noqa: E402

# Flat parameter order of an ensemble file (docs/engine.md): conv W (CO, CI, K, K), b; dense W (in, out) row-major, b.
SHAPES = [(16, 1, 5, 5), (16,), (32, 16, 5, 5), (32,), (512, 128), (128,), (128, 10), (10,)]
PER_MODEL = sum(int(np.prod(s)) for s in SHAPES)


def forward(params, x):
    """LeNet forward from (w1, b1, ..., w4, b4) with dense weights (in, out); returns logits and the three ReLU outputs."""
    w1, b1, w2, b2, w3, b3, w4, b4 = params
    a1 = F.relu(F.conv2d(x, w1, b1))
    a2 = F.relu(F.conv2d(F.max_pool2d(a1, 2), w2, b2))
    a3 = F.relu(F.max_pool2d(a2, 2).flatten(1) @ w3 + b3)
    return a3 @ w4 + b4, (a1, a2, a3)


def torch_params(net):
    """nn.Sequential LeNet -> the forward() parameter tuple (dense weights transposed to (in, out))."""
    return (net[0].weight, net[0].bias, net[3].weight, net[3].bias, net[7].weight.t(), net[7].bias, net[9].weight.t(), net[9].bias)


def report(name, m, params, tx, ty, extra=""):
    with torch.no_grad():
        logits, acts = forward(params, tx)
    pred = logits.argmax(1)
    acc = (pred == ty).float().mean().item()
    top = torch.bincount(pred, minlength=10).max().item() / len(pred)
    dead = [int((a.transpose(0, 1).flatten(1).amax(1) <= 0).sum()) for a in acts]
    finite = all(bool(torch.isfinite(p).all()) for p in params)
    print(f"{name} model {m}: noisy test acc {acc:.4f}  top-class share {top:.3f}  dead ReLU conv1/conv2/dense {dead}"
          f"  finite {finite}{extra}", flush=True)
    return acc, top


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ensemble", help="probe this nativecert ensemble file (LeNet, 10 classes) instead of training")
    ap.add_argument("--models", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--sigma", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--warmup-steps", type=int, default=0, help="linear learning-rate warm-up over this many SGD steps")
    ap.add_argument("--clip", type=float, default=0.0, help="clip the gradient's global L2 norm to this (0 = off)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--examples", type=int, default=8000)
    ap.add_argument("--data", help="directory written by export-mnist (default: export now)")
    ap.add_argument("--keep-blas-env", action="store_true")
    args = ap.parse_args()
    args.random = False
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # init draws from the global generator
    x, y, tx, ty = load(args)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    tx, ty = torch.from_numpy(tx).view(-1, 1, 28, 28), torch.from_numpy(ty)
    gen = torch.Generator().manual_seed(args.seed)
    results = []

    if args.ensemble:
        blob = open(args.ensemble, "rb").read()
        count = (len(blob) - 8) // (PER_MODEL * 4)  # the body is the file's last floats before the 8-byte hash
        body = np.frombuffer(blob[len(blob) - 8 - count * PER_MODEL * 4:len(blob) - 8], dtype=np.float32).reshape(count, PER_MODEL)
        noisy_test = tx + args.sigma * torch.randn(tx.shape, generator=gen)
        for m in range(count):
            flat, params, o = torch.from_numpy(body[m].copy()), [], 0
            for s in SHAPES:
                n = int(np.prod(s)); params.append(flat[o:o + n].view(*s)); o += n
            results.append(report("ensemble", m, params, noisy_test, ty, f"  max|param| {flat.abs().max():.3g}"))
    else:
        n = x.shape[0]
        for m in range(args.models):
            noisy = (x + args.sigma * torch.randn(x.shape, generator=gen)).view(-1, 1, 28, 28)
            noisy_test = tx + args.sigma * torch.randn(tx.shape, generator=gen)
            net = lenet()
            opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
            step, losses = 0, []
            for _ in range(args.epochs):
                perm, total = torch.randperm(n, generator=gen), 0.0
                for s in range(0, n, BATCH):
                    idx = perm[s:s + BATCH]
                    if args.warmup_steps > 0:
                        for group in opt.param_groups:
                            group["lr"] = args.lr * min(1.0, (step + 1) / args.warmup_steps)
                    opt.zero_grad(set_to_none=True)
                    loss = F.cross_entropy(net(noisy[idx]), y[idx])
                    loss.backward()
                    if args.clip > 0:
                        torch.nn.utils.clip_grad_norm_(net.parameters(), args.clip)
                    opt.step()
                    step += 1
                    total += loss.item() * len(idx)
                losses.append(round(total / n, 3))
            results.append(report("torch", m, torch_params(net), noisy_test, ty, f"  train loss per epoch {losses}"))

    accs = [a for a, _ in results]
    print(f"SUMMARY models {len(results)} collapsed (top-class share > 0.9) {sum(t > 0.9 for _, t in results)}"
          f"  mean acc {np.mean(accs):.4f}  min acc {min(accs):.4f}  sigma {args.sigma}"
          + ("" if args.ensemble else f"  lr {args.lr} warmup {args.warmup_steps} clip {args.clip} epochs {args.epochs}"))


if __name__ == "__main__":
    main()
