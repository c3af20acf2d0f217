using NativeCert.Kernels;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert bench</c>: model-epochs per second and effective GFLOP/s of training noisy models
/// (default the MLP 784-128-10, or any <c>--model</c> such as lenet; batch 128, 8,000 MNIST training rows, σ = 0.25, noise drawing included), next to the
/// machine's measured FMA peak.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("bench", "Measure ensemble training throughput (model-epochs/s, GFLOP/s) against the measured FMA peak");
        var backend = new Option<string>("--backend") { Description = $"Engine: {string.Join(", ", BackendFactory.Names)}", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var models = new Option<int>("--models") { Description = "Models to train", DefaultValueFactory = _ => 8 };
        var epochs = new Option<int>("--epochs") { Description = "Epochs per model", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all logical processors)", DefaultValueFactory = _ => 0 };
        var hidden = new Option<string>("--hidden") { Description = "Hidden widths of an MLP (the same as --model mlp:W1,W2)", DefaultValueFactory = _ => "128" };
        var modelText = new Option<string?>("--model") { Description = "Model: mlp:W1,W2, lenet or a layer list, as for certify (default mlp:128)" };
        var batch = new Option<int>("--batch") { Description = "Minibatch size", DefaultValueFactory = _ => TrainingDefaults.BatchSize };
        var examples = new Option<int>("--examples") { Description = "Training rows (MNIST when available, else random data)", DefaultValueFactory = _ => 8000 };
        var sigma = new Option<float>("--sigma") { Description = "Noise σ (noise drawing is part of the timing)", DefaultValueFactory = _ => 0.25f };
        foreach (var o in new Option[] { backend, json, models, epochs, threads, modelText, hidden, batch, examples, sigma }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            int m = parse.GetValue(models), e = parse.GetValue(epochs), t = parse.GetValue(threads), n = parse.GetValue(examples), b = parse.GetValue(batch);
            if (m < 1) throw new UserInputException("--models: must be at least 1");
            if (e < 1) throw new UserInputException("--epochs: must be at least 1");
            if (n < 1) throw new UserInputException("--examples: must be at least 1");
            if (b < 1) throw new UserInputException("--batch: must be at least 1");
            if (t < 0) throw new UserInputException("--threads: must be ≥ 0");
            float s = parse.GetValue(sigma);
            // As certify: the benchmark measures smoothing noise, so σ must be a positive number.
            if (!(s > 0) || !float.IsFinite(s)) throw new UserInputException($"--sigma {s.ToString(CultureInfo.InvariantCulture)}: must be a positive number");
            int[] h = CliApp.ParseIntList(parse.GetValue(hidden), "--hidden", min: 1);
            var body = parse.GetValue(modelText) is { } text ? ModelArchitecture.Parse(text) : ModelArchitecture.MlpBody(h);
            Dataset train = LoadTrainingData(n, out string dataName);
            var model = ModelArchitecture.ForData(body, train.Dimension, train.Shape, 10);
            var config = new EnsembleConfig(model, TrainingDefaults.Options(epochs: e, batchSize: b, learningRate: TrainingDefaults.LearningRateFor(model)),
                s, Seed: 1);
            // Refuse a workload that cannot fit before anything is set up or measured (auto may still pick the CPU).
            string backendName = parse.GetValue(backend) ?? "cpu";
            if (backendName == "cpu") CpuMemoryPlan.CheckFits(config, train.Count, inputRows: 0, t, m);
            using IEnsembleBackend engine = BackendFactory.Create(backendName, t, parse.InvocationConfiguration.Error);
            if (engine is CpuEnsembleBackend cpu) CpuMemoryPlan.CheckFits(config, train.Count, inputRows: 0, cpu.Threads, m);
            int peakThreads = t > 0 ? t : Environment.ProcessorCount;
            // A GPU is compared with its FP32 (non-tensor) peak from the device's SM count and clock; a CPU with its
            // FMA peak measured just before and just after the run: the higher is what the cores can deliver (other
            // load on a shared machine lowers both the run and the peak).
            double gpuPeak = engine is NativeCert.Kernels.Engine.IlgpuEnsembleBackend gpu ? gpu.PeakFp32Gflops : 0;
            double peakBefore = gpuPeak > 0 ? gpuPeak : FmaPeak.MeasureGflops(peakThreads);
            var result = EnsembleBenchmark.Measure(engine, config, train, m);
            double peak = gpuPeak > 0 ? gpuPeak : Math.Max(peakBefore, FmaPeak.MeasureGflops(peakThreads));
            var o = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                o.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["backend"] = result.Backend,
                    ["device"] = result.Device,
                    ["model_epochs_per_s"] = Math.Round(result.ModelEpochsPerSecond, 3),
                    ["gflops"] = Math.Round(result.Gflops, 2),
                    ["peak_gflops"] = Math.Round(peak, 2),
                    ["peak_kind"] = gpuPeak > 0 ? "gpu fp32 (SMs x lanes x 2 x clock)" : "measured cpu fma",
                    ["fraction_of_peak"] = Math.Round(result.Gflops / peak, 4),
                    ["threads"] = peakThreads,
                    ["models"] = result.Models,
                    ["epochs"] = result.Epochs,
                    ["train_examples"] = result.TrainExamples,
                    ["data"] = dataName,
                    ["shape"] = result.Shape,
                    ["model"] = config.Model.Text,
                    ["batch"] = result.BatchSize,
                    ["sigma"] = config.Sigma,
                    ["seconds"] = Math.Round(result.Seconds, 4),
                    ["gflop_per_model_epoch"] = Math.Round(EnsembleBenchmarkResult.FlopsPerModelEpoch(config.Model, train.Count) / 1e9, 4),
                }));
            }
            else
            {
                var inv = CultureInfo.InvariantCulture;
                o.WriteLine($"backend:    {result.Backend}");
                o.WriteLine($"device:     {result.Device}");
                o.WriteLine($"workload:   {result.Models} models x {result.Epochs} epochs, {(config.Model.IsMlp ? "MLP" : "model")} {result.Shape}, batch {result.BatchSize}, {result.TrainExamples} rows ({dataName}), sigma {config.Sigma.ToString(inv)}, noise included");
                o.WriteLine(string.Create(inv, $"time:       {result.Seconds:F3} s"));
                o.WriteLine(string.Create(inv, $"throughput: {result.ModelEpochsPerSecond:F2} model-epochs/s, {result.Gflops:F1} GFLOP/s"));
                o.WriteLine(gpuPeak > 0
                    ? string.Create(inv, $"peak:       {peak:F1} GFLOP/s FP32 peak of the GPU ({100 * result.Gflops / peak:F1}% of peak)")
                    : string.Create(inv, $"peak:       {peak:F1} GFLOP/s measured FMA peak on {peakThreads} threads ({100 * result.Gflops / peak:F1}% of peak)"));
            }
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static Dataset LoadTrainingData(int examples, out string name)
    {
        try
        {
            var split = DatasetCatalog.Load(DatasetCatalog.DefaultSpec);
            if (split.Train.Count >= examples)
            {
                name = $"{split.Name} train";
                return split.Train.Count == examples ? split.Train : split.Train.Select(Enumerable.Range(0, examples).ToArray());
            }
        }
        catch (UserInputException) { }
        name = "random";
        var random = EnsembleBenchmark.RandomData(examples, 784, 10);
        return new Dataset(random.Features, random.Labels, 784, 10, new ImageShape(1, 28, 28), random.Source);
    }
}
