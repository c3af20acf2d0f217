using NativeCert.Data;
using NativeCert.Spec;

namespace NativeCert;

/// <summary>The rules for jobs on data a library caller passes in memory instead of naming a dataset.</summary>
internal static class InMemoryData
{
    /// <summary>What <see cref="DataSpec.Dataset"/> reads for a job on data passed in memory.</summary>
    public const string Prefix = "memory:";

    /// <summary>
    /// In-memory data are used as given: the spec's own selection fields apply to data it loads, and must be unset.
    /// Labels must be classes of the data and features finite (what the file loaders check).
    /// </summary>
    public static void Check(DataSplit data, DataSpec selection)
    {
        if (selection.TrainSize is not null || selection.TestSize is not null || selection.Classes is not null)
            throw new SpecException("data.train_size, data.test_size and data.classes select rows of the data the spec loads; with data passed in memory, select the rows beforehand",
                                    "data.train_size", "data.test_size", "data.classes");
        foreach (var (set, rows) in new[] { ("training", data.Train), ("test", data.Test) })
        {
            if (rows.Dimension != data.Train.Dimension)
                throw new ArgumentException($"{set} rows have {rows.Dimension} features but the training rows {data.Train.Dimension}", nameof(data));
            for (int i = 0; i < rows.Count; i++)
                if ((uint)rows.Labels[i] >= (uint)data.Train.ClassCount)
                    throw new ArgumentException($"{set} row {i}: label {rows.Labels[i]} is not a class in [0, {data.Train.ClassCount})", nameof(data));
            int bad = Array.FindIndex(rows.Features, f => !float.IsFinite(f));
            if (bad >= 0) throw new ArgumentException($"{set} row {bad / rows.Dimension}: feature {bad % rows.Dimension} is {rows.Features[bad]}; every feature must be finite", nameof(data));
        }
    }

}
