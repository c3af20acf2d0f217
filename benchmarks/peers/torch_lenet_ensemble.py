#!/usr/bin/env python3
"""PyTorch CPU peer of `nativecert bench --model lenet`: trains the same noisy LeNet ensemble (conv 5x5x16, ReLU,
maxpool 2, conv 5x5x32, ReLU, maxpool 2, dense 128, ReLU, dense 10; He init over the fan-in, biases 0; softmax CE;
SGD lr 0.05, momentum 0.9, weight decay 5e-4; batch 128; one noisy copy of the training set per model, drawn once
and kept for all epochs) two ways: one model after another, and all M models at once with grouped convolutions
(groups = M, the models side by side as channels) and bmm for the dense layers. Then it runs
`nativecert bench --model lenet --json` with the same workload in the same run and prints our speed as a ratio to each.
With --torchsharp it also runs the same two variants on libtorch 2.10 with MKL through TorchSharp-cpu 0.107
(benchmarks/peers/TorchSharpPeer --model lenet, built and loaded as torch_ensemble.py --torchsharp does), and prints
our ratio to each of the four variants and to the best (the loop is benchmarks/peers/peer_loop.py).

  /usr/bin/python3 benchmarks/peers/torch_lenet_ensemble.py --models 4 --epochs 1 --threads 2 --torchsharp
  /usr/bin/python3 benchmarks/peers/torch_lenet_ensemble.py --quality    # σ = 0, one model, 10 epochs, 3 seeds

Data as in torch_ensemble.py: the default MNIST split exported by the benchmark project (done here when --data is
not given), or --random data of the same size.
"""
import argparse, json, os, sys

if "--keep-blas-env" not in sys.argv:  # see torch_ensemble.py: one OpenBLAS thread per torch thread
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ.pop("OPENBLAS_CORETYPE", None)
    os.environ.pop("OPENBLAS_L2_SIZE", None)

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ensemble import load  # noqa: E402  (same data export, same MNIST split)
from peer_loop import add_torchsharp, compare, prepare, run_torchsharp, time_variants  # noqa: E402

LR, MOMENTUM, WEIGHT_DECAY, BATCH = 0.05, 0.9, 5e-4, 128  # = TrainingDefaults for a non-MLP model


def lenet(classes=10):
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(512, 128), torch.nn.ReLU(), torch.nn.Linear(128, classes))
    for layer in net:
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # √(2 / fan-in), fan-in k·k·C_in for a conv
            torch.nn.init.zeros_(layer.bias)
    return net


def train_sequential(x, y, models, epochs, sigma, seed=0):
    """One model after another, the usual way."""
    gen = torch.Generator().manual_seed(seed)
    trained = []
    n = x.shape[0]
    for _ in range(models):
        noisy = (x + sigma * torch.randn(x.shape, generator=gen) if sigma > 0 else x).view(-1, 1, 28, 28)
        net = lenet()
        opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for s in range(0, n, BATCH):
                idx = perm[s:s + BATCH]
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(noisy[idx]), y[idx]).backward()
                opt.step()
        trained.append(net)
    return trained


def he(shape, fan_in, gen):
    return (torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5).requires_grad_()


def train_grouped(x, y, models, epochs, sigma, seed=0):
    """All M models at once: model m's channels are group m of every convolution; dense layers as bmm."""
    gen = torch.Generator().manual_seed(seed)
    M, n = models, x.shape[0]
    noisy = x.unsqueeze(0) + sigma * torch.randn((M,) + tuple(x.shape), generator=gen)  # (M, n, 784)
    w1, b1 = he((M * 16, 1, 5, 5), 25, gen), torch.zeros(M * 16, requires_grad=True)
    w2, b2 = he((M * 32, 16, 5, 5), 400, gen), torch.zeros(M * 32, requires_grad=True)
    w3, b3 = he((M, 512, 128), 512, gen), torch.zeros(M, 1, 128, requires_grad=True)
    w4, b4 = he((M, 128, 10), 128, gen), torch.zeros(M, 1, 10, requires_grad=True)
    params = [w1, b1, w2, b2, w3, b3, w4, b4]
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    rows = torch.arange(M).unsqueeze(1)
    for _ in range(epochs):
        perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(M)])  # (M, n)
        for s in range(0, n, BATCH):
            idx = perms[:, s:s + BATCH]                                          # (M, B)
            B = idx.shape[1]
            h = noisy[rows, idx].view(M, B, 28, 28).transpose(0, 1)             # (B, M, 28, 28): model m = channel m
            h = F.max_pool2d(F.relu(F.conv2d(h, w1, b1, groups=M)), 2)           # (B, M·16, 12, 12)
            h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, groups=M)), 2)           # (B, M·32, 4, 4)
            h = h.view(B, M, 512).transpose(0, 1)                                # (M, B, 512), channel-major per model
            h = torch.baddbmm(b4, F.relu(torch.baddbmm(b3, h, w3)), w4)          # (M, B, 10)
            # Sum over models of each model's mean loss: every model gets exactly its own gradient.
            loss = F.cross_entropy(h.reshape(-1, 10), y[idx].reshape(-1), reduction="sum") / B
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return params


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sigma", type=float, default=0.25)
    ap.add_argument("--examples", type=int, default=8000)
    ap.add_argument("--data", help="directory written by export-mnist (default: export now)")
    ap.add_argument("--random", action="store_true", help="random data instead of MNIST")
    ap.add_argument("--quality", action="store_true", help="σ = 0, one model, 10 epochs: print test accuracy")
    ap.add_argument("--seeds", type=int, default=3, help="--quality: independent runs")
    ap.add_argument("--keep-blas-env", action="store_true", help="do not set OPENBLAS_NUM_THREADS=1 nor drop OPENBLAS_CORETYPE/L2_SIZE")
    ap.add_argument("--nativecert", default=None, help="command prefix for nativecert (default: build the CLI project once, before timing, and run its dll)")
    ap.add_argument("--torchsharp", action="store_true", help="also run libtorch 2.10 (MKL) through TorchSharp-cpu 0.107")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y, tx, ty = load(args)
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    if args.quality:
        accs = []
        for seed in range(args.seeds):
            (net,) = train_sequential(x, y, 1, 10, 0.0, seed=seed)
            with torch.no_grad():
                accs.append(round((net(torch.from_numpy(tx).view(-1, 1, 28, 28)).argmax(1) == torch.from_numpy(ty)).float().mean().item(), 4))
        print(json.dumps({"peer": "torch", "model": "lenet", "torch": torch.__version__, "threads": args.threads, "sigma": 0,
                          "models": 1, "epochs": 10, "lr": LR, "test_accuracy": accs}))
        return

    prepare(args)
    results, per_cpu = time_variants(
        (("torch_sequential", train_sequential), ("torch_grouped", train_grouped)),
        lambda fn: fn(x[:256], y[:256], min(2, args.models), 1, args.sigma),  # warm-up
        lambda fn: fn(x, y, args.models, args.epochs, args.sigma),
        args.models, args.epochs, f"torch {torch.__version__}, {args.threads} threads")
    if args.torchsharp:
        add_torchsharp(results, per_cpu, run_torchsharp(args, ["--model", "lenet"]), ("torchsharp_sequential", "torchsharp_grouped"), args)
    compare(args, results, per_cpu, ["--model", "lenet"], {"model": "lenet"})

if __name__ == "__main__":
    main()
