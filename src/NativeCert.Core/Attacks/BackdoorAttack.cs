using NativeCert.Data;
using NativeCert.Spec;

namespace NativeCert.Attacks;

/// <summary>How poisoned training examples are labelled.</summary>
internal enum LabelMode
{
    /// <summary>Poison examples of other classes and relabel them as the target (BadNets).</summary>
    Dirty,
    /// <summary>Poison examples of the target class and keep their labels (clean-label).</summary>
    Clean,
}

/// <summary>
/// Actual ℓ2 norms (input units, after clipping) of the perturbations of a set of examples: how many, the largest,
/// the mean, and the sum of their squares (the squared ℓ2 norm of all of them taken as one vector).
/// </summary>
internal readonly record struct NormStats(int Count, double Max, double Mean, double SumSquares)
{
    public static NormStats Of(ReadOnlySpan<double> norms)
    {
        if (norms.IsEmpty) return new NormStats(0, 0, 0, 0);
        double max = 0, sum = 0, sumSquares = 0;
        foreach (double n in norms) { max = Math.Max(max, n); sum += n; sumSquares += n * n; }
        return new NormStats(norms.Length, max, sum / norms.Length, sumSquares);
    }

    public override string ToString() => Count == 0 ? "none" : $"max {Max:0.######}, mean {Mean:0.######} over {Count}";
}

/// <summary>A poisoned copy of a training set: <see cref="PoisonedRows"/> (ascending) carry the trigger.</summary>
internal sealed record PoisonedTrainingSet(Dataset Data, int[] PoisonedRows, NormStats Norms)
{
    /// <summary>Actual perturbation norm of each poisoned row, <c>(PoisonedRows.Length)</c>, input units.</summary>
    public double[] RowNorms { get; init; } = [];
}

/// <summary>
/// Triggered copies of the test rows whose true label is not the target; labels stay the true ones.
/// Row k of <see cref="Data"/> is test row <see cref="SourceRows"/>[k].
/// </summary>
internal sealed record TriggeredInputs(Dataset Data, int[] SourceRows, NormStats Norms)
{
    /// <summary>Actual perturbation norm of each triggered row, <c>(Data.Count)</c>, input units.</summary>
    public double[] RowNorms { get; init; } = [];
}

/// <summary>A backdoor attack with a fixed trigger: poisons training examples and triggers test inputs.</summary>
internal sealed class BackdoorAttack(Trigger trigger)
{
    public Trigger Trigger { get; } = trigger;

    /// <summary>
    /// Replaces <paramref name="count"/> training rows, chosen by <paramref name="seed"/>, with triggered copies:
    /// from non-target classes relabelled <paramref name="target"/> (dirty-label), or from the target class with
    /// labels kept (clean-label). Returns a new dataset; <paramref name="train"/> is not modified.
    /// </summary>
    /// <remarks><paramref name="targetClassId"/> is the target's original class id (<c>attack.target</c>
    /// as the user gave it), for messages; the label itself when null.</remarks>
    public PoisonedTrainingSet Poison(Dataset train, int count, int target, LabelMode mode, ulong seed, int? targetClassId = null)
    {
        CheckTarget(train, target);
        CheckDimension(train);
        var candidates = new List<int>();
        for (int i = 0; i < train.Count; i++)
            if ((train.Labels[i] == target) == (mode == LabelMode.Clean)) candidates.Add(i);
        if (count < 0) throw SpecException.Invalid("attack.poison", count, "must be at least 0");
        if (count > candidates.Count)
            throw new SpecException($"attack.poison {count}: the training set has only {candidates.Count} rows {(mode == LabelMode.Clean ? "of" : "outside")} the target class {targetClassId ?? target}", "attack.poison");

        int[] pool = candidates.ToArray();
        SplitMix64.For(seed, 0xBAD).Shuffle(pool);
        int[] rows = pool[..count];
        Array.Sort(rows);

        var features = (float[])train.Features.Clone();
        var labels = (int[])train.Labels.Clone();
        var norms = new double[count];
        int d = train.Dimension;
        for (int k = 0; k < count; k++)
        {
            int i = rows[k];
            Span<float> dst = features.AsSpan(i * d, d);
            Trigger.Apply(dst, train.Row(i));
            norms[k] = Trigger.PerturbationNorm(dst, train.Row(i));
            if (mode == LabelMode.Dirty) labels[i] = target;
        }
        var data = new Dataset(features, labels, d, train.ClassCount, train.Shape, $"{train.Source}, {count} poisoned");
        return new PoisonedTrainingSet(data, rows, NormStats.Of(norms)) { RowNorms = norms };
    }

    /// <summary>Triggered copies of every test row whose label is not <paramref name="target"/>, in row order.</summary>
    public TriggeredInputs TriggerInputs(Dataset test, int target)
    {
        CheckTarget(test, target);
        CheckDimension(test);
        var rows = new List<int>();
        for (int i = 0; i < test.Count; i++) if (test.Labels[i] != target) rows.Add(i);
        int d = test.Dimension;
        var features = new float[(long)rows.Count * d];
        var labels = new int[rows.Count];
        var norms = new double[rows.Count];
        for (int k = 0; k < rows.Count; k++)
        {
            Span<float> dst = features.AsSpan(k * d, d);
            Trigger.Apply(dst, test.Row(rows[k]));
            norms[k] = Trigger.PerturbationNorm(dst, test.Row(rows[k]));
            labels[k] = test.Labels[rows[k]];
        }
        var data = new Dataset(features, labels, d, test.ClassCount, test.Shape, $"{test.Source}, triggered");
        return new TriggeredInputs(data, rows.ToArray(), NormStats.Of(norms)) { RowNorms = norms };
    }

    /// <summary>
    /// ℓ2 norm of the whole attack on one test input, all poisoned training rows and that input taken as one
    /// perturbation vector: √(Σᵢ‖δᵢ‖² + ‖δₓ‖²). The smoothed prediction is certified against the attack when this
    /// is below the certified radius R (with m rows of norm t it is t·√(m+1)).
    /// </summary>
    public static double JointNorm(NormStats poisoned, double testInputNorm) =>
        Math.Sqrt(poisoned.SumSquares + testInputNorm * testInputNorm);

    private static void CheckTarget(Dataset data, int target)
    {
        if (target < 0 || target >= data.ClassCount)
            throw SpecException.Invalid("attack.target", target, $"not a class label (0..{data.ClassCount - 1})");
    }

    private void CheckDimension(Dataset data)
    {
        if (data.Dimension != Trigger.Dimension)
            throw new UserInputException($"trigger has {Trigger.Dimension} features but {data.Source} has {data.Dimension}");
    }
}

/// <summary>What an attack produced: the poisoned training set and the triggered test inputs.</summary>
/// <param name="Attack">The attack and its trigger.</param>
/// <param name="Target">Target label (after the data's class selection relabels it).</param>
/// <param name="Mode">Dirty- or clean-label.</param>
/// <param name="Poisoned">Training set with the poisoned rows replaced.</param>
/// <param name="Triggered">Triggered copies of the non-target test rows.</param>
internal sealed record AttackResult(BackdoorAttack Attack, int Target, LabelMode Mode, PoisonedTrainingSet Poisoned, TriggeredInputs Triggered);
