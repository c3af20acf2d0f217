namespace NativeCert.Benchmarks;

/// <summary>Operands for the kernel benchmarks.</summary>
internal static class BenchData
{
    /// <summary><paramref name="n"/> floats uniform in [−0.5, 0.5), drawn in order from <paramref name="rng"/>.</summary>
    public static float[] Uniform(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = rng.NextSingle() - 0.5f;
        return v;
    }
}
