using NativeCert.Data;

namespace NativeCert.Defenses;

/// <summary>
/// Which rows of the training set each model trains on (docs/engine.md, "Training view"). Model m trains on the
/// rows <see cref="ModelRows.Of"/> returns, in that order: view row j is training row rows[j], its training noise is
/// z(TrainingNoise, m, j, ·) and the epoch permutations run over the view's rows. The rows depend only on the view,
/// the seed, m and the training rows' contents (never their positions), so runs stay resumable and shardable, and a
/// model whose rows did not change trains bit-identically whatever else changed in the training set.
/// </summary>
internal abstract record TrainingView
{
    /// <summary>Every row, in the order given: the smoothing ensemble's view (exactly the engine before views).</summary>
    public static readonly TrainingView All = new AllRowsView();

    /// <summary>The rows of every model for this training set (content hashes and orders computed once).</summary>
    public abstract ModelRows Bind(Dataset train, ulong seed);

    /// <summary>Models this view defines, when it fixes their number (one per partition); null when any number may train.</summary>
    public virtual int? ModelCount => null;
}

/// <summary>Every row, in the order given.</summary>
internal sealed record AllRowsView : TrainingView
{
    public override ModelRows Bind(Dataset train, ulong seed) => ModelRows.AllRows;
    public override string ToString() => "all rows";
}

/// <summary>
/// Deep Partition Aggregation (Levine and Feizi 2021): row i belongs to partition <see cref="RowHash.Partition"/>
/// (a hash of its features, not its label, so a relabelled row stays in its partition); model m trains on partition m,
/// its rows sorted by content (<see cref="RowHash.Compare"/>).
/// </summary>
internal sealed record PartitionView(int Partitions) : TrainingView
{
    public override int? ModelCount => Partitions;

    public override ModelRows Bind(Dataset train, ulong seed)
    {
        if (Partitions < 1) throw new ArgumentOutOfRangeException(nameof(Partitions), Partitions, "need at least one partition");
        var hashes = RowHash.All(train);
        var members = new List<int>[Partitions];
        for (int p = 0; p < Partitions; p++) members[p] = [];
        for (int i = 0; i < train.Count; i++) members[RowHash.Partition(hashes[i], Partitions)].Add(i);
        var rows = new int[Partitions][];
        for (int p = 0; p < Partitions; p++)
        {
            rows[p] = [.. members[p]];
            Array.Sort(rows[p], (a, b) => RowHash.Compare(train, hashes, a, b));
        }
        return new ModelRows(m =>
        {
            if ((uint)m >= (uint)Partitions) throw new ArgumentOutOfRangeException(nameof(m), m, $"model {m} but the view has {Partitions} partitions");
            return rows[m];
        });
    }

    public override string ToString() => $"partitions of a feature hash, k = {Partitions}";
}

/// <summary>
/// Bagging (Jia, Cao and Gong 2021): model m trains on a bag of <see cref="BagSize"/> rows drawn uniformly with
/// replacement from the training set in content order (<see cref="BagSampler"/>).
/// </summary>
internal sealed record BagView(int BagSize) : TrainingView
{
    public override ModelRows Bind(Dataset train, ulong seed)
    {
        if (BagSize < 1) throw new ArgumentOutOfRangeException(nameof(BagSize), BagSize, "bag size must be at least 1");
        if (train.Count == 0) throw new ArgumentException($"{train.Source}: no training rows to draw bags from");
        int[] canonical = RowHash.ContentOrder(train);
        return new ModelRows(m =>
        {
            var rows = new int[BagSize];
            BagSampler.Draw(rows, canonical.Length, seed, (uint)m);
            for (int j = 0; j < rows.Length; j++) rows[j] = canonical[rows[j]];
            return rows;
        });
    }

    public override string ToString() => $"bags of {BagSize} rows with replacement";
}

/// <summary>A view bound to one training set: model m → its training row indices (null: every row in order).</summary>
internal sealed class ModelRows
{
    private readonly Func<int, int[]>? _rows;

    /// <summary>Every row in the given order: <see cref="Of"/> returns null, the engine's fast default path.</summary>
    public static readonly ModelRows AllRows = new(null);

    public ModelRows(Func<int, int[]>? rows) => _rows = rows;

    /// <summary>True when every model trains on every row in order.</summary>
    public bool IsAllRows => _rows is null;

    /// <summary>Training row of each of model m's view rows, or null for every row in order. Thread-safe.</summary>
    public int[]? Of(int model) => _rows?.Invoke(model);
}
