using System.Globalization;
using NativeCert.Runs;

namespace NativeCert.Cli.Cluster;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (<c>--shard i/K</c>, 0-based as Slurm array task ids and
/// Kubernetes' JOB_COMPLETION_INDEX are). The K shards of a run split its n0 + N models into contiguous ranges
/// whose sizes differ by at most one, so they tile [0, n0 + N) exactly for every K up to the number of models.
/// </summary>
internal readonly record struct ShardIndex(int Index, int Count)
{
    public const string Option = "--shard";

    /// <summary>
    /// Models [⌊i·T/K⌋, ⌊(i+1)·T/K⌋) of a run of T models: consecutive shards continue each other, shard 0 starts at 0,
    /// shard K−1 ends at T, and each holds ⌊T/K⌋ or ⌈T/K⌉ models (at least one when K ≤ T). 64-bit products, so exact
    /// for every T and K that fit an int.
    /// </summary>
    public ModelRange RangeOf(int totalModels)
    {
        if (totalModels < 1) throw new ArgumentOutOfRangeException(nameof(totalModels), "a run has at least one model");
        if (Count > totalModels)
            throw new UserInputException($"{Option} {this}: {Count} shards is more than the {totalModels} models of the run (n0 + N); use at most {totalModels}");
        return new ModelRange(Boundary(Index, totalModels), Boundary(Index + 1, totalModels));
    }

    private int Boundary(int shard, int totalModels) => (int)((long)shard * totalModels / Count);

    /// <summary>Parses "i/K" (0 ≤ i &lt; K) for <c>--shard</c>.</summary>
    public static ShardIndex Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count))
            throw new UserInputException($"{Option} {text}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/4, Kubernetes: $JOB_COMPLETION_INDEX/4)");
        if (count < 1) throw new UserInputException($"{Option} {text}: COUNT must be at least 1");
        if (index >= count) throw new UserInputException($"{Option} {text}: INDEX must be below COUNT (shards are numbered 0 to {count - 1})");
        return new ShardIndex(index, count);
    }

    public override string ToString() => $"{Index}/{Count}";
}
