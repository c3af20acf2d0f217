#!/usr/bin/env python3
"""PyTorch CPU peer of `nativecert bench`: trains the same noisy ensemble (MLP 784-128-10, ReLU, softmax CE,
He init, SGD momentum + weight decay, batch 128, one noisy copy of the training set per model drawn once and
kept for all epochs) two ways, one model after another and all models at once with bmm, then runs
`nativecert bench --json` with the same workload in the same run and prints our speed as a ratio to each.
With --torchsharp it also runs the same two variants on libtorch 2.10 with MKL through TorchSharp-cpu 0.107
(benchmarks/peers/TorchSharpPeer: built and restored only then, never part of NativeCert.sln or CI; on Debian 12
its libLibTorchSharp.so asks for GLIBCXX_3.4.32, which weak_glibcxx.py marks weak in the build output's copy),
and prints our ratio to the best variant of all.

  /usr/bin/python3 benchmarks/peers/torch_ensemble.py --models 8 --epochs 5 --threads 2 --torchsharp
  /usr/bin/python3 benchmarks/peers/torch_ensemble.py --torchsharp --avx2   # every engine limited to AVX2
  /usr/bin/python3 benchmarks/peers/torch_ensemble.py --quality      # σ = 0, one model, 10 epochs: test accuracy

--avx2 runs everything as on an AVX2-only machine: nativecert with AVX-512 off in the .NET JIT
(DOTNET_EnableAVX512=0: VEX encoding, 16 vector registers), libtorch and MKL limited to AVX2
(ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2).

Data: the default MNIST split exported by `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks --
export-mnist DIR` (the script does this itself when --data is not given); random data of the same size with
--random.
"""
import argparse, json, os, subprocess, sys, tempfile

# Give PyTorch its best CPU setup before OpenBLAS loads (it reads these once, at load time):
# - torch runs its own OpenMP pool of --threads threads; an OpenBLAS pthread pool on top oversubscribes the cores
#   and spin-waits (measured here: 3.5 instead of 30 model-epochs/s), so OpenBLAS gets one thread per caller;
# - some machines set OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for old OpenBLAS builds, which pins an older, slower
#   kernel (Haswell: 221 instead of 334 GFLOP/s on the 128x784x128 GEMM); the benchmark drops both.
# --keep-blas-env leaves the environment as it is.
if "--keep-blas-env" not in sys.argv:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ.pop("OPENBLAS_CORETYPE", None)
    os.environ.pop("OPENBLAS_L2_SIZE", None)
AVX2_ENV = {"DOTNET_EnableAVX512": "0", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
if "--avx2" in sys.argv:
    os.environ.update(AVX2_ENV)  # before torch loads: it reads ATEN_CPU_CAPABILITY once

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_loop import REPO, add_torchsharp, compare, prepare, run_torchsharp, time_variants  # noqa: E402
LR, MOMENTUM, WEIGHT_DECAY, BATCH = 0.1, 0.9, 5e-4, 128  # = TrainingDefaults


def load(args):
    if args.random:
        g = np.random.default_rng(1)
        return (g.random((args.examples, 784), dtype=np.float32), g.integers(0, 10, args.examples).astype(np.int64), None, None)
    d = args.data
    if d is None:
        d = args.data = tempfile.mkdtemp(prefix="nativecert-mnist-")
        subprocess.run(["dotnet", "run", "-c", "Release", "--project", os.path.join(REPO, "benchmarks/NativeCert.Benchmarks"),
                        "--", "export-mnist", d], check=True, stdout=subprocess.DEVNULL)
    x = np.fromfile(os.path.join(d, "train_x.f32"), dtype=np.float32).reshape(-1, 784)[: args.examples]
    y = np.fromfile(os.path.join(d, "train_y.i32"), dtype=np.int32).astype(np.int64)[: args.examples]
    tx = np.fromfile(os.path.join(d, "test_x.f32"), dtype=np.float32).reshape(-1, 784)
    ty = np.fromfile(os.path.join(d, "test_y.i32"), dtype=np.int32).astype(np.int64)
    return x, y, tx, ty


def mlp(hidden):
    torch_layers, widths = [], [784] + hidden + [10]
    for i in range(len(widths) - 1):
        lin = torch.nn.Linear(widths[i], widths[i + 1])
        torch.nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")  # He normal, √(2/in)
        torch.nn.init.zeros_(lin.bias)
        torch_layers += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*torch_layers[:-1])


def train_sequential(x, y, models, epochs, sigma, hidden, seed=0):
    """One model after another, the usual way."""
    gen = torch.Generator().manual_seed(seed)
    trained = []
    for m in range(models):
        noisy = x + sigma * torch.randn(x.shape, generator=gen) if sigma > 0 else x  # drawn once per model
        net = mlp(hidden)
        opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        n = x.shape[0]
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for s in range(0, n, BATCH):
                idx = perm[s:s + BATCH]
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(net(noisy[idx]), y[idx]).backward()
                opt.step()
        trained.append(net)
    return trained


def train_bmm(x, y, models, epochs, sigma, hidden, seed=0):
    """All models at once: weights (M, in, out), one bmm per layer, each model with its own noisy copy and shuffle."""
    gen = torch.Generator().manual_seed(seed)
    M, n, widths = models, x.shape[0], [784] + hidden + [10]
    noisy = x.unsqueeze(0) + sigma * torch.randn((M,) + tuple(x.shape), generator=gen)  # (M, n, D)
    params = []
    for i in range(len(widths) - 1):
        w = (torch.randn(M, widths[i], widths[i + 1], generator=gen) * (2.0 / widths[i]) ** 0.5).requires_grad_()
        b = torch.zeros(M, 1, widths[i + 1], requires_grad=True)
        params += [w, b]
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    rows = torch.arange(M).unsqueeze(1)
    for _ in range(epochs):
        perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(M)])  # (M, n)
        for s in range(0, n, BATCH):
            idx = perms[:, s:s + BATCH]                    # (M, B)
            h = noisy[rows, idx]                           # (M, B, D)
            for i in range(0, len(params), 2):
                h = torch.baddbmm(params[i + 1], h, params[i])
                if i + 2 < len(params):
                    h = torch.relu(h)
            # Sum over models of each model's mean loss: every model gets exactly its own gradient.
            loss = torch.nn.functional.cross_entropy(h.reshape(-1, 10), y[idx].reshape(-1), reduction="sum") / idx.shape[1]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return params


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sigma", type=float, default=0.25)
    ap.add_argument("--hidden", default="128")
    ap.add_argument("--examples", type=int, default=8000)
    ap.add_argument("--data", help="directory written by export-mnist (default: export now)")
    ap.add_argument("--random", action="store_true", help="random data instead of MNIST")
    ap.add_argument("--quality", action="store_true", help="σ = 0, one model, 10 epochs: print test accuracy")
    ap.add_argument("--seeds", type=int, default=3, help="--quality: independent runs")
    ap.add_argument("--keep-blas-env", action="store_true", help="do not set OPENBLAS_NUM_THREADS=1 nor drop OPENBLAS_CORETYPE/L2_SIZE")
    ap.add_argument("--nativecert", default=None, help="command prefix for nativecert (default: build the CLI project once, before timing, and run its dll)")
    ap.add_argument("--torchsharp", action="store_true", help="also run libtorch 2.10 (MKL) through TorchSharp-cpu 0.107")
    ap.add_argument("--avx2", action="store_true", help="limit nativecert, torch and MKL to AVX2 (see above)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hidden = [int(h) for h in args.hidden.split(",")]
    x, y, tx, ty = load(args)
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    if args.quality:
        accs = []
        for seed in range(args.seeds):
            (net,) = train_sequential(x, y, 1, 10, 0.0, hidden, seed=seed)
            with torch.no_grad():
                accs.append(round((net(torch.from_numpy(tx)).argmax(1) == torch.from_numpy(ty)).float().mean().item(), 4))
        print(json.dumps({"peer": "torch", "torch": torch.__version__, "threads": args.threads, "sigma": 0, "models": 1,
                          "epochs": 10, "lr": LR, "test_accuracy": accs}))
        return

    prepare(args)
    results, per_cpu = time_variants(
        (("torch_sequential", train_sequential), ("torch_bmm", train_bmm)),
        lambda fn: fn(x[:1024], y[:1024], min(2, args.models), 1, args.sigma, hidden),  # warm-up
        lambda fn: fn(x, y, args.models, args.epochs, args.sigma, hidden),
        args.models, args.epochs, f"torch {torch.__version__}, {args.threads} threads")
    if args.torchsharp:
        add_torchsharp(results, per_cpu, run_torchsharp(args, ["--hidden", args.hidden]), ("torchsharp_sequential", "torchsharp_batched"), args)
    compare(args, results, per_cpu, ["--hidden", args.hidden], {"avx2_only": args.avx2})

if __name__ == "__main__":
    main()
