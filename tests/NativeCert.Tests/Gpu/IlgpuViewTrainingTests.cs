using NativeCert.Data;
using NativeCert.Defenses;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Kernels.Engine;
using NativeCert.Tests.Engine;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// Lockstep training of per-model training views (DPA partitions, bags) on ILGPU's CPU accelerator: every model of a
/// chunk trains on its own rows at once, with its own row count, batch count and loss scale, and models whose epoch
/// has fewer batches skip the steps they do not take. Each model must come out bit for bit as the same kernels train
/// it alone on its view's rows (the path before lockstep views), whatever the chunking or split of the model range,
/// and within rounding of the CPU engine. Tiny sizes: the CPU accelerator is slow. Fresh Context per test.
/// </summary>
public sealed class IlgpuViewTrainingTests : CpuAcceleratorTest
{
    // 40 rows in 5 partitions of uneven size (batch 4: between one and four batches per epoch, ragged last batches),
    // bags of 11 (three batches, the last of 3 rows) and an empty partition (9 partitions of 20 rows).
    public static TheoryData<string> Views => ["dpa5", "bag11", "dpa9"];

    private static (TrainingView View, Dataset Train, int Models) Case(string name) => name switch
    {
        "dpa5" => (new PartitionView(5), EngineTestData.Blobs(40, 6, 3, 51, spread: 1.0f), 5),
        "bag11" => (new BagView(11), EngineTestData.Blobs(30, 6, 3, 52, spread: 1.0f), 6),
        _ => (new PartitionView(9), EngineTestData.Blobs(20, 6, 3, 53, spread: 1.0f), 9),
    };

    [Theory]
    [MemberData(nameof(Views))]
    public void Lockstep_views_train_every_model_bit_for_bit_as_alone_and_within_rounding_of_the_cpu_engine(string name)
    {
        var (view, train, models) = Case(name);
        var inputs = EngineTestData.Blobs(5, 6, 3, 54, spread: 1.0f);
        var config = EngineTestData.Config(6, [7], 3, epochs: 2, batch: 4, sigma: 0.3f) with { View = view };
        var rows = view.Bind(train, config.Seed);
        if (name == "dpa9") Assert.Contains(Enumerable.Range(0, models), m => rows.Of(m)!.Length == 0);
        if (name == "dpa5") Assert.True(Enumerable.Range(0, models).Select(m => (rows.Of(m)!.Length + 3) / 4).Distinct().Count() > 1,
                                        "the partitions must differ in batch count for the step mask to be tested");

        var (gotVotes, got) = RunSession(config, train, inputs, models, maxModelsPerChunk: models, [(0, models)]);
        var (aloneVotes, alone) = TrainAlone(config, train, inputs, rows, models);
        Assert.Equal(alone, got);
        Assert.Equal(aloneVotes.Counts, gotVotes.Counts);

        // The CPU engine sums in another order (SIMD GEMMs): parameters within rounding, votes allowed to move by a few.
        using var cpu = new CpuEnsembleBackend(1);
        var cpuVotes = new VoteCounts(inputs.Count, 3);
        var cpuSink = new ParameterArraySink(0, models, new ParameterLayout(config.Model).Count);
        using (var session = cpu.Open(config, train, inputs, models)) session.Run(0, models, cpuVotes, cpuSink);
        IlgpuKernelTests.AssertClose(cpuSink.Parameters, got, 1e-4f, $"{view} parameters against the cpu engine");
        long moved = 0;
        for (int i = 0; i < cpuVotes.Counts.Length; i++) moved += Math.Abs((long)cpuVotes.Counts[i] - gotVotes.Counts[i]);
        Assert.True(moved <= 2, $"{view}: {moved / 2} votes differ from the cpu engine's");
    }

    [Fact]
    public void Lockstep_views_do_not_depend_on_chunking_or_the_split_of_the_model_range()
    {
        var (view, train, models) = Case("dpa5");
        var inputs = EngineTestData.Blobs(4, 6, 3, 55, spread: 1.0f);
        var config = EngineTestData.Config(6, [7], 3, epochs: 1, batch: 4, sigma: 0.3f) with { View = view };
        var (wholeVotes, whole) = RunSession(config, train, inputs, models, maxModelsPerChunk: models, [(0, models)]);
        // Chunks of 2 (models that sit beside others change), and the range split across two runs of one session.
        var (chunkVotes, chunked) = RunSession(config, train, inputs, models, maxModelsPerChunk: 2, [(0, 3), (3, models)]);
        Assert.Equal(whole, chunked);
        Assert.Equal(wholeVotes.Counts, chunkVotes.Counts);
        // A run of one model alone in the middle of the range: its weights are the same row of the whole run's.
        int p = new ParameterLayout(config.Model).Count;
        var (_, single) = RunSession(config, train, inputs, models, maxModelsPerChunk: null, [(2, 3)], sinkStart: 2, sinkCount: 1);
        Assert.Equal(whole.AsSpan(2 * p, p).ToArray(), single);
    }

    [Fact]
    public void Lockstep_views_with_a_warmup_step_each_model_by_its_own_step_index()
    {
        // dpa5: partitions of one to four batches an epoch, so each model warms up over its own number of steps
        // (docs/engine.md) while the chunk runs the most batches any model has.
        var (view, train, models) = Case("dpa5");
        var inputs = EngineTestData.Blobs(5, 6, 3, 54, spread: 1.0f);
        var config = EngineTestData.Config(6, [7], 3, epochs: 3, batch: 4, sigma: 0.3f) with { View = view };
        config = config with { Training = config.Training with { WarmupEpochs = 2 } };
        var rows = view.Bind(train, config.Seed);
        var (gotVotes, got) = RunSession(config, train, inputs, models, maxModelsPerChunk: models, [(0, models)]);
        var (aloneVotes, alone) = TrainAlone(config, train, inputs, rows, models);
        Assert.Equal(alone, got);
        Assert.Equal(aloneVotes.Counts, gotVotes.Counts);
        var (_, chunked) = RunSession(config, train, inputs, models, maxModelsPerChunk: 2, [(0, 3), (3, models)]);
        Assert.Equal(got, chunked);

        // Within rounding of the CPU engine's models (each alone, its own step index), and not the constant-step models.
        using var cpu = new CpuEnsembleBackend(1);
        float[] Cpu(EnsembleConfig c)
        {
            var sink = new ParameterArraySink(0, models, new ParameterLayout(c.Model).Count);
            using (var session = cpu.Open(c, train, inputs, models)) session.Run(0, models, new VoteCounts(inputs.Count, 3), sink);
            return sink.Parameters;
        }
        IlgpuKernelTests.AssertClose(Cpu(config), got, 1e-4f, "warm-up views against the cpu engine");
        var constant = Cpu(config with { Training = config.Training with { WarmupEpochs = 0 } });
        Assert.True(got.Zip(constant, (a, b) => Math.Abs(a - b)).Max() > 1e-2f, "the warm-up must change the models");
    }

    [Fact]
    public void Lockstep_views_of_a_layer_list_model_train_bit_for_bit_as_alone()
    {
        var train = ModelArchitectureTests.Images(18, 61, channels: 1, height: 6, width: 5);
        var inputs = ModelArchitectureTests.Images(3, 62, channels: 1, height: 6, width: 5);
        var model = ModelArchitecture.Resolve(FeatureShape.Image(1, 6, 5), ModelArchitecture.Parse("conv:2:3:1,relu,maxpool,flatten,dense:4,relu"), 2);
        var config = new EnsembleConfig(model, new TrainingOptions(1, 4, 0.05f, 0.9f, 5e-4f), 0.2f, 9) { View = new PartitionView(3) };
        var rows = config.View.Bind(train, config.Seed);
        var (gotVotes, got) = RunSession(config, train, inputs, 3, maxModelsPerChunk: 3, [(0, 3)]);
        var (aloneVotes, alone) = TrainAlone(config, train, inputs, rows, 3);
        Assert.Equal(alone, got);
        Assert.Equal(aloneVotes.Counts, gotVotes.Counts);
    }

    [Fact]
    public void The_view_plan_counts_each_models_view_table()
    {
        var layout = new ParameterLayout(ModelArchitecture.Mlp(784, [128], 10));
        long allRows = EnsembleMemoryPlan.PerModelBytes(layout, 160, 64);
        Assert.Equal(allRows + 4 * (160 + 1), EnsembleMemoryPlan.PerModelBytes(layout, 160, 64, viewTables: true));
        // 8,000 training rows shared, 160-row partitions per model: far more models fit than with 8,000-row permutations.
        var views = EnsembleMemoryPlan.Create(layout.Model, 8000, 100, 64, 10_000, 1L << 30, viewRowsPerModel: 160);
        var full = EnsembleMemoryPlan.Create(layout.Model, 8000, 100, 64, 10_000, 1L << 30);
        Assert.Equal(EnsembleMemoryPlan.SharedDataBytes(layout, 8000, 100), views.SharedBytes);
        Assert.True(views.BytesPerModel < full.BytesPerModel);
        Assert.Equal((views.UsableBytes - views.SharedBytes) / views.BytesPerModel, views.ModelsPerChunk);
    }

    // One backend session running the given model ranges in order; votes summed, parameters of models [sinkStart, +sinkCount).
    private static (VoteCounts Votes, float[] Parameters) RunSession(EnsembleConfig config, Dataset train, Dataset inputs, int models,
        int? maxModelsPerChunk, (int Start, int End)[] ranges, int sinkStart = 0, int? sinkCount = null)
    {
        int p = new ParameterLayout(config.Model).Count;
        var sink = new ParameterArraySink(sinkStart, sinkCount ?? models, p);
        var votes = new VoteCounts(inputs.Count, config.Model.Classes);
        using var backend = IlgpuEnsembleBackend.CreateCpuAccelerator(maxModelsPerChunk);
        using var session = backend.Open(config, train, inputs, models);
        foreach (var (start, end) in ranges) session.Run(start, end, votes, sink);
        return (votes, sink.Parameters);
    }

    // Each model on its own: the view's rows as the training set of a one-model all-rows trainer (view row j noised as row j).
    private (VoteCounts Votes, float[] Parameters) TrainAlone(EnsembleConfig config, Dataset train, Dataset inputs, ModelRows rows, int models)
    {
        int p = new ParameterLayout(config.Model).Count;
        var parameters = new float[models * p];
        var votes = new VoteCounts(inputs.Count, config.Model.Classes);
        for (int m = 0; m < models; m++)
        {
            int[] mine = rows.Of(m)!;
            var subset = train.Select(mine.Length > 0 ? mine : [0], "view");
            using var trainer = new LockstepTrainer(Accelerator, Kernels, config with { View = TrainingView.All }, subset, inputs, capacity: 1);
            trainer.Initialize(m, 1);
            for (int e = 0; e < config.Training.Epochs && mine.Length > 0; e++) trainer.TrainEpoch(m, 1, e);
            trainer.Vote(m, 1);
            trainer.DownloadParameters(1).CopyTo(parameters, m * p);
            var counts = trainer.TakeVotes();
            for (int i = 0; i < counts.Length; i++) votes.Counts[i] += counts[i];
        }
        return (votes, parameters);
    }
}
