namespace NativeCert.Engine;

/// <summary>
/// Vote counts <c>(Inputs, Classes)</c> row-major: how many models predicted class c on (noised) input t.
/// Counts from disjoint model ranges add up to the counts of their union.
/// </summary>
internal sealed class VoteCounts
{
    public int Inputs { get; }
    public int Classes { get; }
    /// <summary><c>(Inputs, Classes)</c> row-major.</summary>
    public uint[] Counts { get; }

    public VoteCounts(int inputs, int classes) : this(inputs, classes, new uint[checked(inputs * classes)]) { }

    public VoteCounts(int inputs, int classes, uint[] counts)
    {
        if (counts.Length != (long)inputs * classes) throw new ArgumentException("counts length does not match inputs × classes");
        Inputs = inputs;
        Classes = classes;
        Counts = counts;
    }

    public Span<uint> Row(int input) => Counts.AsSpan(input * Classes, Classes);

    public uint this[int input, int cls]
    {
        get => Counts[input * Classes + cls];
        set => Counts[input * Classes + cls] = value;
    }

    /// <summary>Adds another count matrix of the same shape into this one (thread-unsafe).</summary>
    public void Add(VoteCounts other)
    {
        if (other.Inputs != Inputs || other.Classes != Classes) throw new ArgumentException("vote count shapes differ");
        for (int i = 0; i < Counts.Length; i++) Counts[i] = checked(Counts[i] + other.Counts[i]);
    }

    /// <summary>Total votes of input t, which is the number of models that voted.</summary>
    public long Total(int input)
    {
        long s = 0;
        foreach (uint c in Row(input)) s += c;
        return s;
    }

    public VoteCounts Clone() => new(Inputs, Classes, (uint[])Counts.Clone());
}
