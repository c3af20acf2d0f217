using NativeCert.Data;

namespace NativeCert.Tests.Data;

public sealed class CatalogTests
{
    private static readonly int[] MnistClassCounts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

    private static HashSet<string> RowKeys(Dataset d) =>
        Enumerable.Range(0, d.Count).Select(i => Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(d.Row(i)))).ToHashSet();

    [Fact]
    public void BuiltInMnistIsTenThousandDistinctDigitsSplit8000To2000Stratified()
    {
        DataSplit split = DatasetCatalog.Load("mnist");

        Assert.Equal((8000, 2000), (split.Train.Count, split.Test.Count));
        Assert.Equal(new ImageShape(1, 28, 28), split.Train.Shape);
        Assert.Equal(10, split.Train.ClassCount);
        int[] expectedTest = StratifiedSampler.Apportion(MnistClassCounts, 2000);
        Assert.Equal(expectedTest, split.Test.ClassCounts());
        Assert.Equal(MnistClassCounts.Zip(expectedTest, (all, test) => all - test), split.Train.ClassCounts());
        HashSet<string> train = RowKeys(split.Train), test = RowKeys(split.Test);
        Assert.Equal(8000, train.Count);
        Assert.Equal(2000, test.Count);
        Assert.Empty(train.Intersect(test));
        // Real handwriting, not noise: mostly background with a stroke of ~19% ink (MNIST's mean pixel is ~0.13).
        double mean = split.Train.Features.Average(v => (double)v);
        Assert.InRange(mean, 0.11, 0.15);
        Assert.InRange(split.Train.Features.Count(v => v == 0f) / (double)split.Train.Features.Length, 0.75, 0.85);
        // The split is mixed, not grouped by class: the first 100 test rows hold every digit.
        Assert.Equal(10, split.Test.Labels.Take(100).Distinct().Count());
    }

    [Fact]
    public void SubsetsAreStratifiedSeededAndDeterministic()
    {
        var options = new DataLoadOptions { TrainSize = 1000, TestSize = 100, Seed = 5 };
        DataSplit a = DatasetCatalog.Load("mnist", options), b = DatasetCatalog.Load("mnist", options);
        DataSplit c = DatasetCatalog.Load("mnist", options with { Seed = 6 });
        DataSplit full = DatasetCatalog.Load("mnist");

        Assert.Equal((1000, 100), (a.Train.Count, a.Test.Count));
        Assert.Equal(a.Train.Features, b.Train.Features);
        Assert.Equal(a.Test.Labels, b.Test.Labels);
        Assert.NotEqual(a.Train.Features, c.Train.Features);
        Assert.Equal(StratifiedSampler.Apportion(full.Train.ClassCounts(), 1000), a.Train.ClassCounts());
        Assert.Equal(StratifiedSampler.Apportion(full.Test.ClassCounts(), 100), a.Test.ClassCounts());
        Assert.Subset(RowKeys(full.Train), RowKeys(a.Train));
        Assert.Subset(RowKeys(full.Test), RowKeys(a.Test));
    }

    [Fact]
    public void ClassSubsetRelabelsInTheGivenOrderAndKeepsOriginalIds()
    {
        DataSplit full = DatasetCatalog.Load("mnist");
        DataSplit split = DatasetCatalog.Load("mnist", new DataLoadOptions { Classes = [7, 1] });

        Assert.Equal(2, split.Train.ClassCount);
        Assert.Equal([7, 1], split.ClassIds);
        Assert.Equal(["7", "1"], split.ClassNames);
        Assert.Equal([full.Train.ClassCounts()[7], full.Train.ClassCounts()[1]], split.Train.ClassCounts());
        Assert.Equal([full.Test.ClassCounts()[7], full.Test.ClassCounts()[1]], split.Test.ClassCounts());
        Assert.Equal(0, split.LabelOfClassId(7));
        Assert.Equal(-1, split.LabelOfClassId(3));
        Assert.Contains("classes 7 vs 1", split.Describe());
        // Row i of the subset is the i-th 7-or-1 row of the full set.
        int first = Array.FindIndex(full.Train.Labels, y => y is 1 or 7);
        Assert.Equal(full.Train.Row(first).ToArray(), split.Train.Row(0).ToArray());
        Assert.Equal(full.Train.Labels[first] == 7 ? 0 : 1, split.Train.Labels[0]);
    }

    [Fact]
    public void FashionMnistLoadsItsOwnSplitOrSaysHowToInstallIt()
    {
        if (Directory.Exists(DatasetCatalog.DefaultFashionMnistDirectory) && Environment.GetEnvironmentVariable(DataRoot.EnvironmentVariable) is null)
        {
            DataSplit split = DatasetCatalog.Load("fashion-mnist", new DataLoadOptions { Classes = [0, 9] });
            Assert.Equal((12000, 2000), (split.Train.Count, split.Test.Count));
            Assert.Equal(["T-shirt/top", "Ankle boot"], split.ClassNames);
            Assert.Equal([6000, 6000], split.Train.ClassCounts());
        }
        else
        {
            DataTestFiles.AssertUserError(() => DatasetCatalog.Load("fashion-mnist"), DatasetCatalog.DefaultFashionMnistDirectory, "dataset-fashion-mnist");
        }
    }

    [Fact]
    public void Cifar10WithoutDirectorySaysHowToPointAtOne()
    {
        if (Directory.Exists(DatasetCatalog.DefaultCifar10Directory)) return; // a machine that has it: covered by the round-trip test
        DataTestFiles.AssertUserError(() => DatasetCatalog.Load("cifar10"), DatasetCatalog.DefaultCifar10Directory, "cifar10:DIR");
    }
}

public sealed class StratifiedSamplerTests
{
    [Theory]
    [InlineData(new[] { 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 }, 2000)]
    [InlineData(new[] { 5, 0, 3 }, 7)]
    [InlineData(new[] { 1, 1, 1 }, 2)]
    [InlineData(new[] { 10, 20 }, 0)]
    [InlineData(new[] { 10, 20 }, 30)]
    public void ApportionGivesExactlyTakeWithinOneOfTheProportion(int[] sizes, int take)
    {
        int[] quota = StratifiedSampler.Apportion(sizes, take);
        int n = sizes.Sum();
        Assert.Equal(take, quota.Sum());
        for (int c = 0; c < sizes.Length; c++)
        {
            Assert.InRange(quota[c], 0, sizes[c]);
            Assert.InRange(quota[c] - (double)sizes[c] * take / n, -1.0, 1.0);
        }
    }

    [Fact]
    public void SplitIsAPartitionAndDependsOnTheSeed()
    {
        int[] labels = Enumerable.Range(0, 500).Select(i => i * 7 % 5).ToArray();
        var (selected, others) = StratifiedSampler.Split(labels, 5, 123, seed: 9);
        var (again, _) = StratifiedSampler.Split(labels, 5, 123, seed: 9);
        var (otherSeed, _) = StratifiedSampler.Split(labels, 5, 123, seed: 10);

        Assert.Equal(Enumerable.Range(0, 500), selected.Concat(others).Order());
        Assert.Equal(selected, again);
        Assert.NotEqual(selected, otherSeed);
        Assert.Equal(StratifiedSampler.Apportion([100, 100, 100, 100, 100], 123), Enumerable.Range(0, 5).Select(c => selected.Count(i => labels[i] == c)));
    }
}
