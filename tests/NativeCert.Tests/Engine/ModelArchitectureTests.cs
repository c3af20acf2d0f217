using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;

namespace NativeCert.Tests.Engine;

/// <summary>Models as layer lists: syntax, shapes, refusals, parameter layout, FLOPs, and CNN training on the CPU engine.</summary>
public class ModelArchitectureTests
{
    private static readonly FeatureShape Mnist = FeatureShape.Image(1, 28, 28);

    [Fact]
    public void Lenet_has_the_shapes_of_the_issue_and_512_features_before_the_dense_layers()
    {
        var model = ModelArchitecture.Resolve(Mnist, ModelArchitecture.Parse("lenet"), 10);
        Assert.Equal(["1x28x28", "16x24x24", "16x24x24", "16x12x12", "32x8x8", "32x8x8", "32x4x4", "512", "128", "128"],
                     model.Layers.Select(l => l.Input.ToString()));
        Assert.Equal("10", model.Layers[^1].Output.ToString());
        var layout = new ParameterLayout(model);
        // conv1 16·25 + 16, conv2 32·16·25 + 32, dense 512·128 + 128, classifier 128·10 + 10.
        Assert.Equal(416 + 12_832 + 65_664 + 1_290, layout.Count);
        Assert.Equal((25, 16), (layout.In(0), layout.Out(0)));
        Assert.Equal((400, 32), (layout.In(1), layout.Out(1)));
        Assert.Equal("layer4.conv.weight", layout.Name(1, bias: false));
        long macs = 24 * 24 * 16 * 25 + 8 * 8 * 32 * 400 + 512 * 128 + 128 * 10;
        Assert.Equal(macs, model.ForwardMacs());
        // The first conv needs no input gradient: 2 MACs per forward MAC there, 3 elsewhere, 2 flop per MAC.
        Assert.Equal(2.0 * (2 * 24 * 24 * 16 * 25 + 3 * (8 * 8 * 32 * 400 + 512 * 128 + 128 * 10)), model.TrainingFlopsPerExample());
        Assert.Equal("conv:16:5,relu,maxpool,conv:32:5,relu,maxpool,flatten,dense:128,relu", model.Text);
    }

    [Fact]
    public void Mlp_text_is_canonical_and_the_old_shape_string()
    {
        var a = ModelArchitecture.ForData(ModelArchitecture.Parse("mlp:256,128"), 784, new ImageShape(1, 28, 28), 10);
        var b = ModelArchitecture.ForData(ModelArchitecture.Parse("dense:256, relu,dense:128,relu"), 784, new ImageShape(1, 28, 28), 10);
        Assert.Equal(a, b);
        Assert.Equal("mlp:256,128", b.Text);
        Assert.Equal("784-256-128-10", a.ToString());
        Assert.Equal([256, 128], a.Hidden!);
        Assert.Equal(ModelArchitecture.Mlp(784, [256, 128], 10), a);
        Assert.NotEqual(ModelArchitecture.Mlp(784, [256, 128], 9), a);
        // The CIFAR-10 example of the README.
        var cifar = ModelArchitecture.Resolve(FeatureShape.Image(3, 32, 32),
            ModelArchitecture.Parse("conv:32:3:1,relu,maxpool,conv:64:3:1,relu,maxpool,flatten,dense:256,relu"), 10);
        Assert.Equal("64x8x8", cifar.Layers[6].Input.ToString());
        Assert.Equal("3x32x32 conv:32:3:1,relu,maxpool,conv:64:3:1,relu,maxpool,flatten,dense:256,relu,dense:10", cifar.ToString());
    }

    [Theory]
    [InlineData("conv:16:5,relu,conv:8:30", "model.layers: layer 3 (conv:8:30): a 30×30 kernel does not fit its 16x24x24 input")]
    [InlineData("conv:4:3,dense:10", "model.layers: layer 2 (dense:10): gets a 4x26x26 image; put flatten before it")]
    [InlineData("flatten,conv:4:3", "model.layers: layer 2 (conv:4:3): needs an image (C×H×W) input but gets 784 flat features")]
    [InlineData("conv:4:28,maxpool", "model.layers: layer 2 (maxpool): a 2×2 window does not fit its 4x1x1 input")]
    [InlineData("conv:4:3,relu,maxpool", "model.layers: the classifier (dense:10): gets a 4x13x13 image; put flatten before it")]
    public void A_model_that_does_not_fit_the_input_is_refused_in_one_line_naming_the_layer(string text, string message)
    {
        var e = Assert.Throws<UserInputException>(() => ModelArchitecture.Resolve(Mnist, ModelArchitecture.Parse(text), 10));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("conv:16", "model.layers: unknown layer 'conv:16'")]
    [InlineData("dense:x", "model.layers: 'dense:x': units must be a whole number")]
    [InlineData("mlp:128,0", "model.layers: '0' in 'mlp:128,0' is not a positive width")]
    [InlineData("pool", "model.layers: unknown layer 'pool'")]
    [InlineData("", "model.layers: empty model")]
    public void Bad_model_text_is_a_one_line_error(string text, string start)
    {
        var e = Assert.Throws<UserInputException>(() => ModelArchitecture.Parse(text));
        Assert.StartsWith(start, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>Tiny images of two classes (a bright left or right half), 2×9×8 so that no size is a multiple of a vector.</summary>
    internal static Dataset Images(int n, int seed, int channels = 2, int height = 9, int width = 8)
    {
        var rng = new Random(seed);
        int d = channels * height * width;
        var x = new float[n * d];
        var y = new int[n];
        for (int j = 0; j < n; j++)
        {
            y[j] = j % 2;
            for (int c = 0; c < channels; c++)
                for (int r = 0; r < height; r++)
                    for (int q = 0; q < width; q++)
                        x[j * d + (c * height + r) * width + q] = ((q < width / 2) == (y[j] == 0) ? 0.8f : 0.2f) + 0.3f * (float)(rng.NextDouble() - 0.5);
        }
        return new Dataset(x, y, d, 2, new ImageShape(channels, height, width), $"images{seed}");
    }

    internal static EnsembleConfig TinyCnn(int epochs = 1, int batch = 8, float sigma = 0.3f) =>
        new(ModelArchitecture.Resolve(FeatureShape.Image(2, 9, 8), ModelArchitecture.Parse("conv:5:3:1,relu,maxpool,conv:3:2,relu,flatten,dense:6,relu"), 2),
            new TrainingOptions(epochs, batch, 0.05f, 0.9f, 5e-4f), sigma, 5);

    [Theory]
    [InlineData(IsaLevel.Avx512)]
    [InlineData(IsaLevel.Avx2)]
    [InlineData(IsaLevel.Scalar)]
    internal void Cnn_training_on_the_simd_engine_agrees_with_the_reference(IsaLevel isa)
    {
        var train = Images(37, 1); // batch 8: a ragged last batch of 5
        var config = TinyCnn(epochs: 2);
        var expected = ReferenceTrainer.Train(config, train, 3);
        var trainer = new CpuTrainer(config, isa);
        trainer.Train(train, 3);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(expected[i] - trainer.Parameters[i]) / (1e-2f + Math.Abs(expected[i])));
        Assert.True(worst < 1e-3f, $"{isa}: largest relative parameter difference {worst:g3}");
    }

    [Fact]
    public void Cnn_votes_are_bit_identical_across_isa_levels_threads_and_model_splits_and_learn_the_task()
    {
        var train = Images(60, 2);
        var test = Images(20, 3);
        var config = TinyCnn(epochs: 3, batch: 16, sigma: 0.2f);
        const int N = 6;
        (uint[] Votes, float[] Weights) RunWith(IsaLevel isa, int threads, params (int, int)[] ranges) =>
            EngineTestData.RunCpu(config, train, test, isa, threads, ranges);
        var one = RunWith(IsaLevel.Avx512, 1, (0, N));
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var other = RunWith(isa, 2, (0, 2), (2, N));
            Assert.Equal(one.Votes, other.Votes);
            Assert.Equal(one.Weights, other.Weights);
        }
        var reference = new VoteCounts(test.Count, 2);
        ReferenceTrainer.Run(config, train, test, 0, N, reference);
        long differing = one.Votes.Zip(reference.Counts, (a, b) => (long)Math.Abs((int)a - (int)b)).Sum();
        Assert.True(differing <= 4, $"{differing / 2} of {N * test.Count} votes differ from the reference");
        int correct = Enumerable.Range(0, test.Count).Count(t => (one.Votes[2 * t + 1] > one.Votes[2 * t] ? 1 : 0) == test.Labels[t]);
        Assert.True(correct >= 18, $"majority vote right on {correct} of {test.Count}");
    }

    [Fact]
    public void Cnn_ensemble_file_round_trips_and_an_mlp_file_of_version_1_still_loads()
    {
        var train = Images(30, 4);
        var test = Images(10, 5);
        var config = TinyCnn();
        using var backend = new CpuEnsembleBackend(1);
        var ensemble = EnsembleFile.Train(backend, config, train, 1, 3);
        string path = Path.Combine(Path.GetTempPath(), $"nativecert-cnn-{Guid.NewGuid():N}.bin");
        try
        {
            ensemble.Save(path);
            var loaded = EnsembleFile.Load(path);
            Assert.Equal(config, loaded.Config);
            Assert.Equal(ensemble.Parameters, loaded.Parameters);
            var votes = new VoteCounts(test.Count, 2);
            backend.Run(config, train, test, 1, 3, votes);
            Assert.Equal(votes.Counts, loaded.Vote(test, threads: 2).Counts);

            // Version 1, written as the MLP-only engine did: widths instead of input shape, classes and model text.
            var mlp = EngineTestData.Config(4, [3], 2, epochs: 1, batch: 8, sigma: 0.5f);
            float[] parameters = Enumerable.Range(0, 2 * new ParameterLayout(mlp.Model).Count).Select(i => i * 0.5f).ToArray();
            File.WriteAllBytes(path, LegacyEnsembleFile.Bytes(mlp, [4, 3, 2], 7, 2, parameters, version: 1, classIds: null));
            var old = EnsembleFile.Load(path);
            Assert.Equal(mlp, old.Config);
            Assert.Equal((7, 2), (old.ModelStart, old.ModelCount));
            Assert.Equal(parameters, old.Parameters);
        }
        finally { File.Delete(path); }
    }
}

/// <summary>Ensemble files as the MLP-only engine wrote them: version 1 (widths) and version 2 (widths, then class ids).</summary>
internal static class LegacyEnsembleFile
{
    public static byte[] Bytes(EnsembleConfig c, int[] widths, int start, int count, float[] parameters, uint version, int[]? classIds)
    {
        var s = new MemoryStream();
        var w = new BinaryWriter(s);
        w.Write("NCENSEMB"u8);
        w.Write(version);
        w.Write(EnsembleFile.ConfigHash(c));
        w.Write(widths.Length);
        foreach (int x in widths) w.Write(x);
        var t = c.Training;
        w.Write(t.Epochs); w.Write(t.BatchSize); w.Write(t.LearningRate); w.Write(t.Momentum); w.Write(t.WeightDecay);
        w.Write(c.Sigma); w.Write(c.Seed);
        w.Write(start); w.Write(count); w.Write(parameters.Length / count);
        if (version >= 2)
        {
            w.Write(classIds?.Length ?? 0);
            foreach (int id in classIds ?? []) w.Write(id);
        }
        foreach (float p in parameters) w.Write(p);
        w.Flush();
        ulong hash = 14695981039346656037UL;
        foreach (byte b in s.ToArray()) hash = (hash ^ b) * 1099511628211UL;
        w.Write(hash);
        w.Flush();
        return s.ToArray();
    }
}
