using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>
/// Pins the votes and trained weights of layer-list models (LeNet and general conv/pool lists with padding and odd
/// sizes) as SHA-256 hashes, computed on the engine before the CPU conv kernels were tuned (commit "Test: pin LeNet
/// and layer-list votes and weights"). A faster conv, pool or GEMM path must compute exactly the same function
/// (docs/engine.md: every output one FMA chain over (ci, ky, kx) ascending, …), so these bytes must not change.
/// Each case runs on every SIMD level, with one and three threads, and with the model range split in two. The first
/// three run with the learning-rate warm-up explicitly off (the constant step they were pinned with, still every
/// run's with <c>--warmup-epochs 0</c>); the last two were pinned when the warm-up became the layer-list default.
/// </summary>
public class LayerListRegressionTests
{
    internal sealed record Case(string Name, Func<(Dataset Train, Dataset Test)> Data, string Model, TrainingOptions Training,
                              float Sigma, ulong Seed, int Models, string VotesSha256, string WeightsSha256)
    {
        public override string ToString() => Name;
    }

    private static (Dataset, Dataset) Mnist()
    {
        var split = DatasetCatalog.Load("mnist", new DataLoadOptions { TrainSize = 160, TestSize = 48 });
        return (split.Train, split.Test);
    }

    /// <summary>Gaussian blobs laid out as <paramref name="shape"/> images.</summary>
    private static (Dataset, Dataset) Images(int n, int t, ImageShape shape, int classes, int seed)
    {
        static Dataset AsImages(Dataset d, ImageShape s) => new(d.Features, d.Labels, d.Dimension, d.ClassCount, s, d.Source);
        return (AsImages(EngineTestData.Blobs(n, shape.Size, classes, seed, spread: 1.2f), shape),
                AsImages(EngineTestData.Blobs(t, shape.Size, classes, seed + 1, spread: 1.2f), shape));
    }

    // object[] rows: xUnit needs a public data member, and Case holds engine types that are internal.
    public static IEnumerable<object[]> Cases => AllCases.Select(c => new object[] { c });

    private static readonly Case[] AllCases =
    [
        // These three run with warm-up explicitly off (the constant step they were pinned with).
        new("lenet mnist sigma 0.5 default training", Mnist, "lenet", TrainingDefaults.Options(epochs: 1, warmupEpochs: 0),
            0.5f, 3, 2, "dce99b76cb53140ca00640ec4ed5cd9a68c56314c14ba3ea6fc6b643ba672216", "2ae4c766950dbb3f61e30b19657c5a6add743af27176d8e539e879ec5f7f1357"),
        new("3x13x11 conv:5:3:1 pool conv:7:3 dense:9 batch 37", () => Images(90, 21, new ImageShape(3, 13, 11), 4, 51),
            "conv:5:3:1,relu,maxpool,conv:7:3,relu,flatten,dense:9,relu", new TrainingOptions(2, 37, 0.05f, 0.9f, 5e-4f, WarmupEpochs: 0),
            0.3f, 17, 3, "b8ea9e658f509c04bc0f86fccbe8e5367b7e9449abf161e155599ac8234ce522", "17f0c5ef660bdb57a12bd76953d757efb7061158bd7cc09a8da5bdce45831b23"),
        new("2x9x9 conv:6:5:2 pool pool batch 16", () => Images(70, 17, new ImageShape(2, 9, 9), 3, 61),
            "conv:6:5:2,maxpool,relu,conv:3:1,maxpool,flatten", new TrainingOptions(2, 16, 0.05f, 0.9f, 5e-4f, WarmupEpochs: 0),
            0f, 5, 3, "fcf0940c3e6124d645c3656fc748d39decb999a58c4e7e7a18bb5fc9387cbdb8", "9a14d2cf74efe1bdb5d174740b3001e46d07901d92d0e2fc59deed0ee4328fd2"),
        // The CLI's default for a layer list since the warm-up (lr 0.05, two warm-up epochs), pinned when it was introduced.
        new("lenet mnist sigma 0.5 cli default training (2 warm-up epochs)", Mnist, "lenet", CliDefault(epochs: 3),
            0.5f, 3, 2, "ba4fd69e1e31e3708b39b66ec37f72eee8de1d4b34c70abd88bfe9391fc00688", "0225b0f1ef0d2f221f41147915c64cbb637ac27471ca4ea174d9b4f72cae4b5c"),
        new("3x13x11 conv:5:3:1 pool conv:7:3 dense:9 batch 37 warm-up 1", () => Images(90, 21, new ImageShape(3, 13, 11), 4, 51),
            "conv:5:3:1,relu,maxpool,conv:7:3,relu,flatten,dense:9,relu", new TrainingOptions(3, 37, 0.05f, 0.9f, 5e-4f, WarmupEpochs: 1),
            0.3f, 17, 3, "48487c5f9640ed97c247769b1209b47dae1c3902f34487fa59bca04200582320", "aba969373b06d55374b784825b2977375b572e222a20852cac5900edc87642cb"),
    ];

    private static TrainingOptions CliDefault(int epochs) =>
        TrainingDefaults.Options(epochs: epochs, learningRate: TrainingDefaults.ConvLearningRate, warmupEpochs: TrainingDefaults.ConvWarmupEpochs);

    [Fact]
    public void The_pinned_cli_default_is_what_a_layer_list_gets()
    {
        var lenet = ModelArchitecture.ForData(ModelArchitecture.Parse("lenet"), 784, new ImageShape(1, 28, 28), 10);
        Assert.Equal(CliDefault(epochs: 2), TrainingDefaults.OptionsFor(lenet, epochs: 2));
        Assert.Equal(2, TrainingDefaults.OptionsFor(lenet).WarmupEpochs);
        Assert.Equal(0, TrainingDefaults.OptionsFor(ModelArchitecture.Mlp(784, [128], 10)).WarmupEpochs);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    internal void VotesAndWeightsAreUnchangedOnEveryIsaLevelThreadCountAndSplit(Case c)
    {
        var (train, test) = c.Data();
        var model = ModelArchitecture.ForData(ModelArchitecture.Parse(c.Model), train.Dimension, train.Shape, train.ClassCount);
        var config = new EnsembleConfig(model, c.Training, c.Sigma, c.Seed);
        RegressionPins.AssertUnchanged(c.Name, config, train, test, c.Models, c.VotesSha256, c.WeightsSha256);
    }
}
