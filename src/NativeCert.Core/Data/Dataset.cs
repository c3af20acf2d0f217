namespace NativeCert.Data;

/// <summary>Image layout of a feature row, channel-major: feature index = (c·H + y)·W + x.</summary>
/// <param name="Channels">Channels C (1 for grey, 3 for RGB).</param>
/// <param name="Height">Rows H, pixels.</param>
/// <param name="Width">Columns W, pixels.</param>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Features per image, C·H·W.</summary>
    public int Size => Channels * Height * Width;
    /// <summary>CxHxW, e.g. <c>1x28x28</c>.</summary>
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}

/// <summary>
/// An in-memory labelled dataset: float32 features row-major <c>(Count, Dimension)</c> in input units
/// (pixels scaled to [0,1] by the image loaders), integer labels in [0, ClassCount).
/// Noise σ and certified radii are in these same units.
/// </summary>
public sealed class Dataset
{
    /// <summary>
    /// Most classes a dataset may have: labels are class indices, and per-class tables (counts, votes) are
    /// allocated by class, so a stray huge label must be refused rather than allocated for.
    /// </summary>
    public const int MaxClasses = 65_536;

    /// <summary>Features, <c>(Count, Dimension)</c> row-major.</summary>
    public float[] Features { get; }
    /// <summary>Labels, <c>(Count)</c>, each in [0, ClassCount).</summary>
    public int[] Labels { get; }
    /// <summary>Rows (examples).</summary>
    public int Count { get; }
    /// <summary>Features per row.</summary>
    public int Dimension { get; }
    /// <summary>Classes C: labels are in [0, C).</summary>
    public int ClassCount { get; }
    /// <summary>Image shape of a row when the data are images; null for tabular data.</summary>
    public ImageShape? Shape { get; }
    /// <summary>Where the data came from, for messages and run configs (a name or a path).</summary>
    public string Source { get; }

    /// <summary>Wraps features and labels (not copied).</summary>
    /// <param name="features"><c>(labels.Length, dimension)</c> row-major, input units.</param>
    /// <param name="labels">One label per row, in [0, <paramref name="classCount"/>).</param>
    /// <param name="dimension">Features per row.</param>
    /// <param name="classCount">Classes C.</param>
    /// <param name="shape">Image layout of a row (its size must be <paramref name="dimension"/>); null for tabular data.</param>
    /// <param name="source">A name for messages and run configs.</param>
    /// <exception cref="ArgumentException">The lengths do not agree.</exception>
    public Dataset(float[] features, int[] labels, int dimension, int classCount, ImageShape? shape, string source)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension));
        if (features.Length != (long)labels.Length * dimension)
            throw new ArgumentException($"{features.Length} features do not make {labels.Length} rows of {dimension}");
        if (shape is { } s && s.Size != dimension)
            throw new ArgumentException($"image shape {s} does not have {dimension} features");
        Features = features;
        Labels = labels;
        Count = labels.Length;
        Dimension = dimension;
        ClassCount = classCount;
        Shape = shape;
        Source = source;
    }

    /// <summary>Features of row <paramref name="i"/>, <c>(Dimension)</c>, input units.</summary>
    public ReadOnlySpan<float> Row(int i) => Features.AsSpan(i * Dimension, Dimension);

    /// <summary>A new dataset holding the given rows, in the given order (features copied).</summary>
    public Dataset Select(ReadOnlySpan<int> rows, string? source = null)
    {
        var f = new float[(long)rows.Length * Dimension];
        var l = new int[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            Row(rows[i]).CopyTo(f.AsSpan(i * Dimension, Dimension));
            l[i] = Labels[rows[i]];
        }
        return new Dataset(f, l, Dimension, ClassCount, Shape, source ?? Source);
    }

    /// <summary>Rows per class, <c>(ClassCount)</c>.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[ClassCount];
        foreach (int y in Labels) counts[y]++;
        return counts;
    }
}
