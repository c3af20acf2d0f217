using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Measures this machine's float32 FMA peak in-process: every thread runs independent FMA chains on the widest
/// vectors available (16 on 512-bit vectors, 12 on 256-bit ones: enough to cover FMA latency × throughput, and
/// 12 + 2 constants fit AVX2's 16 registers; 16 chains spilled to the stack without AVX-512 and measured half the
/// peak), all threads at once. The figure a GEMM is judged
/// against; it reflects what the cores deliver right now (other load on the machine lowers it).
/// </summary>
internal static class FmaPeak
{
    /// <summary>
    /// Measured peak in GFLOP/s (1 FMA = 2 flop) over <paramref name="threads"/> threads, with the vectors of
    /// <paramref name="isa"/> (clamped to the CPU): the peak that the engine at that level is judged against.
    /// </summary>
    public static double MeasureGflops(int threads, double seconds = 0.3, IsaLevel isa = IsaLevel.Avx512) => Measure(threads, seconds, isa).Gflops;

    /// <summary>
    /// <see cref="MeasureGflops"/> and, on the thread CPU clock, the peak per CPU-second of one thread: what a core
    /// delivers while it runs, whatever share of it the OS gives this process on a shared machine (NaN without a
    /// thread CPU clock).
    /// </summary>
    public static (double Gflops, double GflopsPerCpuSecond) Measure(int threads, double seconds = 0.3, IsaLevel isa = IsaLevel.Avx512)
    {
        threads = Math.Max(1, threads);
        bool wide = CpuIsa.Clamp(isa) == IsaLevel.Avx512 && Vector512.IsHardwareAccelerated;
        long iterations = 1 << 16;
        // Calibrate the iteration count on one thread so the timed run lasts about `seconds`.
        Run(1, iterations, wide);
        var sw = Stopwatch.StartNew();
        Run(1, iterations, wide);
        double perIteration = sw.Elapsed.TotalSeconds / iterations;
        iterations = Math.Max(1 << 16, (long)(seconds / Math.Max(perIteration, 1e-12)));
        sw.Restart();
        double cpu = Run(threads, iterations, wide);
        double elapsed = sw.Elapsed.TotalSeconds;
        int lanes = wide ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;
        int chains = wide ? 16 : 12;
        double flops = threads * (double)iterations * chains * lanes * 2;
        return (flops / elapsed / 1e9, flops / cpu / 1e9);
    }

    /// <summary>Runs the chains on <paramref name="threads"/> threads; returns their CPU seconds, summed.</summary>
    private static double Run(int threads, long iterations, bool wide)
    {
        double cpu = 0;
        var gate = new object();
        void Chain()
        {
            double t0 = CpuPhaseProfile.ThreadCpuSeconds();
            float r = Chains(iterations, wide);
            double t = CpuPhaseProfile.ThreadCpuSeconds() - t0;
            lock (gate) { Sink += r; cpu += t; }
        }
        if (threads == 1) { Chain(); return cpu; }
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++) (workers[t] = new Thread(Chain) { IsBackground = true }).Start();
        foreach (var w in workers) w.Join();
        return cpu;
    }

    private static float Sink;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static float Chains(long iterations, bool wide)
    {
        if (wide)
        {
            var m = Vector512.Create(0.999999f); var a = Vector512.Create(1e-6f);
            Vector512<float> c0 = Vector512<float>.One, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
                c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
            for (long i = 0; i < iterations; i++)
            {
                c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a); c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
                c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a); c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
                c8 = Vector512.FusedMultiplyAdd(c8, m, a); c9 = Vector512.FusedMultiplyAdd(c9, m, a); c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
                c12 = Vector512.FusedMultiplyAdd(c12, m, a); c13 = Vector512.FusedMultiplyAdd(c13, m, a); c14 = Vector512.FusedMultiplyAdd(c14, m, a); c15 = Vector512.FusedMultiplyAdd(c15, m, a);
            }
            return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15);
        }
        else
        {
            var m = Vector256.Create(0.999999f); var a = Vector256.Create(1e-6f);
            Vector256<float> c0 = Vector256<float>.One, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
                c8 = c0, c9 = c0, c10 = c0, c11 = c0;
            for (long i = 0; i < iterations; i++)
            {
                c0 = Vector256.FusedMultiplyAdd(c0, m, a); c1 = Vector256.FusedMultiplyAdd(c1, m, a); c2 = Vector256.FusedMultiplyAdd(c2, m, a); c3 = Vector256.FusedMultiplyAdd(c3, m, a);
                c4 = Vector256.FusedMultiplyAdd(c4, m, a); c5 = Vector256.FusedMultiplyAdd(c5, m, a); c6 = Vector256.FusedMultiplyAdd(c6, m, a); c7 = Vector256.FusedMultiplyAdd(c7, m, a);
                c8 = Vector256.FusedMultiplyAdd(c8, m, a); c9 = Vector256.FusedMultiplyAdd(c9, m, a); c10 = Vector256.FusedMultiplyAdd(c10, m, a); c11 = Vector256.FusedMultiplyAdd(c11, m, a);
            }
            return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
    }
}
