using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>The CPU memory plan matches what the engine allocates, and refuses, naming the option, what cannot fit.</summary>
public sealed class CpuMemoryPlanTests
{
    private static readonly EnsembleConfig Mnist = EngineTestData.Config(784, [128], 10, epochs: 1, batch: 128);

    [Fact]
    public void PlanCountsWhatTheTrainerAllocates()
    {
        var config = EngineTestData.Config(64, [48, 24], 5, epochs: 1, batch: 32);
        var train = EngineTestData.Blobs(300, 64, 5, seed: 1);
        var plan = CpuMemoryPlan.Create(config, train.Count, inputRows: 0, threads: 1, models: 1);

        new CpuTrainer(config).Train(train, model: 1); // first calls run static initialisers; measure a second trainer
        long before = GC.GetAllocatedBytesForCurrentThread();
        var trainer = new CpuTrainer(config);
        long workspace = GC.GetAllocatedBytesForCurrentThread() - before;
        trainer.Train(train, model: 0);
        long copy = GC.GetAllocatedBytesForCurrentThread() - before - workspace;

        // Exact up to .NET array headers (a few dozen bytes per array, about 16 arrays), the trainer object and its layer
        // plan (one small record per layer, built once);
        // the model term includes the He-init draw that Train makes.
        long initBytes = 4 * (plan.Model.Parameters - 5);
        Assert.True(workspace - (plan.ModelBytesPerThread - initBytes) is >= 0 and <= 2048, $"workspace {workspace} vs plan {plan.ModelBytesPerThread - initBytes}");
        Assert.True(copy - (plan.TrainingBytesPerThread + initBytes) is >= 0 and <= 1024, $"training {copy} vs plan {plan.TrainingBytesPerThread + initBytes}");
        Assert.Equal(plan.ModelBytesPerThread + plan.TrainingBytesPerThread, plan.BytesPerThread);
    }

    [Fact]
    public void TermsFollowTheFormula()
    {
        var plan = CpuMemoryPlan.Create(Mnist, trainRows: 8000, inputRows: 2000, threads: 2, models: 10, keepParameters: true);
        long p = 784L * 128 + 128 + 128 * 10 + 10;
        Assert.Equal(p, plan.Model.Parameters);
        Assert.Equal(4 * (3 * p + 128L * (784 + 2 * 128 + 2 * 10) + 784L * 128 + 2 * 128 + 2 * 128 + p - 10), plan.ModelBytesPerThread);
        Assert.Equal(4 * (8000L * 784 + 8000), plan.TrainingBytesPerThread);
        Assert.Equal(4 * 2000L * 10, plan.VoteBytesPerThread);
        Assert.Equal(4 * 10 * p, plan.SharedBytes);
        Assert.Equal(2 * plan.BytesPerThread + plan.SharedBytes, plan.TotalBytes);
        // Never more threads than models.
        Assert.Equal(3, CpuMemoryPlan.Create(Mnist, 8000, 0, threads: 64, models: 3).Threads);
    }

    [Fact]
    public void RefusalNamesTheOptionAndTheBytes()
    {
        var plan = CpuMemoryPlan.Create(Mnist, trainRows: 8000, inputRows: 0, threads: 8, models: 100);
        plan.EnsureFits(new AvailableMemory(plan.TotalBytes * 2, "test"));

        // Two threads fit but eight do not: lower the threads (--threads on the CLI).
        var e = Assert.ThrowsAny<UserInputException>(() => plan.EnsureFits(new AvailableMemory(plan.BytesPerThread * 5 / 2, "test")));
        Assert.StartsWith("execution.threads:", e.Message);
        Assert.Contains("use execution.threads 2 or fewer", e.Message);
        Assert.Contains("available", e.Message);

        // Not even one thread: the training copy dominates this plan, so --train-size.
        e = Assert.ThrowsAny<UserInputException>(() => plan.EnsureFits(new AvailableMemory(plan.BytesPerThread / 2, "test")));
        Assert.StartsWith("data.train_size:", e.Message);

        // A wide model with little data: --hidden.
        var wide = CpuMemoryPlan.Create(EngineTestData.Config(784, [100_000], 10, batch: 128), 100, 0, threads: 1, models: 1);
        e = Assert.ThrowsAny<UserInputException>(() => wide.EnsureFits(new AvailableMemory(1L << 30, "test")));
        Assert.StartsWith("model.hidden:", e.Message);
        Assert.Contains("GiB", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ModelBeyondOneFlatBufferIsAUserErrorNotAnArgumentException()
    {
        var e = Assert.ThrowsAny<UserInputException>(() => ModelFootprint.Of(ModelArchitecture.Mlp(784, [5_000_000], 10)));
        Assert.StartsWith("model.hidden:", e.Message);
        Assert.Contains("flat buffer", e.Message);
        // 64-bit arithmetic: two huge layers do not wrap around to a small count.
        Assert.ThrowsAny<UserInputException>(() => ModelFootprint.Of(ModelArchitecture.Mlp(784, [65_536, 65_536], 10)));
    }

    [Fact]
    public void BackendRefusesBeforeAllocating()
    {
        var config = EngineTestData.Config(784, [2_000_000], 10, batch: 128);
        var train = EngineTestData.Blobs(10, 784, 10, seed: 2);
        using var backend = new CpuEnsembleBackend(threads: 64);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.ThrowsAny<UserInputException>(() => backend.Run(config, train, train, 0, 64, new VoteCounts(10, 10)));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "refused only after allocating");
    }

    [Fact]
    public void AvailableMemoryIsReadFromTheSystem()
    {
        var available = AvailableMemory.Read();
        Assert.True(available.Bytes > 0, $"{available}");
        Assert.False(string.IsNullOrEmpty(available.Source));
    }
}
