using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;

namespace NativeCert.Tests.Engine;

/// <summary>The CPU trainer and backend against the reference, and their determinism guarantees.</summary>
public class CpuEngineTests
{
    [Theory]
    [InlineData(IsaLevel.Avx512)]
    [InlineData(IsaLevel.Scalar)]
    internal void OneEpochOfSimdTrainingAgreesWithTheReference(IsaLevel isa)
    {
        // 101 rows, batch 16: a short last batch; 45-19-7 plus a 2-hidden-layer model.
        var train = EngineTestData.Blobs(101, 45, 7, 3);
        foreach (var hidden in new[] { new[] { 19 }, new[] { 33, 17 }, Array.Empty<int>() })
        {
            var config = EngineTestData.Config(45, hidden, 7, epochs: 1, batch: 16, sigma: 0.4f);
            var (expectedLosses, losses) = (new List<float>(), new List<float>());
            var expected = ReferenceTrainer.Train(config, train, 5, expectedLosses);
            var trainer = new CpuTrainer(config, isa);
            trainer.Train(train, 5, losses);
            float worst = 0;
            for (int i = 0; i < expected.Length; i++)
                worst = Math.Max(worst, Math.Abs(expected[i] - trainer.Parameters[i]) / (1e-2f + Math.Abs(expected[i])));
            Assert.True(worst < 1e-3f, $"{isa} hidden {string.Join(",", hidden)}: largest relative parameter difference {worst:g3}");
            // The epoch's mean loss, which the trainer only takes when asked (it is not needed for the gradient).
            Assert.Single(losses);
            Assert.True(Math.Abs(expectedLosses[0] - losses[0]) < 1e-4f * (1 + expectedLosses[0]), $"{isa}: loss {losses[0]}, reference {expectedLosses[0]}");
        }
    }

    [Fact]
    public void ReadingTheBatchInPlaceGivesTheBitsOfGatheringIt()
    {
        // A dense first layer reads its batch where the rows lie in the noisy copy (CpuGemm.GemmRows / GemmTransposedRows)
        // when its outputs fill whole panels: 64 and 128 outputs on every level, 16 and 48 on AVX2 and the scalar level
        // (AVX-512 gathers those), 19 only on the scalar level; a short last batch (101 rows, batch 16) and a view of
        // the rows (a DPA partition or bag: out of order, repeated) on top. Against the same trainer gathering the batch.
        var train = EngineTestData.Blobs(101, 45, 7, 3);
        int[] view = [5, 99, 3, 3, 60, 17, 42, 0, 88, 21, 21, 70, 64, 12, 33, 1, 2, 90, 77, 50];
        try
        {
            foreach (var hidden in new[] { new[] { 64 }, new[] { 128 }, new[] { 16, 9 }, new[] { 48 }, new[] { 19 } })
            foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
            foreach (var rows in new[] { null, view })
            {
                var config = EngineTestData.Config(45, hidden, 7, epochs: 2, batch: 16, sigma: 0.4f);
                CpuTrainer.ReadsRowsInPlace = false;
                var gathered = new CpuTrainer(config, isa);
                CpuTrainer.ReadsRowsInPlace = true;
                var inPlace = new CpuTrainer(config, isa);
                gathered.Train(train, 3, rows: rows);
                inPlace.Train(train, 3, rows: rows);
                Assert.True(gathered.Parameters.AsSpan().SequenceEqual(inPlace.Parameters), $"hidden {string.Join(",", hidden)} {isa} view={rows != null}");
            }
        }
        finally { CpuTrainer.ReadsRowsInPlace = true; }
    }

    [Fact]
    public void AHelpedModelHasTheBitsOfOneTrainedAlone()
    {
        // A second thread takes part 1 of every split (the noisy copy, the first layer's forward and weight-gradient
        // GEMMs and the SGD step, CpuAssist) from the first step: panel and non-panel widths (rows read in place or
        // gathered), a 2-hidden-layer model, a conv layer list (only the noise and the SGD step split), every level, a
        // short last batch and a view of the rows. Against the same trainer alone.
        var blobs = EngineTestData.Blobs(101, 45, 7, 3);
        var image = new NativeCert.Data.ImageShape(3, 5, 3);
        var images = new NativeCert.Data.Dataset(blobs.Features, blobs.Labels, blobs.Dimension, blobs.ClassCount, image, blobs.Source);
        var conv = new EnsembleConfig(ModelArchitecture.ForData(ModelArchitecture.Parse("conv:4:3:1,relu,maxpool,flatten,dense:9,relu"), 45, image, 7),
            new TrainingOptions(2, 16, 0.05f, 0.9f, 5e-4f), 0.4f, 7);
        int[] view = [5, 99, 3, 3, 60, 17, 42, 0, 88, 21, 21, 70, 64, 12, 33, 1, 2, 90, 77, 50];
        var cases = new[] { new[] { 64 }, new[] { 19 }, new[] { 33, 17 } }
            .Select(hidden => (Name: $"hidden {string.Join(",", hidden)}", Config: EngineTestData.Config(45, hidden, 7, epochs: 2, batch: 16, sigma: 0.4f), Train: blobs))
            .Append((Name: "conv", Config: conv, Train: images));
        foreach (var (name, config, train) in cases)
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        foreach (var rows in new[] { null, view })
        {
            // The backend lends helpers only to models whose first layer splits; the trainer takes one either way.
            Assert.Equal(name != "conv", CpuTrainer.SplitsFirstLayer(config.Model));
            var alone = new CpuTrainer(config, isa);
            alone.Train(train, 3, rows: rows);
            var assist = new CpuAssist();
            Assert.True(assist.TryClaim());
            Assert.False(assist.TryClaim()); // one helper per owner
            var helper = new Thread(() => assist.Serve(null));
            helper.Start();
            var helped = new CpuTrainer(config, isa) { Assist = assist };
            try { helped.Train(train, 3, rows: rows); }
            finally { assist.Close(); helper.Join(); }
            Assert.True(alone.Parameters.AsSpan().SequenceEqual(helped.Parameters), $"{name} {isa} view={rows != null}");
            // A helper that claimed the model but never runs (descheduled): the owner takes every part 1 itself.
            var absent = new CpuAssist();
            Assert.True(absent.TryClaim());
            var unserved = new CpuTrainer(config, isa) { Assist = absent };
            unserved.Train(train, 3, rows: rows);
            Assert.True(alone.Parameters.AsSpan().SequenceEqual(unserved.Parameters), $"{name} {isa} view={rows != null}, helper absent");
        }
    }

    [Fact]
    public void AssistPartsCoverTheRowsOnceAndAHelpersFailureReachesTheOwner()
    {
        foreach (int count in new[] { 0, 1, 5, 6, 7, 12, 128, 784, 1001 })
        foreach (int block in new[] { 6, 16 })
        {
            var (a0, a1) = CpuAssist.Part(count, 0, block);
            var (b0, b1) = CpuAssist.Part(count, 1, block);
            Assert.Equal((0, count), CpuAssist.Part(count, -1, block));
            Assert.True(a0 == 0 && a1 == b0 && b1 == count && a1 % block == 0 | a1 == count, $"{count}/{block}: [{a0},{a1}) [{b0},{b1})");
            int blocks = (count + block - 1) / block, first = (a1 + block - 1) / block;
            Assert.InRange(first - (blocks - first), 0, 1); // part 0 has as many blocks as part 1, or one more
        }
        var assist = new CpuAssist();
        Assert.True(assist.TryClaim());
        var helper = new Thread(() => assist.Serve(null));
        helper.Start();
        try
        {
            var work = new CountingWork();
            assist.Split(work, 0, CpuPhase.Optimizer);
            Assert.Equal([1, 1, 0], work.Parts);
            var e = Assert.Throws<InvalidOperationException>(() => assist.Split(work, 1, CpuPhase.Optimizer));
            Assert.Equal("helper", e.Message);
            assist.Split(work, 0, CpuPhase.Optimizer); // still serving after a failed part
            Assert.Equal([3, 3, 0], work.Parts);
        }
        finally { assist.Close(); helper.Join(); }
        Assert.False(assist.TryClaim()); // closed
        var alone = new CountingWork();
        new CpuAssist().Split(alone, 0, CpuPhase.Optimizer);
        Assert.Equal([0, 0, 1], alone.Parts);
        // Claimed by a helper that never serves: the owner runs part 1 itself instead of waiting for it.
        var absent = new CpuAssist();
        Assert.True(absent.TryClaim());
        var owner = new CountingWork();
        absent.Split(owner, 0, CpuPhase.Optimizer);
        absent.Split(owner, 0, CpuPhase.Optimizer);
        Assert.Equal([2, 2, 0], owner.Parts);
    }

    /// <summary>Counts the parts it runs ([0], [1], whole in [2]); work 1 fails on the helper's part.</summary>
    private sealed class CountingWork : IAssistedWork
    {
        public readonly int[] Parts = new int[3];

        public void RunPart(int work, int part)
        {
            Parts[part < 0 ? 2 : part]++;
            if (work == 1 && part == 1) throw new InvalidOperationException("helper");
        }
    }

    [Fact]
    public void SimdTrainingIsBitIdenticalAcrossIsaLevels()
    {
        var train = EngineTestData.Blobs(70, 45, 3, 4);
        var config = EngineTestData.Config(45, [19], 3, epochs: 2, batch: 16, sigma: 0.3f);
        float[]? first = null;
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var trainer = new CpuTrainer(config, isa);
            trainer.Train(train, 2);
            first ??= (float[])trainer.Parameters.Clone();
            Assert.Equal(first, trainer.Parameters);
            trainer.Train(train, 2, new List<float>()); // taking the losses changes no parameter
            Assert.Equal(first, trainer.Parameters);
        }
    }

    [Fact]
    public void VotesAreBitIdenticalAcrossRunsThreadsAndModelSplitsAndMatchTheReference()
    {
        var train = EngineTestData.Blobs(120, 20, 3, 5, spread: 1.2f);
        var test = EngineTestData.Blobs(40, 20, 3, 6, spread: 1.2f);
        var config = EngineTestData.Config(20, [16], 3, epochs: 3, batch: 32, sigma: 0.5f);
        const int N = 9;

        VoteCounts RunWith(int threads, params (int, int)[] ranges)
        {
            var votes = new VoteCounts(test.Count, 3);
            using var backend = new CpuEnsembleBackend(threads);
            foreach (var (a, b) in ranges)
            {
                var part = new VoteCounts(test.Count, 3);
                backend.Run(config, train, test, a, b, part);
                votes.Add(part);
            }
            return votes;
        }

        var one = RunWith(1, (0, N));
        Assert.All(Enumerable.Range(0, test.Count), t => Assert.Equal(N, one.Total(t)));
        Assert.Equal(one.Counts, RunWith(1, (0, N)).Counts);
        Assert.Equal(one.Counts, RunWith(2, (0, N)).Counts);
        Assert.Equal(one.Counts, RunWith(2, (0, 4), (4, N)).Counts);
        Assert.Equal(one.Counts, RunWith(3, (0, 1), (1, 2), (2, N)).Counts);
        // Three models on two threads: the worker left without a model helps the third (CpuAssist) where there are 2 cores.
        var three = RunWith(1, (0, 3));
        Assert.Equal(three.Counts, RunWith(2, (0, 3)).Counts);

        // Same models by the scalar reference: votes may differ only where float rounding flips a near-tie.
        var reference = new VoteCounts(test.Count, 3);
        ReferenceTrainer.Run(config, train, test, 0, N, reference);
        long differing = one.Counts.Zip(reference.Counts, (a, b) => (long)Math.Abs((int)a - (int)b)).Sum();
        Assert.True(differing <= 4, $"{differing / 2} of {N * test.Count} votes differ from the reference");
    }

    [Fact]
    public void EnsembleFileRoundTripsAndVotesLikeTheBackend()
    {
        var train = EngineTestData.Blobs(90, 20, 3, 7, spread: 1.2f);
        var test = EngineTestData.Blobs(30, 20, 3, 8, spread: 1.2f);
        var config = EngineTestData.Config(20, [12, 8], 3, epochs: 2, batch: 32, sigma: 0.25f);
        using var backend = new CpuEnsembleBackend(2);
        var votes = new VoteCounts(test.Count, 3);
        backend.Run(config, train, test, 2, 7, votes);

        var ensemble = EnsembleFile.Train(backend, config, train, 2, 7);
        string path = Path.Combine(Path.GetTempPath(), $"nativecert-ensemble-{Guid.NewGuid():N}.bin");
        try
        {
            ensemble.Save(path);
            var loaded = EnsembleFile.Load(path);
            Assert.Equal(config, loaded.Config);
            Assert.Equal("20-12-8-3", loaded.Config.Model.ToString());
            Assert.Equal((2, 5), (loaded.ModelStart, loaded.ModelCount));
            Assert.Equal(ensemble.Parameters, loaded.Parameters);
            Assert.Equal(votes.Counts, loaded.Vote(test, threads: 1).Counts);
            Assert.Equal(votes.Counts, loaded.Vote(test, threads: 2).Counts);

            var bytes = File.ReadAllBytes(path);
            bytes[bytes.Length / 2] ^= 1;
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<UserInputException>(() => EnsembleFile.Load(path));
            Assert.Contains("checksum", e.Message);
            File.WriteAllBytes(path, bytes[..40]);
            Assert.Throws<UserInputException>(() => EnsembleFile.Load(path));
            File.WriteAllText(path, "not an ensemble");
            Assert.Contains("magic", Assert.Throws<UserInputException>(() => EnsembleFile.Load(path)).Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void EnsembleFileSaveIsAtomicAndItsFailureIsAOneLineUserError()
    {
        var config = EngineTestData.Config(4, [3], 2, epochs: 1, batch: 8, sigma: 0.5f);
        var layout = new ParameterLayout(config.Model);
        var parameters = Enumerable.Range(0, 2 * layout.Count).Select(i => i * 0.25f).ToArray();
        var ensemble = new EnsembleFile(config, 3, 2, parameters);
        string dir = Directory.CreateTempSubdirectory("nativecert-ensemble-").FullName;
        try
        {
            string path = Path.Combine(dir, "models-3-5.bin");
            ensemble.Save(path);
            ensemble.Save(path); // replaces
            Assert.Equal(parameters, EnsembleFile.Load(path).Parameters);
            Assert.Single(Directory.GetFiles(dir)); // no temporary left behind

            string missing = Path.Combine(dir, "no-such-dir", "m.bin");
            var e = Assert.Throws<UserInputException>(() => ensemble.Save(missing));
            Assert.Contains("m.bin", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
