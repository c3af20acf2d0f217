using NativeCert.Data;
using NativeCert.Defenses;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;

namespace NativeCert.Tests.Engine;

/// <summary>
/// The learning-rate warm-up (docs/engine.md, Training): the schedule itself, the SIMD engine against the scalar
/// reference with it on (every ISA level, views with uneven partitions), its bit-identity across ISA levels, threads and
/// model-range splits, that it changes the result (so the comparisons are not vacuous), and ensemble files with and
/// without it.
/// </summary>
public class WarmupTests
{
    private static TrainingOptions Warm(int epochs, int batch, int warmupEpochs) => new(epochs, batch, 0.05f, 0.9f, 5e-4f, warmupEpochs);

    [Fact]
    public void The_schedule_is_linear_over_the_models_own_steps_then_constant()
    {
        var t = Warm(epochs: 3, batch: 16, warmupEpochs: 2);
        Assert.Equal(7, t.StepsPerEpoch(101));   // ⌈101 / 16⌉: a short last batch is a step
        Assert.Equal(0, t.StepsPerEpoch(0));
        Assert.Equal(14, t.WarmupSteps(101));
        // η(t + 1)/W in double, rounded once to float.
        Assert.Equal((float)(0.05f * 1.0 / 14), t.LearningRateAt(0, 14));
        Assert.Equal((float)(0.05f * 7.0 / 14), t.LearningRateAt(6, 14));
        Assert.Equal((float)(0.05f * 13.0 / 14), t.LearningRateAt(12, 14));
        Assert.NotEqual(0.05f, t.LearningRateAt(12, 14));
        Assert.Equal(0.05f, t.LearningRateAt(13, 14)); // t + 1 = W: the full step
        Assert.Equal(0.05f, t.LearningRateAt(1000, 14));
        // The quotient is rounded once: 0.05f·3/7 in double, then to float, not 0.05f·(3f/7f) in float.
        Assert.Equal(BitConverter.SingleToInt32Bits((float)((double)0.05f * 3 / 7)), BitConverter.SingleToInt32Bits(t.LearningRateAt(2, 7)));
        // No warm-up: the constant step from the first step on, whatever the rows.
        var off = Warm(epochs: 3, batch: 16, warmupEpochs: 0);
        Assert.Equal(0, off.WarmupSteps(101));
        Assert.Equal(0.05f, off.LearningRateAt(0, off.WarmupSteps(101)));
    }

    private static float Worst(float[] expected, float[] got)
    {
        float worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - got[i]) / (1e-2f + Math.Abs(expected[i])));
        return worst;
    }

    private static float[] Simd(EnsembleConfig config, Dataset train, int model, IsaLevel isa)
    {
        var trainer = new CpuTrainer(config, isa);
        trainer.Train(train, model, rows: config.View.Bind(train, config.Seed).Of(model));
        return trainer.Parameters;
    }

    [Theory]
    [InlineData(IsaLevel.Avx512)]
    [InlineData(IsaLevel.Avx2)]
    [InlineData(IsaLevel.Scalar)]
    internal void Cnn_and_mlp_training_with_warmup_agree_with_the_reference_and_differ_from_a_constant_step(IsaLevel isa)
    {
        // 37 rows, batch 8: 5 steps an epoch (the last of 5 rows), warm-up over the first of 3 epochs.
        var cnn = ModelArchitectureTests.TinyCnn(epochs: 3) with { Training = Warm(3, 8, warmupEpochs: 1) };
        var mlp = EngineTestData.Config(45, [19], 7, sigma: 0.4f) with { Training = Warm(3, 16, warmupEpochs: 2) };
        foreach (var (config, train) in new[] { (cnn, ModelArchitectureTests.Images(37, 1)), (mlp, EngineTestData.Blobs(101, 45, 7, 3)) })
        {
            var expected = ReferenceTrainer.Train(config, train, 3);
            var got = Simd(config, train, 3, isa);
            Assert.True(Worst(expected, got) < 1e-3f, $"{config.Model} {isa}: largest relative parameter difference {Worst(expected, got):g3}");
            Assert.Equal(Simd(config, train, 3, IsaLevel.Avx512), got); // bit-identical across ISA levels
            // The warm-up matters far beyond the tolerance above: a trainer that ignored it could not pass.
            var constant = ReferenceTrainer.Train(config with { Training = config.Training with { WarmupEpochs = 0 } }, train, 3);
            Assert.True(Worst(constant, got) > 1e-2f, $"{config.Model}: warm-up changed the weights by only {Worst(constant, got):g3}");
        }
    }

    [Theory]
    [InlineData(IsaLevel.Avx512)]
    [InlineData(IsaLevel.Scalar)]
    internal void Views_warm_up_over_each_models_own_steps(IsaLevel isa)
    {
        // 4 partitions of 90 rows hash to uneven sizes, so the models have different steps per epoch and warm-up lengths.
        var train = EngineTestData.Blobs(90, 20, 3, 25);
        var config = EngineTestData.Config(20, [12], 3, epochs: 3, batch: 8, sigma: 0.4f) with { Training = Warm(3, 8, warmupEpochs: 1), View = new PartitionView(4) };
        var bound = config.View.Bind(train, config.Seed);
        var sizes = Enumerable.Range(0, 4).Select(m => bound.Of(m)!.Length).ToArray();
        Assert.True(sizes.Select(n => config.Training.StepsPerEpoch(n)).Distinct().Count() >= 2, $"partition sizes {string.Join(",", sizes)}");
        for (int m = 0; m < 4; m++)
        {
            var expected = ReferenceTrainer.Train(config, train, m);
            var got = Simd(config, train, m, isa);
            Assert.True(Worst(expected, got) < 1e-3f, $"partition {m} ({sizes[m]} rows) {isa}: {Worst(expected, got):g3}");
        }
    }

    [Fact]
    public void Votes_and_weights_with_warmup_are_bit_identical_across_isa_levels_threads_and_splits()
    {
        var train = ModelArchitectureTests.Images(60, 2);
        var test = ModelArchitectureTests.Images(20, 3);
        var config = ModelArchitectureTests.TinyCnn(sigma: 0.2f) with { Training = Warm(3, 16, warmupEpochs: 1) };
        const int N = 5;
        (uint[] Votes, float[] Weights) RunWith(IsaLevel isa, int threads, params (int, int)[] ranges) =>
            EngineTestData.RunCpu(config, train, test, isa, threads, ranges);
        var one = RunWith(IsaLevel.Avx512, 1, (0, N));
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var other = RunWith(isa, 3, (0, 2), (2, N));
            Assert.Equal(one.Votes, other.Votes);
            Assert.Equal(one.Weights, other.Weights);
        }
        // Model 3 alone is model 3 of the ensemble (its schedule depends on nothing beside it).
        int p = new ParameterLayout(config.Model).Count;
        Assert.Equal(one.Weights.AsSpan(3 * p, p).ToArray(), Simd(config, train, 3, IsaLevel.Avx2));
    }

    [Fact]
    public void Ensemble_files_keep_the_warmup_and_files_before_it_load_as_none()
    {
        var train = ModelArchitectureTests.Images(30, 4);
        var config = ModelArchitectureTests.TinyCnn() with { Training = Warm(2, 8, warmupEpochs: 1) };
        using var backend = new CpuEnsembleBackend(1);
        string path = Path.Combine(Path.GetTempPath(), $"nativecert-warmup-{Guid.NewGuid():N}.bin");
        try
        {
            var ensemble = EnsembleFile.Train(backend, config, train, 0, 2);
            ensemble.Save(path);
            var loaded = EnsembleFile.Load(path);
            Assert.Equal(config, loaded.Config);
            Assert.Equal(1, loaded.Config.Training.WarmupEpochs);
            // The warm-up is part of the config hash; without one, the hash is what it was before the field existed.
            var none = config with { Training = config.Training with { WarmupEpochs = 0 } };
            Assert.NotEqual(EnsembleFile.ConfigHash(none), EnsembleFile.ConfigHash(config));

            // A version 3 file (no warm-up field), as the engine wrote it before: loads as no warm-up.
            var old = new EnsembleFile(none, 0, 2, ensemble.Parameters);
            old.Save(path);
            File.WriteAllBytes(path, AsVersion3(File.ReadAllBytes(path), none.Model.Text));
            var v3 = EnsembleFile.Load(path);
            Assert.Equal(none, v3.Config);
            Assert.Equal(ensemble.Parameters, v3.Parameters);
        }
        finally { File.Delete(path); }
    }

    /// <summary>A version 4 file rewritten as version 3: the warm-up field (which must be 0) removed, the checksum redone.</summary>
    private static byte[] AsVersion3(byte[] v4, string modelText)
    {
        int warmupAt = 8 + 4 + 8 + 13 + 4 + 4 + System.Text.Encoding.UTF8.GetByteCount(modelText) + 5 * 4;
        Assert.Equal(4u, BitConverter.ToUInt32(v4, 8));
        Assert.Equal(0, BitConverter.ToInt32(v4, warmupAt));
        var body = v4.Take(warmupAt).Concat(v4.Skip(warmupAt + 4).Take(v4.Length - 8 - warmupAt - 4)).ToArray();
        BitConverter.GetBytes(3u).CopyTo(body, 8);
        ulong hash = 14695981039346656037UL;
        foreach (byte b in body) hash = (hash ^ b) * 1099511628211UL;
        return [.. body, .. BitConverter.GetBytes(hash)];
    }
}
