using NativeCert.Attacks;
using NativeCert.Data;
using NativeCert.Tests.Data;

namespace NativeCert.Tests.Attacks;

public sealed class TriggerTests : IDisposable
{
    private readonly DataTestFiles _files = new();
    public void Dispose() => _files.Dispose();

    private static Dataset Constant(int n, ImageShape shape, float value, int classes = 3) =>
        new(Enumerable.Repeat(value, n * shape.Size).ToArray(), Enumerable.Range(0, n).Select(i => i % classes).ToArray(), shape.Size, classes, shape, "constant");

    [Fact]
    public void ThreeByThreePatchOfOneOnZeroImagesHasNormExactlyThree()
    {
        var shape = new ImageShape(1, 28, 28);
        var attack = new BackdoorAttack(new PatchTrigger(shape, 3, 1f, TriggerCorner.BottomRight));
        PoisonedTrainingSet poisoned = attack.Poison(Constant(30, shape, 0f), 7, target: 2, LabelMode.Dirty, seed: 1);
        TriggeredInputs triggered = attack.TriggerInputs(Constant(9, shape, 0f), target: 2);

        Assert.Equal(new NormStats(7, 3.0, 3.0, 63.0), poisoned.Norms);
        Assert.Equal(new NormStats(6, 3.0, 3.0, 54.0), triggered.Norms);
        Assert.Equal(Enumerable.Repeat(3.0, 7), poisoned.RowNorms);
        Assert.Equal(Math.Sqrt(72.0), BackdoorAttack.JointNorm(poisoned.Norms, triggered.RowNorms[0])); // t·√(m+1) = 3·√8
    }

    [Fact]
    public void PatchCoversEveryChannelOfTheChosenCorner()
    {
        var shape = new ImageShape(3, 4, 5);
        var x = new float[shape.Size];
        foreach (var (corner, y0, x0) in new[] { (TriggerCorner.BottomRight, 2, 3), (TriggerCorner.BottomLeft, 2, 0), (TriggerCorner.TopRight, 0, 3), (TriggerCorner.TopLeft, 0, 0) })
        {
            var dst = new float[shape.Size];
            new PatchTrigger(shape, 2, 0.5f, corner).Apply(dst, x);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 4; y++)
                    for (int col = 0; col < 5; col++)
                    {
                        bool inside = y >= y0 && y < y0 + 2 && col >= x0 && col < x0 + 2;
                        Assert.Equal(inside ? 0.5f : 0f, dst[(c * 4 + y) * 5 + col]);
                    }
            Assert.Equal(Math.Sqrt(12 * 0.25), Trigger.PerturbationNorm(dst, x)); // 3 channels × 4 pixels × 0.5²
        }
    }

    [Fact]
    public void PatchNormOnRealDigitsIsTheRecomputedDistance()
    {
        DataSplit mnist = DatasetCatalog.Load("mnist", new DataLoadOptions { TrainSize = 500, TestSize = 100 });
        var attack = new BackdoorAttack(new PatchTrigger(mnist.Train.Shape!.Value, 4, 1f, TriggerCorner.TopLeft));
        PoisonedTrainingSet p = attack.Poison(mnist.Train, 50, target: 0, LabelMode.Dirty, seed: 3);

        var norms = p.PoisonedRows.Select(i => Trigger.PerturbationNorm(p.Data.Row(i), mnist.Train.Row(i))).ToArray();
        Assert.Equal(norms, p.RowNorms);
        Assert.Equal(norms.Max(), p.Norms.Max);
        Assert.Equal(norms.Sum(n => n * n), p.Norms.SumSquares, 9);
        Assert.Equal(norms.Average(), p.Norms.Mean, 12);
        Assert.True(p.Norms.Max <= 4.0); // 16 pixels, each changed by at most 1
        Assert.True(p.Norms.Mean > 3.5); // corners of MNIST digits are background
    }

    [Fact]
    public void BlendPatternHasTheRequestedNormAndClippingIsReportedExactly()
    {
        var shape = new ImageShape(1, 28, 28);
        var trigger = new BlendTrigger(shape.Size, norm: 0.75, seed: 11);
        double patternNorm = Math.Sqrt(trigger.Pattern.ToArray().Sum(v => v * v));
        Assert.Equal(0.75, patternNorm, 1e-12);

        // Mid-grey inputs: no coordinate clips (|δ_i| < 0.5), so the change is δ up to float rounding.
        var attack = new BackdoorAttack(trigger);
        TriggeredInputs mid = attack.TriggerInputs(Constant(6, shape, 0.5f), target: 0);
        Assert.Equal(0.75, mid.Norms.Max, 1e-6);
        Assert.Equal(0.75, mid.Norms.Mean, 1e-6);

        // Black inputs: every negative coordinate clips to 0, so the change is δ's positive part.
        TriggeredInputs black = attack.TriggerInputs(Constant(6, shape, 0f), target: 0);
        double positivePart = Math.Sqrt(trigger.Pattern.ToArray().Sum(v => v > 0 ? (double)(float)v * (float)v : 0));
        Assert.Equal(positivePart, black.Norms.Max, 1e-9);
        Assert.True(black.Norms.Max < 0.75);
        double recomputed = Trigger.PerturbationNorm(black.Data.Row(0), new float[shape.Size]);
        Assert.Equal(recomputed, black.Norms.Max);
        Assert.All(black.Data.Features, v => Assert.InRange(v, 0f, 1f));

        // Seeded: same seed same pattern, other seed another.
        Assert.Equal(trigger.Pattern.ToArray(), new BlendTrigger(shape.Size, 0.75, 11).Pattern.ToArray());
        Assert.NotEqual(trigger.Pattern.ToArray(), new BlendTrigger(shape.Size, 0.75, 12).Pattern.ToArray());
    }

    [Fact]
    public void MaskFileSetsEveryChannelOfItsPixels()
    {
        var shape = new ImageShape(2, 2, 3);
        string path = _files.PathOf("mask.txt");
        File.WriteAllText(path, ". 1 .\n0.25 . .\n");
        MaskTrigger trigger = MaskTrigger.FromFile(path, shape.Size, shape);
        var x = Enumerable.Repeat(0.5f, shape.Size).ToArray();
        var dst = new float[shape.Size];
        trigger.Apply(dst, x);

        Assert.Equal([0.5f, 1f, 0.5f, 0.25f, 0.5f, 0.5f, 0.5f, 1f, 0.5f, 0.25f, 0.5f, 0.5f], dst);
        Assert.Equal(Math.Sqrt(2 * 0.25 + 2 * 0.0625), Trigger.PerturbationNorm(dst, x));
        Assert.Equal(4, trigger.MaskedCount);
    }

    [Fact]
    public void BadMaskFilesAreUserErrors()
    {
        var shape = new ImageShape(1, 2, 2);
        string path = _files.PathOf("mask.txt");
        File.WriteAllText(path, ". 1 .");
        DataTestFiles.AssertUserError(() => MaskTrigger.FromFile(path, 4, shape), path, "3 mask entries; expected 4");
        File.WriteAllText(path, ". 1.5 . .");
        DataTestFiles.AssertUserError(() => MaskTrigger.FromFile(path, 4, shape), path, "entry 2 '1.5'");
        File.WriteAllText(path, ". . . .");
        DataTestFiles.AssertUserError(() => MaskTrigger.FromFile(path, 4, shape), path, "sets no feature");
    }
}

public sealed class BackdoorAttackTests
{
    private static Dataset Random(int n, int d, int classes, int seed)
    {
        var rng = new Random(seed);
        return new Dataset(Enumerable.Range(0, n * d).Select(_ => (float)rng.NextDouble()).ToArray(),
            Enumerable.Range(0, n).Select(i => i % classes).ToArray(), d, classes, new ImageShape(1, 1, d), "random");
    }

    [Fact]
    public void DirtyLabelPoisonsOnlyNonTargetRowsAndRelabelsThem()
    {
        Dataset train = Random(200, 16, 4, 1);
        var attack = new BackdoorAttack(new PatchTrigger(new ImageShape(1, 4, 4), 2, 1f, TriggerCorner.BottomRight));
        PoisonedTrainingSet p = attack.Poison(train, 30, target: 2, LabelMode.Dirty, seed: 7);

        Assert.Equal(30, p.PoisonedRows.Length);
        Assert.Equal(p.PoisonedRows.Order(), p.PoisonedRows);
        Assert.All(p.PoisonedRows, i => Assert.NotEqual(2, train.Labels[i]));
        var poisoned = p.PoisonedRows.ToHashSet();
        for (int i = 0; i < train.Count; i++)
        {
            Assert.Equal(poisoned.Contains(i) ? 2 : train.Labels[i], p.Data.Labels[i]);
            bool changed = !p.Data.Row(i).SequenceEqual(train.Row(i));
            Assert.Equal(poisoned.Contains(i), changed);
        }
        Assert.Equal(train.Count, p.Data.Count);
        Assert.NotSame(train.Features, p.Data.Features);

        Assert.Equal(p.PoisonedRows, attack.Poison(train, 30, 2, LabelMode.Dirty, seed: 7).PoisonedRows);
        Assert.NotEqual(p.PoisonedRows, attack.Poison(train, 30, 2, LabelMode.Dirty, seed: 8).PoisonedRows);
    }

    [Fact]
    public void CleanLabelPoisonsTargetRowsAndKeepsLabels()
    {
        Dataset train = Random(200, 16, 4, 2);
        var attack = new BackdoorAttack(new BlendTrigger(16, 0.3, 5));
        PoisonedTrainingSet p = attack.Poison(train, 50, target: 1, LabelMode.Clean, seed: 1);

        Assert.All(p.PoisonedRows, i => Assert.Equal(1, train.Labels[i]));
        Assert.Equal(train.Labels, p.Data.Labels);
        Assert.True(p.Norms.Max <= 0.3 + 1e-6);
        DataTestFiles.AssertUserError(() => attack.Poison(train, 51, 1, LabelMode.Clean, 1), "attack.poison 51", "only 50 rows of the target class 1");
        DataTestFiles.AssertUserError(() => attack.Poison(train, 151, 1, LabelMode.Dirty, 1), "attack.poison 151", "only 150 rows outside");
        DataTestFiles.AssertUserError(() => attack.Poison(train, 1, 4, LabelMode.Dirty, 1), "attack.target 4", "0..3");
    }

    [Fact]
    public void TriggerInputsKeepsNonTargetRowsWithTheirTrueLabels()
    {
        Dataset test = Random(40, 16, 4, 3);
        var attack = new BackdoorAttack(new PatchTrigger(new ImageShape(1, 4, 4), 1, 0f, TriggerCorner.TopLeft));
        TriggeredInputs t = attack.TriggerInputs(test, target: 3);

        Assert.Equal(30, t.Data.Count);
        Assert.Equal(Enumerable.Range(0, 40).Where(i => i % 4 != 3), t.SourceRows);
        Assert.Equal(t.SourceRows.Select(i => test.Labels[i]), t.Data.Labels);
        for (int k = 0; k < t.Data.Count; k++)
        {
            Assert.Equal(0f, t.Data.Row(k)[0]);
            Assert.True(t.Data.Row(k)[1..].SequenceEqual(test.Row(t.SourceRows[k])[1..]));
        }
        Assert.Equal(t.SourceRows.Select(i => (double)test.Row(i)[0]).Max(), t.Norms.Max, 7);
    }
}
