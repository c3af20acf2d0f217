using System.Diagnostics;
using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// Paired, interleaved A/B timing in one process, for kernel changes on a shared machine: each round times A then
/// B (then B then A in the next round, to cancel drift) on the thread CPU clock, and the report is the median over
/// rounds of B's time over A's. Robust to other processes taking the cores (descheduled time is not counted).
/// </summary>
internal static class PairedAb
{
    /// <summary>Runs <paramref name="rounds"/> rounds of <paramref name="reps"/> calls of each variant; returns (median seconds per call of each, median B/A ratio).</summary>
    public static (double A, double B, double Ratio) Compare(Action setA, Action setB, Action work, int reps, int rounds = 15)
    {
        double Time(Action set)
        {
            set();
            work(); // first touch after switching
            double t0 = CpuClock();
            for (int i = 0; i < reps; i++) work();
            return (CpuClock() - t0) / reps;
        }
        var a = new double[rounds];
        var b = new double[rounds];
        var ratio = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            if (r % 2 == 0) { a[r] = Time(setA); b[r] = Time(setB); }
            else { b[r] = Time(setB); a[r] = Time(setA); }
            ratio[r] = b[r] / a[r];
        }
        return (Median(a), Median(b), Median(ratio));
    }

    private static double CpuClock()
    {
        double t = CpuPhaseProfile.ThreadCpuSeconds();
        return double.IsNaN(t) ? Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency : t;
    }

    private static double Median(double[] x)
    {
        var s = (double[])x.Clone();
        Array.Sort(s);
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>`-- ab kchunk|avx2|ceiling|tail|phases|gather`: kernel knobs A vs B paired and interleaved on the first-layer GEMMs (784-128, batch 128), and per-part timings, on the thread CPU clock.</summary>
internal static unsafe class GemmAb
{
    public static void Run(string[] args)
    {
        const int B = 128, IN = 784, OUT = 128;
        var rng = new Random(1);
        float[] R(int n) => BenchData.Uniform(rng, n);
        var (x, w, bias, dy) = (R(B * IN), R(IN * OUT), R(OUT), R(B * OUT));
        var (y, dw, db) = (new float[B * OUT], new float[IN * OUT], new float[OUT]);
        double gflop = 2.0 * B * IN * OUT / 1e9;
        var isa = CpuIsa.Best;
        void Report(string what, (double A, double B, double Ratio) r) =>
            Console.WriteLine($"{CpuIsa.Name(isa)} {what}: A {r.A * 1e6:F1} us ({gflop / r.A:F1} GFLOP/s), B {r.B * 1e6:F1} us ({gflop / r.B:F1} GFLOP/s), median B/A time {r.Ratio:F3}");
        void Forward() => CpuKernels.MatmulForward(y, x, w, bias, B, IN, OUT, relu: true, isa);
        void WeightGradient() => CpuKernels.MatmulBackward(default, dw, db, dy, x, w, default, B, IN, OUT, isa);
        string knob = args.Length > 0 ? args[0] : "kchunk";
        switch (knob)
        {
            case "kchunk":
                foreach (int chunk in new[] { 32, 64, 128, 256 })
                {
                    Report($"forward kchunk 0 vs {chunk}", PairedAb.Compare(() => CpuGemm.KChunk512 = 0, () => CpuGemm.KChunk512 = chunk, Forward, 100));
                    Report($"dW kchunk 0 vs {chunk}", PairedAb.Compare(() => CpuGemm.KChunk512 = 0, () => CpuGemm.KChunk512 = chunk, WeightGradient, 100));
                }
                CpuGemm.KChunk512 = 64;
                break;
            case "avx2":
                isa = IsaLevel.Avx2;
                foreach (int chunk in new[] { 0, 32, 128, 256 })
                {
                    Report($"forward 6x2 kchunk 64 vs {chunk}", PairedAb.Compare(() => CpuGemm.KChunk256 = 64, () => CpuGemm.KChunk256 = chunk, Forward, 50));
                    Report($"dW 6x2 kchunk 64 vs {chunk}", PairedAb.Compare(() => CpuGemm.KChunk256 = 64, () => CpuGemm.KChunk256 = chunk, WeightGradient, 50));
                }
                CpuGemm.KChunk256 = 64;
                break;
            case "ceiling":
                {
                    // L1-resident GEMM (32x64x64: 8 + 16 + 8 KB) against the 1-thread FMA peak, both on the thread CPU clock.
                    var (xs, ws, ys) = (R(32 * 64), R(64 * 64), new float[32 * 64]);
                    double small = 2.0 * 32 * 64 * 64 / 1e9;
                    void Small() => CpuKernels.MatmulForward(ys, xs, ws, bias, 32, 64, 64, relu: false, isa);
                    var r = PairedAb.Compare(() => { }, () => { }, Small, 4000, 5);
                    double t0 = CpuPhaseProfile.ThreadCpuSeconds();
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    double peak = FmaPeak.MeasureGflops(1, 0.5, isa);
                    double cpu = CpuPhaseProfile.ThreadCpuSeconds() - t0, wall = sw.Elapsed.TotalSeconds;
                    Console.WriteLine($"{CpuIsa.Name(isa)} L1-resident 32x64x64 GEMM {small / r.A:F1} GFLOP/s per CPU-second; FMA peak {peak * wall / cpu:F1} GFLOP/s per CPU-second ({peak:F1} wall): {small / r.A / (peak * wall / cpu):P1}");
                    Report("forward", PairedAb.Compare(() => { }, () => { }, Forward, 100, 5));
                    Report("dW", PairedAb.Compare(() => { }, () => { }, WeightGradient, 100, 5));
                    break;
                }
            case "phases":
                {
                    // Per-phase CPU-clock profile of one thread, 4 runs (to see the run-to-run spread on a shared machine).
                    var train = NativeCert.Data.DatasetCatalog.Load(NativeCert.Data.DatasetCatalog.DefaultSpec).Train;
                    var config = new NativeCert.Engine.EnsembleConfig(NativeCert.Engine.ModelArchitecture.Mlp(784, [128], 10), NativeCert.Engine.TrainingDefaults.Options(epochs: 3), 0.25f, 1);
                    for (int round = 0; round < 4; round++)
                    {
                        var p = CpuPhaseProfile.Measure(config, train, null, 2, 1, isa);
                        Console.WriteLine($"{CpuIsa.Name(isa)}: " + string.Join(", ", Enum.GetValues<CpuPhase>().Select(ph => $"{CpuPhaseProfile.Key(ph)} {p.Seconds(ph) * 1e3:F0}")) + $" ms; cpu {p.CpuSeconds * 1e3:F0} ms");
                    }
                    break;
                }
            case "tail":
                {
                    // The 10-class layer of 784-128-10 at batch 128: forward (128,128)x(128,10) and dW (128,128)x(128,10).
                    var (h, w2, b2, dl) = (R(B * OUT), R(OUT * 10), R(10), R(B * 10));
                    var (logits, dw2, db2, dh, w2t) = (new float[B * 10], new float[OUT * 10], new float[10], new float[B * OUT], new float[OUT * 10]);
                    void Layer2()
                    {
                        CpuKernels.MatmulForward(logits, h, w2, b2, B, OUT, 10, relu: false, isa);
                        CpuKernels.MatmulBackward(dh, dw2, db2, dl, h, w2, w2t, B, OUT, 10, isa);
                    }
                    var r = PairedAb.Compare(() => { }, () => { }, Layer2, 2000, 5);
                    Console.WriteLine($"{CpuIsa.Name(isa)} layer 2 forward + backward: {r.A * 1e6:F2} us; parts:");
                    var (logitsCopy, losses, labels) = (R(B * 10), new float[B], Enumerable.Range(0, B).Select(b => b % 10).ToArray());
                    var parts = new (string, Action)[]
                    {
                        ("forward (128,128)x(128,10)", () => CpuKernels.MatmulForward(logits, h, w2, b2, B, OUT, 10, relu: false, isa)),
                        ("dW (128,128)x(128,10) + db", () => CpuKernels.MatmulBackward(default, dw2, db2, dl, h, w2, w2t, B, OUT, 10, isa)),
                        ("dX (128,10)x(10,128) + transpose", () => { fixed (float* dx = dh, dy = dl, wt = w2t, ws = w2) { CpuKernels.Transpose(wt, ws, 10, OUT, 10, isa); CpuGemm.Gemm(dx, OUT, dy, 10, 1, wt, OUT, null, false, B, OUT, 10, isa); } }),
                        ("column sums (128,10)", () => CpuKernels.ColumnSums(db2, dl, B, 10, isa)),
                        ("softmax CE (128,10)", () => CpuKernels.SoftmaxCrossEntropyBackward(dl, losses, logitsCopy, labels, B, 10, isa)),
                        ("softmax CE (128,10), no losses (training)", () => CpuKernels.SoftmaxCrossEntropyBackward(dl, losses, logitsCopy, labels, B, 10, isa, computeLosses: false)),
                        ("relu backward 128x128", () => CpuKernels.ReluBackward(dh, dh, h, B * OUT, isa)),
                    };
                    foreach (var (name, act) in parts)
                    {
                        var t = PairedAb.Compare(() => { }, () => { }, act, 2000, 5);
                        Console.WriteLine($"  {name}: {t.A * 1e6:F2} us");
                    }
                    break;
                }
            case "gather":
                GatherAb();
                break;
            default:
                throw new ArgumentException($"unknown knob {knob}");
        }
    }

    /// <summary>Copying 128 random rows of a 25 MB noisy copy (one batch gather) with software prefetch d rows ahead.</summary>
    private static unsafe void GatherAb()
    {
        const int n = 8000, D = 784, B = 128;
        var rng = new Random(3);
        var noisy = new float[n * D];
        for (int i = 0; i < noisy.Length; i++) noisy[i] = rng.NextSingle();
        var perm = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
        var x = new float[B * D];
        int start = 0, ahead = 2;
        void Gather()
        {
            fixed (float* src = noisy)
                for (int b = 0; b < B; b++)
                {
                    if (ahead > 0 && b + ahead < B)
                    {
                        byte* next = (byte*)(src + (long)perm[start + b + ahead] * D);
                        for (int offset = 0; offset < D * sizeof(float); offset += 64) System.Runtime.Intrinsics.X86.Sse.Prefetch0(next + offset);
                    }
                    Array.Copy(noisy, (long)perm[start + b] * D, x, (long)b * D, D);
                }
            start = (start + B) % (n - B); // walk the epoch like the trainer
        }
        foreach (int d in new[] { 0, 4, 8, 16 })
        {
            var r = PairedAb.Compare(() => ahead = 2, () => ahead = d, Gather, 60);
            Console.WriteLine($"gather 128 rows: prefetch 2 ahead {r.A * 1e6:F1} us, {d} ahead {r.B * 1e6:F1} us, median B/A time {r.Ratio:F3}");
        }
    }
}
