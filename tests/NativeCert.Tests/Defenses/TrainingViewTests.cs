using NativeCert.Data;
using NativeCert.Defenses;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;
using NativeCert.Kernels.Engine;
using NativeCert.Tests.Engine;

namespace NativeCert.Tests.Defenses;

/// <summary>Per-model training views: content-determined rows, bit-identical untouched partitions, every backend.</summary>
public class TrainingViewTests
{
    private static float[] Parameters(EnsembleConfig config, Dataset train, int model, IsaLevel isa = IsaLevel.Avx512)
    {
        var trainer = new CpuTrainer(config, isa);
        trainer.Train(train, model, rows: config.View.Bind(train, config.Seed).Of(model));
        return (float[])trainer.Parameters.Clone();
    }

    /// <summary>The same rows in another order (a reversed, rotated copy): a view must not see the difference.</summary>
    private static Dataset Reordered(Dataset d)
    {
        int[] order = Enumerable.Range(0, d.Count).Select(i => (d.Count - 1 - i + 17) % d.Count).ToArray();
        return d.Select(order);
    }

    [Fact]
    public void PartitionsDependOnFeaturesOnlyAndCoverEveryRowOnce()
    {
        var train = EngineTestData.Blobs(300, 12, 3, 21);
        var rows = new PartitionView(7).Bind(train, 0);
        var seen = new int[train.Count];
        for (int p = 0; p < 7; p++)
            foreach (int i in rows.Of(p)!)
            {
                seen[i]++;
                Assert.Equal(p, RowHash.Partition(RowHash.Of(train.Row(i)), 7));
            }
        Assert.All(seen, c => Assert.Equal(1, c));
        // Relabelling a row keeps its partition (the hash ignores labels).
        var labels = (int[])train.Labels.Clone();
        labels[5] = (labels[5] + 1) % 3;
        var relabelled = new Dataset(train.Features, labels, train.Dimension, 3, null, "relabelled");
        int part = RowHash.Partition(RowHash.Of(train.Row(5)), 7);
        Assert.Contains(5, new PartitionView(7).Bind(relabelled, 0).Of(part)!);
    }

    [Fact]
    public void ViewsAreFunctionsOfTheRowsContentsNotTheirOrder()
    {
        var train = EngineTestData.Blobs(120, 16, 3, 22, spread: 1.2f);
        var test = EngineTestData.Blobs(30, 16, 3, 23, spread: 1.2f);
        var shuffled = Reordered(train);
        foreach (TrainingView view in new TrainingView[] { new PartitionView(5), new BagView(40) })
        {
            var config = EngineTestData.Config(16, [8], 3, epochs: 4, batch: 16, sigma: 0.2f) with { View = view };
            VoteCounts Votes(Dataset t)
            {
                var v = new VoteCounts(test.Count, 3);
                using var backend = new CpuEnsembleBackend(2);
                backend.Run(config, t, test, 0, 5, v);
                return v;
            }
            Assert.Equal(Votes(train).Counts, Votes(shuffled).Counts);
            for (int m = 0; m < 5; m++) Assert.Equal(Parameters(config, train, m), Parameters(config, shuffled, m));
        }
    }

    [Fact]
    public void AnUntouchedPartitionTrainsBitIdenticallyAfterPoisoningElsewhere()
    {
        var train = EngineTestData.Blobs(200, 16, 3, 24, spread: 1.2f);
        var config = EngineTestData.Config(16, [8], 3, epochs: 3, batch: 16, sigma: 0.3f) with { View = new PartitionView(6) };
        // Poison: relabel two rows, modify the features of a third, delete a fourth, insert a new one.
        var features = (float[])train.Features.Clone();
        var labels = (int[])train.Labels.Clone();
        labels[3] = (labels[3] + 1) % 3;
        labels[40] = (labels[40] + 2) % 3;
        for (int f = 0; f < 16; f++) features[77 * 16 + f] += 0.5f;
        var keep = Enumerable.Range(0, train.Count).Where(i => i != 120).ToArray();
        var modified = new Dataset(features, labels, 16, 3, null, "poisoned").Select(keep);
        var inserted = new float[16];
        for (int f = 0; f < 16; f++) inserted[f] = 0.25f * f;
        var poisoned = new Dataset([.. modified.Features, .. inserted], [.. modified.Labels, 1], 16, 3, null, "poisoned+1");

        var touched = new HashSet<int>();
        foreach (int i in new[] { 3, 40, 77, 120 }) touched.Add(RowHash.Partition(RowHash.Of(train.Row(i)), 6));
        touched.Add(RowHash.Partition(RowHash.Of(poisoned.Row(77 - 0)), 6)); // row 77's new features (index unchanged: 120 is later)
        touched.Add(RowHash.Partition(RowHash.Of(inserted), 6));
        int untouched = 0;
        for (int p = 0; p < 6; p++)
        {
            var clean = Parameters(config, train, p);
            var after = Parameters(config, poisoned, p);
            if (touched.Contains(p)) continue;
            Assert.Equal(clean, after); // bit for bit
            untouched++;
        }
        Assert.True(untouched >= 1, "the test needs at least one untouched partition");
        // And a touched one did change (the test can fail).
        int changed = touched.First();
        Assert.NotEqual(Parameters(config, train, changed), Parameters(config, poisoned, changed));
    }

    [Fact]
    public void BagsAreUniformWithReplacementAndDeterministic()
    {
        var a = new int[20000];
        BagSampler.Draw(a, 7, 5, 3);
        var b = new int[20000];
        BagSampler.Draw(b, 7, 5, 3);
        Assert.Equal(a, b);
        var counts = new int[7];
        foreach (int i in a) counts[i]++;
        // Each count ~ Bin(20000, 1/7): mean 2857, sd 49.5; 5 sd either side.
        Assert.All(counts, c => Assert.InRange(c, 2857 - 250, 2857 + 250));
        BagSampler.Draw(b, 7, 5, 4);
        Assert.NotEqual(a, b);
    }

    [Theory]
    [InlineData(IsaLevel.Avx512)]
    [InlineData(IsaLevel.Scalar)]
    internal void ViewTrainingAgreesWithTheReferenceOnEveryIsaLevel(IsaLevel isa)
    {
        var train = EngineTestData.Blobs(90, 20, 3, 25);
        foreach (TrainingView view in new TrainingView[] { new PartitionView(3), new BagView(50) })
        {
            var config = EngineTestData.Config(20, [12], 3, epochs: 2, batch: 16, sigma: 0.4f) with { View = view };
            for (int m = 0; m < 2; m++)
            {
                var expected = ReferenceTrainer.Train(config, train, m);
                var got = Parameters(config, train, m, isa);
                float worst = 0;
                for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - got[i]) / (1e-2f + Math.Abs(expected[i])));
                Assert.True(worst < 1e-3f, $"{view} model {m} {isa}: {worst:g3}");
                Assert.Equal(Parameters(config, train, m, IsaLevel.Avx512), got); // bit-identical across ISA levels
            }
        }
    }

    [Fact]
    public void IlgpuCpuAcceleratorVotesLikeTheCpuEngineOnViews()
    {
        var train = EngineTestData.Blobs(60, 12, 3, 26, spread: 1.0f);
        var test = EngineTestData.Blobs(20, 12, 3, 27, spread: 1.0f);
        // 9 partitions of 60 rows: some may be empty, which must train nothing and still vote.
        foreach (TrainingView view in new TrainingView[] { new PartitionView(9), new BagView(25) })
        {
            var config = EngineTestData.Config(12, [8], 3, epochs: 2, batch: 8, sigma: 0.2f) with { View = view };
            var cpu = new VoteCounts(test.Count, 3);
            using (var backend = new CpuEnsembleBackend(1)) backend.Run(config, train, test, 0, 9, cpu);
            var gpu = new VoteCounts(test.Count, 3);
            using (var backend = IlgpuEnsembleBackend.CreateCpuAccelerator()) backend.Run(config, train, test, 0, 9, gpu);
            // Float rounding may differ between engines: allow a vote or two to move.
            long moved = 0;
            for (int i = 0; i < cpu.Counts.Length; i++) moved += Math.Abs((long)cpu.Counts[i] - gpu.Counts[i]);
            Assert.True(moved <= 4, $"{view}: {moved / 2} votes differ");
        }
    }
}
