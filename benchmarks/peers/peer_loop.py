"""The timing and ratio loop shared by the CPU peers (torch_ensemble.py: the MLP, torch_lenet_ensemble.py: LeNet).

Each peer times its PyTorch variants with time_variants, optionally adds the libtorch 2.10 variants of the TorchSharp
peer (run_torchsharp), then compare() runs `nativecert bench --json` on the same workload in the same run and prints
our speed as a ratio to every variant and to the best, per wall second and per CPU-second of the process (what the
cores spent, the fairer measure on a shared machine: descheduled time is not counted, spin-waiting is).
"""
import json, os, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI_PROJECT = os.path.join(REPO, "src/NativeCert.Cli")
TORCHSHARP_PROJECT = os.path.join(REPO, "benchmarks/peers/TorchSharpPeer")


def prepare(args):
    """Builds, before anything is timed, what the run will start: the nativecert CLI (unless --nativecert names a
    command) and the TorchSharp peer (restoring TorchSharp-cpu on first use) when --torchsharp is given. Both are then
    started as built programs. Building right before a timed run is unfair to that run: `dotnet run` (or a fresh
    `dotnet build`) leaves build processes exiting on the cores for a few seconds, which cost a 2-second
    `nativecert bench --model lenet` about 30% (1.54 vs 2.23-2.36 model-epochs/s started directly, same machine and
    minute) and lowered the FMA peak it measures."""
    if not args.nativecert:
        subprocess.run(["dotnet", "build", "-c", "Release", CLI_PROJECT], check=True, stdout=subprocess.DEVNULL)
        args.nativecert = "dotnet " + os.path.join(CLI_PROJECT, "bin/Release/net10.0/nativecert.dll")
    if getattr(args, "torchsharp", False):
        subprocess.run(["dotnet", "build", "-c", "Release", TORCHSHARP_PROJECT], check=True, stdout=subprocess.DEVNULL)
    time.sleep(5)  # the builds' exiting processes leave the cores before the first timed (or warm-up) run


def time_variants(variants, warm_up, run, models, epochs, label):
    """variants: [(name, fn)]; warm_up(fn) and run(fn) call fn on the warm-up and the timed workload.
    Returns ({name: model-epochs per wall second}, {name: model-epochs per CPU-second})."""
    results, per_cpu = {}, {}
    for name, fn in variants:
        warm_up(fn)
        t, c = time.perf_counter(), time.process_time()
        run(fn)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        results[name], per_cpu[name] = models * epochs / dt, models * epochs / dc
        print(f"{name:22s} {results[name]:8.3f} model-epochs/s  ({dt:.2f} s, {dc:.2f} CPU s, {label})")
    return results, per_cpu


def run_torchsharp(args, extra):
    """Weakens GLIBCXX_3.4.32 in the TorchSharp peer's build output (built by prepare()) where the system libstdc++
    lacks it, runs it with the common workload options plus `extra`, and returns its JSON."""
    out = os.path.join(TORCHSHARP_PROJECT, "bin/Release/net10.0")
    subprocess.run([sys.executable, os.path.join(REPO, "benchmarks/peers/weak_glibcxx.py"), out], check=True)
    cmd = ["dotnet", os.path.join(out, "TorchSharpPeer.dll"), "--models", str(args.models), "--epochs", str(args.epochs),
           "--threads", str(args.threads), "--sigma", str(args.sigma), "--examples", str(args.examples)] + extra
    if not args.random:
        cmd += ["--data", args.data]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])


def add_torchsharp(results, per_cpu, ts, variants, args):
    """Adds the TorchSharp peer's variants (names in its JSON, e.g. torchsharp_sequential) to the results."""
    for name in variants:
        results[name] = ts[name]
        per_cpu[name] = args.models * args.epochs / ts[name + "_cpu_seconds"]
        print(f"{name:22s} {ts[name]:8.3f} model-epochs/s  ({ts[name + '_seconds']:.2f} s, {ts[name + '_cpu_seconds']:.2f} CPU s, "
              f"libtorch {ts['libtorch']}, {ts['threads']} threads)")


def compare(args, results, per_cpu, bench_options, extra_json=None):
    """Runs `nativecert bench --json` with the common workload options plus `bench_options`, prints our speed as a
    ratio to each variant and to the best, then one JSON line."""
    cmd = args.nativecert.split()  # set by prepare() when not given
    cmd += ["bench", "--json", "--models", str(args.models), "--epochs", str(args.epochs), "--threads", str(args.threads),
            "--sigma", str(args.sigma), "--examples", str(args.examples)] + bench_options
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    rate = ours["model_epochs_per_s"]
    rate_cpu = ours["models"] * ours["epochs"] / ours["cpu_seconds"] if ours.get("cpu_seconds", 0) > 0 else float("nan")
    print(f"{'nativecert':22s} {rate:8.3f} model-epochs/s  ({ours['seconds']:.2f} s, {ours.get('cpu_seconds', float('nan')):.2f} CPU s; "
          f"{ours['gflops']} GFLOP/s of {ours['peak_gflops']} peak, {ours['device']})")
    for name, r in results.items():
        print(f"nativecert / {name}: {rate / r:.2f}x (per CPU-second {rate_cpu / per_cpu[name]:.2f}x)")
    best = max(results, key=results.get)
    best_cpu = max(per_cpu, key=per_cpu.get)
    print(f"nativecert / best ({best}): {rate / results[best]:.2f}x; per CPU-second, best ({best_cpu}): {rate_cpu / per_cpu[best_cpu]:.2f}x")
    print(json.dumps({"nativecert": rate, **{k: round(v, 3) for k, v in results.items()}, "best": best,
                      "ratio_best": round(rate / results[best], 3), "best_per_cpu_second": best_cpu,
                      "ratio_best_per_cpu_second": round(rate_cpu / per_cpu[best_cpu], 3),
                      "fraction_of_peak": ours["fraction_of_peak"], "fraction_of_peak_cpu": ours.get("fraction_of_peak_cpu"),
                      "threads": args.threads, "device": ours["device"], **(extra_json or {})}))
