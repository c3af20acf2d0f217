using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>
/// Pins the votes and trained weights of existing MLP configurations as SHA-256 hashes, computed on the engine
/// before models became layer lists (commit "Test: pin MLP votes and weights"). Every redesign of the model, the
/// trainer or the kernels must keep these bytes: existing runs resume and merge only if their models are unchanged.
/// Each case runs on every SIMD level, with one and three threads, and with the model range split in two.
/// </summary>
public class MlpRegressionTests
{
    internal sealed record Case(string Name, Func<(Dataset Train, Dataset Test)> Data, int[] Hidden, TrainingOptions Training,
                              float Sigma, ulong Seed, int Models, string VotesSha256, string WeightsSha256)
    {
        public override string ToString() => Name;
    }

    private static (Dataset, Dataset) Blobs(int n, int t, int d, int classes, int seed) =>
        (EngineTestData.Blobs(n, d, classes, seed, spread: 1.2f), EngineTestData.Blobs(t, d, classes, seed + 1, spread: 1.2f));

    private static (Dataset, Dataset) Mnist()
    {
        var split = DatasetCatalog.Load("mnist", new DataLoadOptions { TrainSize = 256, TestSize = 64 });
        return (split.Train, split.Test);
    }

    // object[] rows: xUnit needs a public data member, and Case holds engine types that are internal.
    public static IEnumerable<object[]> Cases => AllCases.Select(c => new object[] { c });

    private static readonly Case[] AllCases =
    [
        new("45-19-4 sigma 0.3 batch 16", () => Blobs(300, 50, 45, 4, 21), [19], new TrainingOptions(2, 16, 0.05f, 0.9f, 5e-4f),
            0.3f, 7, 5, "1c4b0e200b47727a41ee6a568e2dbbeb8981952a3736a46706ccaa849ad094cb", "782fd1f13cf6841325f5647737c8e29ea336e1afb7071b7f05596e7fd9a4c17e"),
        new("64-33-17-3 sigma 0 batch 37", () => Blobs(250, 40, 64, 3, 31), [33, 17], new TrainingOptions(2, 37, 0.05f, 0.9f, 5e-4f),
            0f, 11, 4, "8df240ce003ae20a5c648143be5d84dc379549bae8378c0f2c62c6614af8b3c7", "ac552d7aa9a072859e6993224764be84800066c3052d98049b69b33ea74d2d24"),
        new("20-128-10 sigma 1 default training", () => Blobs(200, 30, 20, 10, 41), [128], TrainingDefaults.Options(epochs: 3),
            1f, 123456789012UL, 4, "1811bd1aba0a7ddeda9507367d9e70bc1a5fd0b40c3ce017eed044d10b3ef1d9", "0c52014f83e73e89b99dda800f8607726f8cee8dc68ed16cec8cff8a3bfda5a7"),
        new("mnist 784-128-10 sigma 0.5 default training", Mnist, [128], TrainingDefaults.Options(epochs: 2),
            0.5f, 0, 3, "feb38bbb70bbdece210d89a738682e80811176fabb5eb7c1b8220f82b5ae0755", "736d4783361cfc2cbb9e03a927f1d6d7c355fa67ad14494c550a8f180a864e59"),
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    internal void VotesAndWeightsAreUnchangedOnEveryIsaLevelThreadCountAndSplit(Case c)
    {
        var (train, test) = c.Data();
        var config = new EnsembleConfig(ModelArchitecture.Mlp(train.Dimension, c.Hidden, train.ClassCount), c.Training, c.Sigma, c.Seed);
        RegressionPins.AssertUnchanged(c.Name, config, train, test, c.Models, c.VotesSha256, c.WeightsSha256);
    }
}
