using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>Small synthetic data sets for engine tests: C Gaussian blobs in D dimensions.</summary>
internal static class EngineTestData
{
    public static Dataset Blobs(int n, int d, int classes, int seed, float spread = 0.6f)
    {
        var rng = new Random(seed);
        var centers = new float[classes * d];
        var centerRng = new Random(1234); // same centers for every split drawn with the same (d, classes)
        for (int i = 0; i < centers.Length; i++) centers[i] = (float)centerRng.NextDouble();
        var x = new float[n * d];
        var y = new int[n];
        for (int j = 0; j < n; j++)
        {
            y[j] = j % classes;
            for (int f = 0; f < d; f++)
                x[j * d + f] = centers[y[j] * d + f] + spread * (float)(rng.NextDouble() - 0.5);
        }
        return new Dataset(x, y, d, classes, null, $"blobs{seed}");
    }

    public static float[] RandomArray(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = scale * (float)(2 * rng.NextDouble() - 1);
        return a;
    }

    /// <summary>
    /// Models of each range in <paramref name="ranges"/> trained and voted in turn on one CPU backend of
    /// <paramref name="threads"/> threads at <paramref name="isa"/>: the votes summed <c>(T, classes of train)</c> and the kept weights in range order.
    /// </summary>
    public static (uint[] Votes, float[] Weights) RunCpu(EnsembleConfig config, Dataset train, Dataset test, IsaLevel isa, int threads,
                                                         params (int Start, int End)[] ranges)
    {
        using var backend = new CpuEnsembleBackend(threads, isa);
        var votes = new VoteCounts(test.Count, train.ClassCount);
        var weights = new List<float>();
        foreach (var (start, end) in ranges)
        {
            var part = new VoteCounts(test.Count, train.ClassCount);
            var kept = new float[(end - start) * new ParameterLayout(config.Model).Count];
            backend.Run(config, train, test, start, end, part, kept);
            votes.Add(part);
            weights.AddRange(kept);
        }
        return (votes.Counts, weights.ToArray());
    }

    public static EnsembleConfig Config(int d, int[] hidden, int classes, int epochs = 2, int batch = 16, float sigma = 0.3f, ulong seed = 7) =>
        new(ModelArchitecture.Mlp(d, hidden, classes), new TrainingOptions(epochs, batch, 0.05f, 0.9f, 5e-4f), sigma, seed);
}
