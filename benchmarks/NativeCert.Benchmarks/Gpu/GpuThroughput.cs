using System.Diagnostics;
using System.Text.Json;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Kernels;
using NativeCert.Kernels.Device;
using NativeCert.Kernels.Engine;

namespace NativeCert.Benchmarks.Gpu;

/// <summary>
/// GPU throughput, timed with device synchronisation (BenchmarkDotNet cannot see device time):
/// (1) the batched GEMMs of one training step of a 784-128-10 MLP (default batch 128) for M models, in GFLOP/s next to the
/// device's FP32 (non-tensor) peak; (2) the whole ensemble (train + vote) in model-epochs/s.
/// <c>dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- gpu [--backend cuda|ilgpu-cpu]
/// [--models N] [--epochs E] [--train n] [--inputs T] [--gemm-models M] [--json]</c>
/// </summary>
public static class GpuThroughput
{
    public static int Run(string[] args)
    {
        string backendName = Arg(args, "--backend", "cuda");
        int models = int.Parse(Arg(args, "--models", "10000"));
        int epochs = int.Parse(Arg(args, "--epochs", "5"));
        int trainCount = int.Parse(Arg(args, "--train", "8000"));
        int inputCount = int.Parse(Arg(args, "--inputs", "100"));
        int gemmModels = int.Parse(Arg(args, "--gemm-models", "2000"));
        int batch = int.Parse(Arg(args, "--batch", TrainingDefaults.BatchSize.ToString()));
        bool json = args.Contains("--json");
        var shape = ModelArchitecture.Mlp(784, [128], 10);

        var result = new Dictionary<string, object>();
        using (var context = backendName == BackendFactory.Cuda ? IlgpuDevices.CreateCudaContext() : IlgpuDevices.CreateCpuContext())
        {
            Accelerator accelerator;
            if (backendName == BackendFactory.Cuda)
            {
                if (context.GetCudaDevices().Count == 0) { Console.Error.WriteLine("gpu benchmark: no CUDA device found"); return 2; }
                accelerator = context.GetCudaDevices()[0].CreateAccelerator(context);
            }
            else accelerator = IlgpuDevices.CpuDevice.CreateAccelerator(context);
            using (accelerator)
            {
                double peak = IlgpuDevices.PeakFp32Gflops(accelerator);
                result["device"] = accelerator.Name;
                result["fp32_peak_gflops"] = Math.Round(peak, 1);
                result["gemm"] = GemmThroughput(accelerator, shape, batch, gemmModels, peak);
            }
        }

        var train = SyntheticImages(trainCount, shape.InputSize, shape.Classes, seed: 1);
        var inputs = SyntheticImages(inputCount, shape.InputSize, shape.Classes, seed: 2);
        var config = new EnsembleConfig(shape, TrainingDefaults.Options(epochs: epochs, batchSize: batch), 0.25f, 7);
        using var backend = BackendFactory.Create(backendName, 0, Console.Error);
        var votes = new VoteCounts(inputCount, shape.Classes);
        var sw = Stopwatch.StartNew();
        backend.Run(config, train, inputs, 0, models, votes);
        double seconds = sw.Elapsed.TotalSeconds;
        // Training FLOPs per example: forward 2·MACs, dW 2·MACs, dX 2·MACs for every layer but the first.
        long macs = shape.ForwardMacs(), firstLayerMacs = (long)shape.InputSize * shape.Hidden![0];
        double trainFlops = (double)models * epochs * trainCount * (6.0 * macs - 2.0 * firstLayerMacs);
        double voteFlops = (double)models * inputCount * 2.0 * macs;
        result["ensemble"] = new Dictionary<string, object>
        {
            ["backend"] = backend.Name,
            ["shape"] = shape.ToString(),
            ["models"] = models,
            ["epochs"] = epochs,
            ["train_rows"] = trainCount,
            ["inputs"] = inputCount,
            ["batch"] = batch,
            ["seconds"] = Math.Round(seconds, 3),
            ["model_epochs_per_s"] = Math.Round(models * (double)epochs / seconds, 2),
            ["effective_gflops"] = Math.Round((trainFlops + voteFlops) / seconds / 1e9, 1),
            ["votes_total"] = votes.Counts.Sum(c => (long)c),
        };

        if (json) Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        else foreach (var (k, v) in result) Console.WriteLine($"{k}: {(v is string s ? s : JsonSerializer.Serialize(v))}");
        return 0;
    }

    /// <summary>The three large products of a training step, timed over repetitions after a warm-up launch.</summary>
    private static List<Dictionary<string, object>> GemmThroughput(Accelerator accelerator, ModelArchitecture shape, int batch, int models, double peak)
    {
        var k = new KernelSet(accelerator);
        int d = shape.InputSize, h = shape.Hidden![0];
        var layout = new ParameterLayout(shape);
        using var x = accelerator.Allocate1D<float>((long)models * batch * d);        // (M, B, D)
        using var y = accelerator.Allocate1D<float>((long)models * batch * h);        // (M, B, H)
        using var w = accelerator.Allocate1D<float>((long)models * layout.Count);     // (M, P)
        using var g = accelerator.Allocate1D<float>((long)models * layout.Count);     // (M, P)
        Fill(accelerator, x); Fill(accelerator, y); Fill(accelerator, w);
        var none = new GemmEpilogue(GemmEpilogue.None, 0, 0);
        var cases = new (string Name, GemmSize Size, Action<GemmSize, GemmKernels.Variant> Launch)[]
        {
            ($"forward X*W (M,{batch},784)x(M,784,128) +bias+ReLU", new GemmSize(batch, d, h), (s, v) => k.BatchedGemm(models,
                y.View, MatrixLayout.RowMajor(0, (long)batch * h, h), x.View, MatrixLayout.RowMajor(0, (long)batch * d, d),
                w.View, MatrixLayout.RowMajor(0, layout.Count, h), s, new GemmEpilogue(GemmEpilogue.BiasRelu, layout.BiasOffset(0), layout.Count), w.View, v)),
            ($"weight grad X^T*dY (M,784,{batch})x(M,{batch},128)", new GemmSize(d, batch, h), (s, v) => k.BatchedGemm(models,
                g.View, MatrixLayout.RowMajor(0, layout.Count, h), x.View, MatrixLayout.Transposed(0, (long)batch * d, d),
                y.View, MatrixLayout.RowMajor(0, (long)batch * h, h), s, none, g.View, v)),
            ($"input grad dY*W^T (M,{batch},128)x(M,128,784) [hidden layers of deeper nets]", new GemmSize(batch, h, d), (s, v) => k.BatchedGemm(models,
                x.View, MatrixLayout.RowMajor(0, (long)batch * d, d), y.View, MatrixLayout.RowMajor(0, (long)batch * h, h),
                w.View, MatrixLayout.Transposed(0, layout.Count, h), s, none, w.View, v)),
        };
        var rows = new List<Dictionary<string, object>>();
        foreach (var (name, size, launch) in cases)
            foreach (var variant in new[] { GemmKernels.Variant.Tile64x64, GemmKernels.Variant.Tile64x128 })
            {
                launch(size, variant);
                accelerator.Synchronize();
                int reps = accelerator.AcceleratorType == AcceleratorType.Cuda ? 20 : 1;
                var sw = Stopwatch.StartNew();
                for (int r = 0; r < reps; r++) launch(size, variant);
                accelerator.Synchronize();
                double s = sw.Elapsed.TotalSeconds / reps;
                double gflops = 2.0 * models * size.Rows * size.Inner * size.Cols / s / 1e9;
                rows.Add(new Dictionary<string, object>
                {
                    ["product"] = name, ["kernel"] = variant.ToString(), ["chosen_by_trainer"] = GemmKernels.Choose(size) == variant,
                    ["models"] = models, ["ms"] = Math.Round(s * 1e3, 3), ["gflops"] = Math.Round(gflops, 1),
                    ["fraction_of_peak"] = peak > 0 ? Math.Round(gflops / peak, 3) : "unknown (no CUDA device)",
                });
            }
        return rows;
    }

    private static void Fill(Accelerator accelerator, MemoryBuffer1D<float, Stride1D.Dense> buffer)
    {
        var k = new float[Math.Min(buffer.Length, 1 << 20)];
        var rng = new Random(5);
        for (int i = 0; i < k.Length; i++) k[i] = (float)(rng.NextDouble() - 0.5);
        for (long o = 0; o < buffer.Length; o += k.Length)
        {
            long n = Math.Min(k.Length, buffer.Length - o);
            ((ArrayView<float>)buffer.View).SubView(o, n).CopyFromCPU(k.AsSpan(0, (int)n));
        }
        _ = accelerator;
    }

    /// <summary>Random [0,1] "pixels" with labels; throughput does not depend on the values.</summary>
    private static Dataset SyntheticImages(int n, int d, int classes, int seed)
    {
        var rng = new Random(seed);
        var x = new float[(long)n * d];
        for (long i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var y = new int[n];
        for (int j = 0; j < n; j++) y[j] = j % classes;
        return new Dataset(x, y, d, classes, null, "synthetic");
    }

    private static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
