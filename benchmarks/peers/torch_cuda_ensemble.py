#!/usr/bin/env python3
"""PyTorch CUDA peer of NativeCert's GPU ensemble: the same work done the idiomatic PyTorch way.

N MLPs (784-128-10 by default), each trained on its own noisy copy of the training set (drawn once, kept for
every epoch), SGD with momentum and weight decay, per-model per-epoch shuffles, then one noisy vote per
(model, input). Models run in chunks of M with batched matmuls (torch.baddbmm / torch.bmm), the model being the
batch axis, exactly like NativeCert's lockstep kernels. Prints model-epochs/s, the batched GEMM GFLOP/s next to
the FP32 (non-tensor) peak, and, given NativeCert's JSON (--ours), the ratio NativeCert / PyTorch.

TF32 is disabled so both sides do true FP32 arithmetic. Data are random [0,1] pixels of MNIST's size (throughput
does not depend on the values); learning rate, momentum, weight decay and batch are NativeCert's TrainingDefaults.

    python3 benchmarks/peers/torch_cuda_ensemble.py --models 10000 --epochs 5 --train 8000 [--ours nativecert-gpu.json]
"""
import argparse
import json
import math
import time

import torch

# FP32 (non-tensor-core) peaks in TFLOP/s by device name, for the fraction-of-peak column.
KNOWN_PEAKS = [("H100 PCIe", 51.2), ("H100", 66.9), ("H200", 66.9), ("A100", 19.5), ("L40S", 91.6), ("L4", 30.3),
               ("RTX 4090", 82.6), ("A10", 31.2), ("V100", 15.7), ("T4", 8.1)]


def peak_tflops(name, override):
    if override:
        return override
    for key, value in KNOWN_PEAKS:
        if key in name:
            return value
    return None


def timed(fn, reps):
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps


def gemm_throughput(m, b, d, h, peak):
    dev = "cuda"
    x = torch.rand(m, b, d, device=dev) - 0.5
    w = torch.rand(m, d, h, device=dev) - 0.5
    bias = torch.zeros(m, 1, h, device=dev)
    dy = torch.rand(m, b, h, device=dev) - 0.5
    cases = [
        (f"forward X*W (M,{b},784)x(M,784,128) +bias+ReLU", (b, d, h), lambda: torch.relu(torch.baddbmm(bias, x, w))),
        (f"weight grad X^T*dY (M,784,{b})x(M,{b},128)", (d, b, h), lambda: torch.bmm(x.transpose(1, 2), dy)),
        (f"input grad dY*W^T (M,{b},128)x(M,128,784) [hidden layers of deeper nets]", (b, h, d), lambda: torch.bmm(dy, w.transpose(1, 2))),
    ]
    rows = []
    for name, (r, k, c), fn in cases:
        s = timed(fn, 20)
        gflops = 2.0 * m * r * k * c / s / 1e9
        rows.append({"product": name, "models": m, "ms": round(s * 1e3, 3), "gflops": round(gflops, 1),
                     "fraction_of_peak": round(gflops / (peak * 1e3), 3) if peak else None})
    return rows


def train_and_vote(x, y, inputs, classes, models, epochs, batch, hidden, sigma, lr, momentum, wd, chunk, seed):
    dev = x.device
    n, d = x.shape
    t = inputs.shape[0]
    votes = torch.zeros(t, classes, dtype=torch.int64, device=dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    for start in range(0, models, chunk):
        m = min(chunk, models - start)
        # D + E_m, drawn once per model and kept for every epoch: (M, n, D).
        noisy = x.unsqueeze(0) + sigma * torch.randn(m, n, d, device=dev, generator=gen)
        w1 = torch.randn(m, d, hidden, device=dev, generator=gen) * math.sqrt(2.0 / d)
        b1 = torch.zeros(m, 1, hidden, device=dev)
        w2 = torch.randn(m, hidden, classes, device=dev, generator=gen) * math.sqrt(2.0 / hidden)
        b2 = torch.zeros(m, 1, classes, device=dev)
        params = [w1, b1, w2, b2]
        vel = [torch.zeros_like(p) for p in params]
        rows = torch.arange(m, device=dev).unsqueeze(1)
        for _ in range(epochs):
            perm = torch.argsort(torch.rand(m, n, device=dev, generator=gen), dim=1)  # (M, n)
            for s in range(0, n, batch):
                idx = perm[:, s:s + batch]                                   # (M, b)
                bsz = idx.shape[1]
                xb = noisy[rows, idx]                                        # (M, b, D)
                yb = y[idx]                                                  # (M, b)
                hid = torch.relu(torch.baddbmm(b1, xb, w1))                  # (M, b, H)
                logits = torch.baddbmm(b2, hid, w2)                          # (M, b, C)
                dlogits = torch.softmax(logits, dim=2)
                dlogits.scatter_add_(2, yb.unsqueeze(2), -torch.ones_like(yb, dtype=dlogits.dtype).unsqueeze(2))
                dlogits /= bsz
                dw2 = torch.bmm(hid.transpose(1, 2), dlogits)
                db2 = dlogits.sum(1, keepdim=True)
                dhid = torch.bmm(dlogits, w2.transpose(1, 2)) * (hid > 0)
                dw1 = torch.bmm(xb.transpose(1, 2), dhid)
                db1 = dhid.sum(1, keepdim=True)
                grads = [dw1, db1, dw2, db2]
                torch._foreach_add_(grads, params, alpha=wd)               # g += λw
                torch._foreach_mul_(vel, momentum)                          # v = μv + g
                torch._foreach_add_(vel, grads)
                torch._foreach_add_(params, vel, alpha=-lr)                 # w -= ηv
        for s in range(0, t, batch):
            xt = inputs[s:s + batch].unsqueeze(0) + sigma * torch.randn(m, min(batch, t - s), d, device=dev, generator=gen)
            logits = torch.baddbmm(b2, torch.relu(torch.baddbmm(b1, xt, w1)), w2)
            pred = logits.argmax(dim=2)                                      # (M, tb)
            votes[s:s + pred.shape[1]] += torch.nn.functional.one_hot(pred, classes).sum(0)
        del noisy
    torch.cuda.synchronize()
    return votes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--train", type=int, default=8000)
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)  # = TrainingDefaults
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--sigma", type=float, default=0.25)
    ap.add_argument("--chunk", type=int, default=0, help="models per chunk; 0: as many as 60%% of free memory holds")
    ap.add_argument("--gemm-models", type=int, default=2000)
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="FP32 peak if the device is not in the table")
    ap.add_argument("--ours", help="NativeCert's JSON (`nativecert bench --json` or `NativeCert.Benchmarks gpu --json`), for the ratio")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_cuda_ensemble: no CUDA device visible to torch")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(0)
    peak = peak_tflops(name, a.peak_tflops)
    d, classes = 784, 10

    result = {"device": name, "torch": torch.__version__, "fp32_peak_gflops": peak * 1e3 if peak else None}
    result["gemm"] = gemm_throughput(a.gemm_models, a.batch, d, a.hidden, peak)
    torch.cuda.empty_cache()

    g = torch.Generator(device=dev)
    g.manual_seed(1)
    x = torch.rand(a.train, d, device=dev, generator=g)
    y = torch.arange(a.train, device=dev) % classes
    inputs = torch.rand(a.inputs, d, device=dev, generator=g)
    free, _ = torch.cuda.mem_get_info()
    per_model = 4 * (a.train * d + 3 * (d * a.hidden + a.hidden + a.hidden * classes + classes) + 4 * a.batch * (d + a.hidden))
    chunk = a.chunk or max(1, min(a.models, int(0.6 * free) // per_model))
    t0 = time.perf_counter()
    votes = train_and_vote(x, y, inputs, classes, a.models, a.epochs, a.batch, a.hidden, a.sigma, 0.1, 0.9, 5e-4, chunk, 7)
    seconds = time.perf_counter() - t0
    macs = d * a.hidden + a.hidden * classes
    flops = a.models * a.epochs * a.train * (6.0 * macs - 2.0 * d * a.hidden) + a.models * a.inputs * 2.0 * macs
    result["ensemble"] = {"backend": "torch-cuda", "models": a.models, "epochs": a.epochs, "train_rows": a.train,
                          "inputs": a.inputs, "batch": a.batch, "chunk": chunk, "seconds": round(seconds, 3),
                          "model_epochs_per_s": round(a.models * a.epochs / seconds, 2),
                          "effective_gflops": round(flops / seconds / 1e9, 1), "votes_total": int(votes.sum().item())}
    if a.ours:
        with open(a.ours) as f:
            ours = json.load(f)
        # NativeCert.Benchmarks' JSON nests it under "ensemble"; `nativecert bench --json` has it at the top level.
        ratio = ours.get("ensemble", ours)["model_epochs_per_s"] / result["ensemble"]["model_epochs_per_s"]
        result["nativecert_over_torch"] = round(ratio, 3)
        result["nativecert_gemm"] = ours.get("gemm")
    print(json.dumps(result, indent=2))
    print(f"\nPyTorch: {result['ensemble']['model_epochs_per_s']} model-epochs/s, "
          f"{result['ensemble']['effective_gflops']} GFLOP/s effective; FP32 peak {result['fp32_peak_gflops']} GFLOP/s")
    for row in result["gemm"]:
        print(f"  torch  {row['product']}: {row['gflops']} GFLOP/s ({row['fraction_of_peak']} of peak)")
    if a.ours:
        for row in result["nativecert_gemm"] or []:
            print(f"  ours   {row['product']} [{row.get('kernel', '')}]: {row['gflops']} GFLOP/s ({row['fraction_of_peak']} of peak)")
        print(f"NativeCert / PyTorch (model-epochs/s): {result['nativecert_over_torch']}  (target >= 1.5)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
