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
internal static class BenchCommand
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
        var warmup = new Option<int?>("--warmup-epochs")
        {
            Description = $"Epochs of linear learning-rate warm-up (default as for certify: 0 for an MLP, {TrainingDefaults.ConvWarmupEpochs} for any other model)",
        };
        var examples = new Option<int>("--examples") { Description = "Training rows (MNIST when available, else random data)", DefaultValueFactory = _ => 8000 };
        var sigma = new Option<float>("--sigma") { Description = "Noise σ (noise drawing is part of the timing)", DefaultValueFactory = _ => 0.25f };
        var isa = new Option<string>("--isa") { Description = "cpu backend: widest SIMD level, avx512, avx2 or scalar (clamped to the CPU)", DefaultValueFactory = _ => "avx512" };
        var profile = new Option<bool>("--profile")
        {
            Description = "cpu backend: after the timed run, profile where the time goes (noise, gather, first-layer forward and weight-gradient GEMMs or convolutions, tail, optimizer, votes on the test inputs, threading) on 1 and --threads threads at each SIMD level up to --isa",
        };
        foreach (var o in new Option[] { backend, json, models, epochs, threads, modelText, hidden, batch, warmup, examples, sigma, isa, profile }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            int m = parse.GetValue(models), e = parse.GetValue(epochs), t = parse.GetValue(threads), n = parse.GetValue(examples), b = parse.GetValue(batch);
            if (m < 1) throw new UserInputException("--models: must be at least 1");
            if (e < 1) throw new UserInputException("--epochs: must be at least 1");
            if (n < 1) throw new UserInputException("--examples: must be at least 1");
            if (b < 1) throw new UserInputException("--batch: must be at least 1");
            if (t < 0) throw new UserInputException("--threads: must be ≥ 0");
            if (parse.GetValue(warmup) is < 0) throw new UserInputException("--warmup-epochs: must be zero (no warm-up) or a positive number of epochs");
            float s = parse.GetValue(sigma);
            // As certify: the benchmark measures smoothing noise, so σ must be a positive number.
            if (!(s > 0) || !float.IsFinite(s)) throw new UserInputException($"--sigma {s.ToString(CultureInfo.InvariantCulture)}: must be a positive number");
            int[] h = CliApp.ParseIntList(parse.GetValue(hidden), "--hidden", min: 1);
            IsaLevel level = ParseIsa(parse.GetValue(isa));
            string backendName = parse.GetValue(backend) ?? "cpu";
            bool cpu = backendName.Trim().ToLowerInvariant() == BackendFactory.Cpu;
            if (!cpu && parse.GetResult(isa) is { Implicit: false }) throw new UserInputException("--isa: only the cpu backend has SIMD levels");
            if (!cpu && parse.GetValue(profile)) throw new UserInputException("--profile: only the cpu backend is profiled");
            var body = parse.GetValue(modelText) is { } text ? ModelArchitecture.Parse(text, "--model") : ModelArchitecture.MlpBody(h);
            Dataset train = LoadTrainingData(n, out string dataName, out Dataset? test);
            var model = ModelArchitecture.ForData(body, train.Dimension, train.Shape, 10, "--model");
            var training = TrainingDefaults.OptionsFor(model, epochs: e, batchSize: b);
            if (parse.GetValue(warmup) is { } w) training = training with { WarmupEpochs = w };
            var config = new EnsembleConfig(model, training, s, Seed: 1);
            // Refuse a workload that cannot fit before anything is set up or measured (auto may still pick the CPU).
            if (cpu) CpuMemoryPlan.CheckFits(config, train.Count, inputRows: 0, t, m);
            using IEnsembleBackend engine = cpu ? CreateCpu(t, level, parse.InvocationConfiguration.Error) : BackendFactory.Create(backendName, t, parse.InvocationConfiguration.Error);
            if (engine is CpuEnsembleBackend cpuEngine) CpuMemoryPlan.CheckFits(config, train.Count, inputRows: 0, cpuEngine.Threads, m);
            int peakThreads = t > 0 ? t : Environment.ProcessorCount;
            // A GPU is compared with its FP32 (non-tensor) peak from the device's SM count and clock; a CPU with its
            // FMA peak measured just before and just after the run: the higher is what the cores can deliver (other
            // load on a shared machine lowers both the run and the peak).
            double gpuPeak = engine is NativeCert.Kernels.Engine.IlgpuEnsembleBackend gpu ? gpu.PeakFp32Gflops : 0;
            var peakBefore = gpuPeak > 0 ? (gpuPeak, double.NaN) : FmaPeak.Measure(peakThreads, isa: level);
            var result = EnsembleBenchmark.Measure(engine, config, train, m);
            var peakAfter = gpuPeak > 0 ? (gpuPeak, double.NaN) : FmaPeak.Measure(peakThreads, isa: level);
            double peak = Math.Max(peakBefore.Item1, peakAfter.Item1);
            // Per CPU-second: the engine's GFLOP per process CPU-second against one thread's FMA peak per CPU-second.
            // On a shared machine this is what the cores deliver while they run this process (idle threads excluded).
            double cpuPeak = Math.Max(peakBefore.Item2, peakAfter.Item2);
            double cpuFraction = gpuPeak > 0 || !(cpuPeak > 0) ? double.NaN : result.GflopsPerCpuSecond / cpuPeak;
            var profiles = parse.GetValue(profile) ? Profile(config, train, test, m, peakThreads, CpuIsa.Clamp(level), parse.InvocationConfiguration.Error) : null;
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
                    ["peak_kind"] = gpuPeak > 0 ? "gpu fp32 (SMs x lanes x 2 x clock)" : $"measured cpu fma ({CpuIsa.Name(CpuIsa.Clamp(level))} vectors)",
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
                    ["isa"] = engine is CpuEnsembleBackend c ? CpuIsa.Name(c.Isa) : "",
                    ["cpu_seconds"] = Math.Round(result.CpuSeconds, 4),
                    ["gflops_per_cpu_second"] = double.IsFinite(result.GflopsPerCpuSecond) ? Math.Round(result.GflopsPerCpuSecond, 2) : -1,
                    ["peak_gflops_per_cpu_second"] = double.IsFinite(cpuPeak) ? Math.Round(cpuPeak, 2) : -1,
                    ["fraction_of_peak_cpu"] = double.IsFinite(cpuFraction) ? Math.Round(cpuFraction, 4) : -1,
                    ["profile"] = profiles?.Select(p => ProfileJson(p, config, train.Count)).ToArray() ?? [],
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
                    : string.Create(inv, $"peak:       {peak:F1} GFLOP/s measured {CpuIsa.Name(CpuIsa.Clamp(level))} FMA peak on {peakThreads} threads ({100 * result.Gflops / peak:F1}% of peak)"));
                if (double.IsFinite(cpuFraction))
                    o.WriteLine(string.Create(inv, $"cpu time:   {result.CpuSeconds:F3} s: {result.GflopsPerCpuSecond:F1} GFLOP per CPU-second, one thread's FMA peak {cpuPeak:F1} per CPU-second ({100 * cpuFraction:F1}%)"));
                if (profiles != null) WriteProfiles(o, profiles, config, train.Count, test?.Count ?? 0);
            }
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static Dataset LoadTrainingData(int examples, out string name, out Dataset test)
    {
        try
        {
            var split = DatasetCatalog.Load(DatasetCatalog.DefaultSpec);
            if (split.Train.Count >= examples)
            {
                name = $"{split.Name} train";
                test = split.Test;
                return split.Train.Count == examples ? split.Train : split.Train.Select(Enumerable.Range(0, examples).ToArray());
            }
        }
        catch (UserInputException) { }
        name = "random";
        test = WithMnistShape(EnsembleBenchmark.RandomData(2000, 784, 10, seed: 2));
        return WithMnistShape(EnsembleBenchmark.RandomData(examples, 784, 10));
    }

    /// <summary>Random data stands in for MNIST, so it has MNIST's 1×28×28 image shape (a CNN reads it as an image).</summary>
    private static Dataset WithMnistShape(Dataset random) =>
        new(random.Features, random.Labels, 784, 10, new ImageShape(1, 28, 28), random.Source);

    /// <summary>The cpu backend at <paramref name="level"/>, announced like <see cref="BackendFactory.Create(string, int, TextWriter)"/> does.</summary>
    private static CpuEnsembleBackend CreateCpu(int threads, IsaLevel level, TextWriter log)
    {
        var backend = new CpuEnsembleBackend(threads, level);
        log.WriteLine($"backend: {backend.Name} on {backend.Device}");
        return backend;
    }

    private static IsaLevel ParseIsa(string? text) => text switch
    {
        "avx512" => IsaLevel.Avx512,
        "avx2" => IsaLevel.Avx2,
        "scalar" => IsaLevel.Scalar,
        _ => throw new UserInputException($"--isa: '{text}' is not avx512, avx2 or scalar"),
    };

    /// <summary>One profiled run per (SIMD level ≤ <paramref name="widest"/>, threads ∈ {1, <paramref name="threads"/>}), scalar left out unless asked for.</summary>
    private static List<CpuPhaseProfile> Profile(EnsembleConfig config, Dataset train, Dataset test, int models, int threads,
        IsaLevel widest, TextWriter log)
    {
        var levels = widest == IsaLevel.Scalar ? [IsaLevel.Scalar] : new[] { IsaLevel.Avx512, IsaLevel.Avx2 }.Where(l => l <= widest).ToArray();
        var profiles = new List<CpuPhaseProfile>();
        foreach (var level in levels)
            foreach (int t in threads == 1 ? [1] : new[] { 1, threads })
            {
                log.WriteLine($"profiling {CpuIsa.Name(level)}, {t} thread(s)...");
                profiles.Add(CpuPhaseProfile.Measure(config, train, test, models, t, level));
            }
        return profiles;
    }

    private static Dictionary<string, object> ProfileJson(CpuPhaseProfile p, EnsembleConfig config, int trainExamples)
    {
        var phases = new Dictionary<string, object>();
        var rows = p.PhaseRows();
        // Training examples each phase processed, summed over models: its multiply–adds per example give its flop rate.
        double examples = (double)trainExamples * config.Training.Epochs * p.Models;
        // Seconds to the microsecond: a short run's phase of a few tens of µs (4 SGD steps) must not read as 0.
        foreach (var (key, seconds, share, macs) in rows)
        {
            var entry = new Dictionary<string, double> { ["seconds"] = Math.Round(seconds, 6), ["share"] = Math.Round(share, 4) };
            if (macs > 0 && seconds > 0) entry["gflops_per_thread"] = Math.Round(2.0 * macs * examples / seconds / 1e9, 2);
            phases[key] = entry;
        }
        phases["threading"] = new Dictionary<string, double> { ["seconds"] = Math.Round(p.ThreadingSeconds, 6), ["share"] = Math.Round(p.ThreadingShare, 4) };
        phases["descheduled"] = new Dictionary<string, double> { ["seconds"] = Math.Round(p.DescheduledSeconds, 6), ["share"] = Math.Round(p.DescheduledShare, 4) };
        phases["blocked"] = new Dictionary<string, double> { ["seconds"] = Math.Round(p.BlockedSeconds, 6), ["share"] = Math.Round(p.BlockedShare, 4) };
        // MLP: the two first-layer GEMM phases. Layer list: the first parameter layer's forward and weight-gradient phases
        // (the first phase with multiply–adds names it).
        string? first = rows.FirstOrDefault(r => r.MacsPerExample > 0).Key?.Split('_')[0];
        double gemmSeconds = !p.HasLayerPhases
            ? p.Seconds(CpuPhase.FirstForwardGemm) + p.Seconds(CpuPhase.FirstWeightGradientGemm)
            : rows.Where(r => first != null && r.Key.StartsWith(first + "_", StringComparison.Ordinal) && r.MacsPerExample > 0).Sum(r => r.Seconds);
        return new Dictionary<string, object>
        {
            ["isa"] = CpuIsa.Name(p.Isa),
            ["threads"] = p.Threads,
            ["wall_seconds"] = Math.Round(p.WallSeconds, 4),
            ["cpu_seconds"] = double.IsNaN(p.CpuSeconds) ? -1 : Math.Round(p.CpuSeconds, 4),
            ["phase_clock"] = CpuPhaseProfile.PhasesInCpuTime ? "thread cpu" : "wall",
            ["idle_at_end_seconds"] = Math.Round(p.IdleAtEndSeconds, 4),
            ["test_inputs"] = p.Inputs,
            // The first parameter layer's forward and weight-gradient passes do twice its forward MACs per row (2 flop
            // each; D·H per pass for a dense (D,H) layer): flops per thread-second inside them.
            ["first_layer_gemm_gflops_per_thread"] = gemmSeconds > 0
                ? Math.Round(4.0 * FirstLayerMacs(config.Model) * trainExamples * config.Training.Epochs * p.Models / gemmSeconds / 1e9, 2) : 0,
            ["phases"] = phases,
        };
    }

    /// <summary>Forward multiply–adds per example of the first layer with parameters (what the first-layer phases time).</summary>
    private static long FirstLayerMacs(ModelArchitecture model) => model.Layers.First(l => l.Spec.HasParameters).ForwardMacs;

    private static void WriteProfiles(TextWriter o, List<CpuPhaseProfile> profiles, EnsembleConfig config, int trainExamples, int testInputs)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine($"profile:    {(CpuPhaseProfile.PhasesInCpuTime ? "thread CPU" : "wall")} seconds summed over threads (share of threads x wall), same workload plus votes on {testInputs} test inputs");
        var header = new List<string> { "phase" };
        header.AddRange(profiles.Select(p => $"{CpuIsa.Name(p.Isa)} {p.Threads}t"));
        o.WriteLine("  " + string.Join("", header.Select((h, i) => i == 0 ? h.PadRight(34) : h.PadLeft(18))));
        void Row(string name, Func<CpuPhaseProfile, (double Seconds, double Share)?> value) =>
            o.WriteLine("  " + name.PadRight(34) + string.Concat(profiles.Select(p => (value(p) is { } v
                ? string.Create(inv, $"{v.Seconds,9:F3} ({100 * v.Share,4:F1}%)") : "— (folded)").PadLeft(18))));
        // The same model at every level, but a level may fold a pass into another (no phase of its own there): the rows
        // are the union of the levels' phases in run order, and a level without one shows a dash.
        var keys = new List<string>();
        foreach (var p in profiles)
        {
            int at = 0;
            foreach (var r in p.PhaseRows())
            {
                int i = keys.IndexOf(r.Key);
                if (i < 0) keys.Insert(at++, r.Key);
                else at = i + 1;
            }
        }
        foreach (var key in keys)
            Row(key, p => p.PhaseRows().FirstOrDefault(r => r.Key == key) is { Key: not null } r ? (r.Seconds, r.Share) : null);
        Row("threading", p => (p.ThreadingSeconds, p.ThreadingShare));
        Row("descheduled (other load)", p => (p.DescheduledSeconds, p.DescheduledShare));
        Row("blocked (waits in the process)", p => (p.BlockedSeconds, p.BlockedShare));
        Row("wall", p => (p.WallSeconds, 1.0));
    }
}
