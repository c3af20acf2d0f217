namespace NativeCert.Data;

/// <summary>
/// A training set and a test set with the same features and classes. Labels are 0..k−1;
/// <see cref="ClassIds"/>[label] is the class's id in the original dataset and <see cref="ClassNames"/>[label]
/// its name (they differ from the label after a class selection (<see cref="Spec.DataSpec.Classes"/>) relabels them, e.g. classes 1,7 → labels 0,1).
/// </summary>
public sealed record DataSplit(Dataset Train, Dataset Test)
{
    /// <summary>The dataset spec it was loaded from, e.g. <c>mnist</c> or <c>csv:/data/x.csv</c>.</summary>
    public string Name { get; init; } = Train.Source;
    /// <summary>Where the files came from (directory or files), for reports.</summary>
    public string Location { get; init; } = "";
    /// <summary>Original class id of each label, <c>(k)</c>.</summary>
    public IReadOnlyList<int> ClassIds { get; init; } = Enumerable.Range(0, Train.ClassCount).ToArray();
    /// <summary>Human name of each label, <c>(k)</c>, e.g. "7" for MNIST or "cat" for CIFAR-10.</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = Enumerable.Range(0, Train.ClassCount).Select(c => c.ToString()).ToArray();

    /// <summary>One line for logs: "mnist (classes 1 vs 7): train 8000, test 2000, 1x28x28".</summary>
    internal string Describe()
    {
        string classes = ClassIds.Count == Train.ClassCount && IsIdentity() ? $"{Train.ClassCount} classes" : "classes " + string.Join(" vs ", ClassNames);
        string shape = Train.Shape is { } s ? s.ToString() : $"{Train.Dimension} features";
        return $"{Name} ({classes}): train {Train.Count}, test {Test.Count}, {shape}";
    }

    /// <summary>Label of an original class id, or −1 when the class is not in this split.</summary>
    internal int LabelOfClassId(int classId)
    {
        for (int k = 0; k < ClassIds.Count; k++) if (ClassIds[k] == classId) return k;
        return -1;
    }

    private bool IsIdentity()
    {
        for (int k = 0; k < ClassIds.Count; k++) if (ClassIds[k] != k) return false;
        return true;
    }
}

/// <summary>How to cut a loaded dataset down. All selections are deterministic given <see cref="Seed"/>.</summary>
public sealed record DataLoadOptions
{
    /// <summary>Training rows to keep (stratified, seeded); null keeps all.</summary>
    public int? TrainSize { get; init; }
    /// <summary>Test rows to keep (stratified, seeded); null keeps all.</summary>
    public int? TestSize { get; init; }
    /// <summary>Original class ids to keep, relabelled 0..k−1 in this order; null keeps all.</summary>
    public IReadOnlyList<int>? Classes { get; init; }
    /// <summary>Seed of the subset selection (and of the split of a single CSV).</summary>
    public ulong Seed { get; init; }
}
