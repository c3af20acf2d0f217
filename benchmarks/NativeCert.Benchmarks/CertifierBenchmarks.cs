using BenchmarkDotNet.Attributes;
using NativeCert.Certification;
using NativeCert.Engine;

namespace NativeCert.Benchmarks;

/// <summary>
/// Certifies a realistic vote matrix: T = 10⁶ inputs, N = 10⁴ models, C = 10 classes, with the top-class
/// probability spread over [0.15, 1) so thousands of distinct counts occur. "Cold" builds a fresh
/// <see cref="BoundCache"/> per call, so every distinct Clopper–Pearson bound and Φ⁻¹ is solved inside the timing.
/// Single-threaded by construction (the certifier does not parallelize).
/// </summary>
[MemoryDiagnoser]
public class CertifierBenchmarks
{
    private const int Inputs = 1_000_000, Models = 10_000, Classes = 10, SelectionModels = 100;
    private VoteCounts _counts = null!;
    private VoteCounts _selection = null!;
    private VoteCounts _estimation = null!;
    private readonly BoundCache _warm = new();

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2026);
        _counts = Draw(rng, Models);
        _selection = Draw(rng, SelectionModels);
        _estimation = Draw(rng, Models - SelectionModels);
        Certifier.CertifySimuEM(_counts, 0.5, 0.001, cache: _warm);
        Console.WriteLine($"// distinct top counts: {DistinctTop(_counts)}");
    }

    /// <summary>(T, C) multinomial votes: per input a class distribution with a dominant class of random strength,
    /// sampled class by class with conditional binomials (normal approximation, exact total).</summary>
    private static VoteCounts Draw(Random rng, int models)
    {
        var counts = new VoteCounts(Inputs, Classes);
        Span<double> p = stackalloc double[Classes];
        for (int t = 0; t < Inputs; t++)
        {
            int top = rng.Next(Classes);
            double strength = 0.15 + 0.85 * Math.Sqrt(rng.NextDouble());
            double rest = 0;
            for (int c = 0; c < Classes; c++) { p[c] = c == top ? 0 : rng.NextDouble(); rest += p[c]; }
            for (int c = 0; c < Classes; c++) p[c] = c == top ? strength : (1 - strength) * p[c] / rest;
            Span<uint> row = counts.Row(t);
            int remaining = models;
            double massLeft = 1;
            for (int c = 0; c < Classes - 1 && remaining > 0; c++)
            {
                double q = Math.Clamp(p[c] / massLeft, 0, 1);
                double mean = remaining * q, sd = Math.Sqrt(remaining * q * (1 - q));
                int k = (int)Math.Clamp(Math.Round(mean + sd * Gaussian(rng)), 0, remaining);
                row[c] = (uint)k;
                remaining -= k;
                massLeft -= p[c];
            }
            row[Classes - 1] += (uint)remaining;
        }
        return counts;
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static int DistinctTop(VoteCounts counts)
    {
        var seen = new HashSet<uint>();
        for (int t = 0; t < counts.Inputs; t++)
        {
            uint best = 0;
            foreach (uint k in counts.Row(t)) best = Math.Max(best, k);
            seen.Add(best);
        }
        return seen.Count;
    }

    [Benchmark(Baseline = true, Description = "SimuEM T=1e6 N=1e4 C=10, cold bound cache")]
    public Certificate[] SimuEMCold() => Certifier.CertifySimuEM(_counts, 0.5, 0.001, cache: new BoundCache());

    [Benchmark(Description = "SimuEM T=1e6 N=1e4 C=10, warm bound cache")]
    public Certificate[] SimuEMWarm() => Certifier.CertifySimuEM(_counts, 0.5, 0.001, cache: _warm);

    [Benchmark(Description = "SimuEM simultaneous (alpha/T) cold")]
    public Certificate[] SimuEMSimultaneousCold() => Certifier.CertifySimuEM(_counts, 0.5, 0.001, simultaneous: true, cache: new BoundCache());

    [Benchmark(Description = "Cohen n0=100, N-n0=9900, cold")]
    public Certificate[] CohenCold() => Certifier.CertifyCohen(_selection, _estimation, 0.5, 0.001, cache: new BoundCache());
}
