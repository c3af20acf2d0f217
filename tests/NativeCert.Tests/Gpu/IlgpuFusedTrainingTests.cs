using NativeCert.Data;
using NativeCert.Defenses;
using NativeCert.Engine;
using NativeCert.Engine.Reference;
using NativeCert.Kernels.Engine;
using NativeCert.Tests.Engine;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// The lockstep trainer with its fused kernels (each dense layer's dW + db + SGD in one launch, the 10-wide tail in one
/// launch) against the same trainer with one launch per operation: bit for bit on ILGPU's CPU accelerator, where both
/// run .NET's arithmetic in the same order, for an MLP (tail and fused dense), a convolutional layer list (convolutions
/// left to the separate SGD pass) and per-model training views (the view tail, the step mask). Tiny sizes; fresh
/// Context per test.
/// </summary>
public sealed class IlgpuFusedTrainingTests : CpuAcceleratorTest
{
    [Fact]
    public void The_fusion_plan_fuses_the_tail_only_after_a_relu_and_for_at_most_32_outputs()
    {
        static string PlanOf(ModelArchitecture model, bool fused = true)
        {
            var (tail, dense, unfused) = LockstepTrainer.Fusion(LockstepTrainer.Plan(model).Steps, new ParameterLayout(model), fused);
            return $"tail {tail}, dense {dense}, sgd pass [{string.Join(" ", unfused.Select(r => $"{r.Offset}+{r.Count}"))}]";
        }
        var mnist = ModelArchitecture.Mlp(784, [128], 10);
        Assert.Equal("tail True, dense True, sgd pass []", PlanOf(mnist));
        Assert.Equal("tail False, dense False, sgd pass [0+101770]", PlanOf(mnist, fused: false));
        Assert.StartsWith("tail False", PlanOf(ModelArchitecture.Mlp(20, [], 3)));    // no hidden ReLU: logistic regression
        Assert.StartsWith("tail False", PlanOf(ModelArchitecture.Mlp(20, [16], 40))); // 40 classes: wider than the tail kernel is for
        var cnn = ModelArchitecture.Resolve(FeatureShape.Image(1, 6, 5), ModelArchitecture.Parse("conv:2:3:1,relu,maxpool,flatten,dense:4,relu"), 2);
        var layout = new ParameterLayout(cnn);
        // The tail (dense 4 → 2 after the ReLU) and the fused dense layers; the convolution's W and b left to the SGD pass.
        Assert.Equal($"tail True, dense True, sgd pass [0+{layout.BiasOffset(0) + layout.Out(0)}]", PlanOf(cnn));
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("mlp-deep")]
    [InlineData("cnn")]
    [InlineData("mlp-views")]
    [InlineData("mlp-warmup")]
    [InlineData("cnn-warmup")]
    [InlineData("views-warmup")]
    public void Fused_training_equals_unfused_training_bit_for_bit(string name)
    {
        // The -warmup cases: a linear warm-up over the first epoch (η_t per model through every fused epilogue).
        static EnsembleConfig Warm(EnsembleConfig c) => c with { Training = c.Training with { WarmupEpochs = 1 } };
        var (config, train, inputs) = name switch
        {
            "mlp" => (EngineTestData.Config(6, [9], 3, epochs: 2, batch: 8), EngineTestData.Blobs(21, 6, 3, 71), EngineTestData.Blobs(4, 6, 3, 72)),
            // More than 64 rows and columns (the 128×128 forward and dX GEMMs), a ragged last batch of one row.
            "mlp-deep" => (EngineTestData.Config(12, [66, 4], 3, epochs: 1, batch: 65), EngineTestData.Blobs(66, 12, 3, 73), EngineTestData.Blobs(2, 12, 3, 74)),
            "cnn" => (new EnsembleConfig(ModelArchitecture.Resolve(FeatureShape.Image(1, 6, 5), ModelArchitecture.Parse("conv:2:3:1,relu,maxpool,flatten,dense:4,relu"), 2),
                                         new TrainingOptions(1, 4, 0.05f, 0.9f, 5e-4f), 0.2f, 9),
                      ModelArchitectureTests.Images(11, 75, channels: 1, height: 6, width: 5), ModelArchitectureTests.Images(3, 76, channels: 1, height: 6, width: 5)),
            "mlp-warmup" => (Warm(EngineTestData.Config(6, [9], 3, epochs: 2, batch: 8)), EngineTestData.Blobs(21, 6, 3, 71), EngineTestData.Blobs(4, 6, 3, 72)),
            "cnn-warmup" => (Warm(new EnsembleConfig(ModelArchitecture.Resolve(FeatureShape.Image(1, 6, 5), ModelArchitecture.Parse("conv:2:3:1,relu,maxpool,flatten,dense:4,relu"), 2),
                                                     new TrainingOptions(2, 4, 0.05f, 0.9f, 5e-4f), 0.2f, 9)),
                             ModelArchitectureTests.Images(11, 75, channels: 1, height: 6, width: 5), ModelArchitectureTests.Images(3, 76, channels: 1, height: 6, width: 5)),
            "views-warmup" => (Warm(EngineTestData.Config(6, [9], 3, epochs: 2, batch: 4) with { View = new PartitionView(5) }), EngineTestData.Blobs(30, 6, 3, 77), EngineTestData.Blobs(4, 6, 3, 78)),
            _ => (EngineTestData.Config(6, [9], 3, epochs: 2, batch: 4) with { View = new PartitionView(5) }, EngineTestData.Blobs(30, 6, 3, 77), EngineTestData.Blobs(4, 6, 3, 78)),
        };
        const int models = 3, modelBase = 2;
        var (fusedVotes, fused, usedTail) = Train(config, train, inputs, models, modelBase, fused: true);
        var (plainVotes, plain, _) = Train(config, train, inputs, models, modelBase, fused: false);
        Assert.True(usedTail);
        Assert.Equal(plain, fused);
        Assert.Equal(plainVotes, fusedVotes);
        if (name is "mlp" or "mlp-deep" or "mlp-warmup" or "cnn-warmup" or "views-warmup")
        {
            int p = new ParameterLayout(config.Model).Count;
            for (int m = 0; m < models; m++)
                IlgpuKernelTests.AssertClose(ReferenceTrainer.Train(config, train, modelBase + m), fused.AsSpan(m * p, p), 1e-4f, $"model {m} against the reference");
        }
    }

    private (uint[] Votes, float[] Parameters, bool Tail) Train(EnsembleConfig config, Dataset train, Dataset inputs, int models, int modelBase, bool fused)
    {
        var rows = config.View.Bind(train, config.Seed);
        int? viewRows = rows.IsAllRows ? null : Enumerable.Range(modelBase, models).Max(m => rows.Of(m)!.Length);
        using var trainer = new LockstepTrainer(Accelerator, Kernels, config, train, inputs, models, viewRows, fused);
        if (viewRows is not null) trainer.LoadViews(models, Enumerable.Range(modelBase, models).Select(m => rows.Of(m)!).ToArray());
        trainer.Initialize(modelBase, models);
        for (int e = 0; e < config.Training.Epochs; e++) trainer.TrainEpoch(modelBase, models, e);
        trainer.Vote(modelBase, models);
        return (trainer.TakeVotes(), trainer.DownloadParameters(models), trainer.UsesFusedTail);
    }
}
