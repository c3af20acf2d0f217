namespace NativeCert.Data;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator whose output is fixed forever, used only to choose
/// rows (splits, subsets, poisoned examples). Noise never comes from here: it comes from Philox (docs/engine.md).
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n) by Lemire's multiply-shift on the high 32 bits (bias below 2⁻³² · n).</summary>
    public int NextBelow(int n) => (int)(((Next() >> 32) * (ulong)n) >> 32);

    /// <summary>A generator for a named sub-stream of <paramref name="seed"/>, so streams never overlap by accident.</summary>
    public static SplitMix64 For(ulong seed, ulong stream) => new(new SplitMix64(seed ^ (stream * 0xD1B54A32D192ED03UL)).Next());

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextBelow(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}

/// <summary>Deterministic, seeded, stratified row selection: the same (labels, take, seed) always gives the same rows.</summary>
internal static class StratifiedSampler
{
    private const ulong ClassStream = 1, OrderStream = 0x5EED;

    /// <summary>
    /// Splits rows into <paramref name="take"/> selected rows and the others. Each class contributes its share
    /// n_c·take/n, rounded by largest remainder (ties to the lower class) so the total is exactly
    /// <paramref name="take"/>; within a class the rows come from a fixed seeded permutation. Both outputs are in
    /// a seeded shuffled order, so any prefix mixes the classes.
    /// </summary>
    /// <param name="labels">Row labels, <c>(n)</c>, each in [0, classCount).</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="take">Rows to select, 0..n.</param>
    /// <param name="seed">Selection seed.</param>
    public static (int[] Selected, int[] Others) Split(ReadOnlySpan<int> labels, int classCount, int take, ulong seed)
    {
        int n = labels.Length;
        if (take < 0 || take > n) throw new ArgumentOutOfRangeException(nameof(take), $"{take} of {n} rows");

        // Rows of each class, in index order, then permuted per class.
        var byClass = new List<int>[classCount];
        for (int c = 0; c < classCount; c++) byClass[c] = [];
        for (int i = 0; i < n; i++) byClass[labels[i]].Add(i);

        int[] quota = Apportion(byClass.Select(rows => rows.Count).ToArray(), take);

        var selected = new int[take];
        var rest = new int[n - take];
        int s = 0, r = 0;
        for (int c = 0; c < classCount; c++)
        {
            int[] rows = byClass[c].ToArray();
            SplitMix64.For(seed, ClassStream + (ulong)c).Shuffle(rows);
            rows.AsSpan(0, quota[c]).CopyTo(selected.AsSpan(s));
            rows.AsSpan(quota[c]).CopyTo(rest.AsSpan(r));
            s += quota[c];
            r += rows.Length - quota[c];
        }
        SplitMix64.For(seed, OrderStream).Shuffle(selected);
        SplitMix64.For(seed, OrderStream + 1).Shuffle(rest);
        return (selected, rest);
    }

    /// <summary>
    /// Largest-remainder apportionment of <paramref name="take"/> over classes of the given sizes:
    /// floor(n_c·take/n) each, then one more to the classes with the largest remainders (lower class first on ties).
    /// </summary>
    public static int[] Apportion(ReadOnlySpan<int> classSizes, int take)
    {
        long n = 0;
        foreach (int size in classSizes) n += size;
        var quota = new int[classSizes.Length];
        var remainder = new long[classSizes.Length];
        long given = 0;
        for (int c = 0; c < classSizes.Length; c++)
        {
            long share = n == 0 ? 0 : (long)classSizes[c] * take;
            quota[c] = (int)(n == 0 ? 0 : share / n);
            remainder[c] = n == 0 ? 0 : share % n;
            given += quota[c];
        }
        var order = Enumerable.Range(0, classSizes.Length).OrderByDescending(c => remainder[c]).ThenBy(c => c).ToArray();
        for (int k = 0; given < take; k++, given++) quota[order[k]]++;
        return quota;
    }
}
