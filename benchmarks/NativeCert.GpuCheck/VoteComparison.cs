using System.Text.Json.Nodes;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Kernels.Engine;

namespace NativeCert.GpuCheck;

/// <summary>
/// Each of the first N models trained alone on this accelerator and on the cpu backend (same spec: identical
/// noise, init and shuffles), and its prediction on every test input compared: docs/engine.md lets backends differ
/// only by float rounding, so predictions may differ only where a model sits on a decision boundary.
/// </summary>
internal static class VoteComparison
{
    /// <summary>Predictions allowed to differ (rounding near a decision boundary), as a fraction of all compared.</summary>
    private const double AllowedFraction = 0.005;

    public static (JsonObject Result, bool Passed) Run(Device device, bool tiny, int models, TextWriter log)
    {
        var split = DatasetCatalog.Load("mnist", tiny ? new DataLoadOptions { TrainSize = 200, TestSize = 20 } : null);
        var shape = ModelArchitecture.Mlp(split.Train.Dimension, tiny ? [8] : TrainingDefaults.Hidden, 10);
        var config = new EnsembleConfig(shape, TrainingDefaults.Options(epochs: tiny ? 1 : 5), Sigma: 0.25f, Seed: 1);
        if (tiny) models = Math.Min(models, 2);
        log.WriteLine($"votes: {models} models of {shape}, {config.Training.Epochs} epochs, sigma {config.Sigma}, {split.Train.Count} training rows, {split.Test.Count} inputs");
        using IEnsembleBackend gpu = device.IsCuda ? IlgpuEnsembleBackend.CreateCuda(log: TextWriter.Null) : IlgpuEnsembleBackend.CreateCpuAccelerator(log: TextWriter.Null);
        using var cpu = new CpuEnsembleBackend(threads: 0);
        var perModel = new JsonArray();
        long differing = 0, compared = 0;
        for (int m = 0; m < models; m++)
        {
            var a = new VoteCounts(split.Test.Count, 10);
            var b = new VoteCounts(split.Test.Count, 10);
            gpu.Run(config, split.Train, split.Test, m, m + 1, a);
            cpu.Run(config, split.Train, split.Test, m, m + 1, b);
            int d = 0;
            for (int t = 0; t < split.Test.Count; t++)
                if (Predicted(a, t) != Predicted(b, t)) d++;
            differing += d;
            compared += split.Test.Count;
            perModel.Add(d);
            log.WriteLine($"votes: model {m}: {d} of {split.Test.Count} predictions differ");
        }
        bool passed = differing <= Math.Max(1, AllowedFraction * compared);
        return (new JsonObject
        {
            ["backend"] = gpu.Name, ["device"] = gpu.Device, ["shape"] = shape.ToString(), ["epochs"] = config.Training.Epochs,
            ["sigma"] = config.Sigma, ["train_rows"] = split.Train.Count, ["inputs"] = split.Test.Count, ["models"] = models,
            ["predictions_compared"] = compared, ["predictions_differing"] = differing, ["differing_per_model"] = perModel,
            ["allowed_fraction"] = AllowedFraction,
        }, passed);
    }

    private static int Predicted(VoteCounts votes, int input)
    {
        for (int c = 0; c < votes.Classes; c++)
            if (votes[input, c] > 0) return c;
        return -1;
    }
}
