using System.Diagnostics;
using NativeCert.Data;

namespace NativeCert.Engine;

/// <summary>
/// Result of <see cref="EnsembleBenchmark.Measure"/>: throughput of training noisy models, noise included;
/// <c>CpuSeconds</c> is the CPU time the process used during the timed run (all threads).
/// </summary>
internal sealed record EnsembleBenchmarkResult(string Backend, string Device, int Models, int Epochs, int TrainExamples,
    string Shape, int BatchSize, double Seconds, double ModelEpochsPerSecond, double Gflops, double CpuSeconds = double.NaN)
{
    /// <summary>GFLOP per CPU-second of the process: the engine's speed while it runs, on a shared machine too.</summary>
    public double GflopsPerCpuSecond => Gflops * Seconds / CpuSeconds;

    /// <summary>
    /// Floating-point operations of one model-epoch from the layer list: forward, dW, and dX for every parameter layer
    /// but the first; 1 MAC = 2 flop (<see cref="ModelArchitecture.TrainingFlopsPerExample"/>).
    /// </summary>
    public static double FlopsPerModelEpoch(ModelArchitecture model, int trainExamples) => model.TrainingFlopsPerExample() * trainExamples;
}

/// <summary>Times a backend training an ensemble (noise drawing, init, all epochs; no test votes).</summary>
internal static class EnsembleBenchmark
{
    public static EnsembleBenchmarkResult Measure(IEnsembleBackend backend, EnsembleConfig config, Dataset train, int models, bool warmUp = true)
    {
        var noInputs = new Dataset([], [], train.Dimension, train.ClassCount, train.Shape, "none");
        var votes = new VoteCounts(0, config.Model.Classes);
        if (warmUp) // JIT tiering and first-touch of buffers, on a short run
            backend.Run(config with { Training = config.Training with { Epochs = 1 } }, train, noInputs, 0, Math.Min(models, Environment.ProcessorCount), votes);
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        backend.Run(config, train, noInputs, 0, models, votes);
        double seconds = sw.Elapsed.TotalSeconds;
        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpu0).TotalSeconds;
        double rate = models * (double)config.Training.Epochs / seconds;
        return new EnsembleBenchmarkResult(backend.Name, backend.Device, models, config.Training.Epochs, train.Count,
            config.Model.ToString(), config.Training.BatchSize, seconds, rate,
            rate * EnsembleBenchmarkResult.FlopsPerModelEpoch(config.Model, train.Count) / 1e9, cpuSeconds);
    }

    /// <summary>Uniform [0,1) features with random labels, for when no real data is available.</summary>
    public static Dataset RandomData(int count, int dimension, int classes, int seed = 1)
    {
        var rng = new Random(seed);
        var x = new float[count * dimension];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        var y = new int[count];
        for (int i = 0; i < count; i++) y[i] = rng.Next(classes);
        return new Dataset(x, y, dimension, classes, null, $"random {count}x{dimension}");
    }
}
