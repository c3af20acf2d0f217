using System.Diagnostics;
using System.Text.Json.Nodes;
using ILGPU.Runtime;
using NativeCert.Engine;
using NativeCert.Kernels.Device;

namespace NativeCert.GpuCheck;

/// <summary>
/// Each GEMM product of a 784-128-10 training step on each tile variant, at M = 2,000 models and at the largest
/// chunk: warm-up launches, then the median of <c>reps</c> timed launches (each synchronised), as GFLOP/s and as a
/// fraction of the device's FP32 (non-tensor) peak. Inputs are random (never zeros).
/// </summary>
internal static class GemmSpeed
{
    public static JsonObject Run(Device device, bool tiny, int reps, TextWriter log)
    {
        var s = tiny ? CheckSizes.Tiny : CheckSizes.Full;
        var acc = device.Accelerator;
        var k = device.Kernels;
        var fill = new Fill(acc);
        var layout = new ParameterLayout(s.Shape);
        int p = layout.Count;
        int largest = s.LargestChunk(acc, tiny ? 3 : 1 << 20);
        int[] chunkSizes = tiny ? [Math.Min(2, largest), largest] : [Math.Min(2000, largest), largest];
        if (tiny) reps = 1;
        double peak = device.PeakGflops;
        log.WriteLine($"gemm: M = {string.Join(", ", chunkSizes.Distinct())}, {reps} timed launches each, FP32 peak {peak:F0} GFLOP/s");

        using var x = acc.Allocate1D<float>((long)largest * s.B * s.D);
        using var w = acc.Allocate1D<float>((long)largest * p);
        using var g = acc.Allocate1D<float>((long)largest * p);
        using var y = acc.Allocate1D<float>((long)largest * s.B * s.H);
        using var dy = acc.Allocate1D<float>((long)largest * s.B * s.H);
        using var logits = acc.Allocate1D<float>((long)largest * s.B * s.C);
        fill.Uniform(x.View, 1); fill.Uniform(w.View, 2); fill.Uniform(dy.View, 3); fill.Uniform(y.View, 4);
        var none = new GemmEpilogue(GemmEpilogue.None, 0, 0);
        int w0 = layout.WeightOffset(0), w1 = layout.WeightOffset(1);
        var products = new (string Name, GemmSize Size, GemmKernels.Variant[] Variants, Action<int, GemmKernels.Variant> Launch)[]
        {
            ($"forward X*W0+b0 ReLU ({s.B}x{s.D})x({s.D}x{s.H})", new GemmSize(s.B, s.D, s.H), [GemmKernels.Variant.Tile64x64, GemmKernels.Variant.Tile64x128],
                (m, v) => k.BatchedGemm(m, y.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H), x.View, MatrixLayout.RowMajor(0, (long)s.B * s.D, s.D),
                                        w.View, MatrixLayout.RowMajor(w0, p, s.H), new GemmSize(s.B, s.D, s.H),
                                        new GemmEpilogue(GemmEpilogue.BiasRelu, layout.BiasOffset(0), p), w.View, v)),
            ($"weight grad X^T*dY ({s.D}x{s.B})x({s.B}x{s.H})", new GemmSize(s.D, s.B, s.H), [GemmKernels.Variant.Tile64x64, GemmKernels.Variant.Tile64x128],
                (m, v) => k.BatchedGemm(m, g.View, MatrixLayout.RowMajor(w0, p, s.H), x.View, MatrixLayout.Transposed(0, (long)s.B * s.D, s.D),
                                        dy.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H), new GemmSize(s.D, s.B, s.H), none, g.View, v)),
            ($"input grad dY*W0^T ({s.B}x{s.H})x({s.H}x{s.D}) [hidden layers of deeper nets]", new GemmSize(s.B, s.H, s.D), [GemmKernels.Variant.Tile64x64, GemmKernels.Variant.Tile64x128],
                (m, v) => k.BatchedGemm(m, x.View, MatrixLayout.RowMajor(0, (long)s.B * s.D, s.D), dy.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H),
                                        w.View, MatrixLayout.Transposed(w0, p, s.H), new GemmSize(s.B, s.H, s.D), none, w.View, v)),
            ($"logits Y*W1+b1 ({s.B}x{s.H})x({s.H}x{s.C})", new GemmSize(s.B, s.H, s.C), [GemmKernels.Variant.Thin, GemmKernels.Variant.Tile64x64],
                (m, v) => k.BatchedGemm(m, logits.View, MatrixLayout.RowMajor(0, (long)s.B * s.C, s.C), y.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H),
                                        w.View, MatrixLayout.RowMajor(w1, p, s.C), new GemmSize(s.B, s.H, s.C),
                                        new GemmEpilogue(GemmEpilogue.Bias, layout.BiasOffset(1), p), w.View, v)),
        };

        var rows = new JsonArray();
        foreach (int m in chunkSizes.Distinct())
            foreach (var (name, size, variants, launch) in products)
                foreach (var variant in variants)
                {
                    for (int i = 0; i < (tiny ? 1 : 2); i++) launch(m, variant);
                    acc.Synchronize();
                    var times = new double[reps];
                    for (int r = 0; r < reps; r++)
                    {
                        var sw = Stopwatch.StartNew();
                        launch(m, variant);
                        acc.Synchronize();
                        times[r] = sw.Elapsed.TotalSeconds;
                    }
                    Array.Sort(times);
                    double median = reps % 2 == 1 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
                    double gflops = 2.0 * m * size.Rows * size.Inner * size.Cols / median / 1e9;
                    var o = new JsonObject
                    {
                        ["product"] = name, ["variant"] = variant.ToString(), ["chosen_by_trainer"] = GemmKernels.Choose(size) == variant,
                        ["models"] = m, ["median_ms"] = Math.Round(median * 1e3, 4), ["min_ms"] = Math.Round(times[0] * 1e3, 4),
                        ["max_ms"] = Math.Round(times[^1] * 1e3, 4), ["gflops"] = Math.Round(gflops, 1),
                        ["fraction_of_fp32_peak"] = peak > 0 ? Math.Round(gflops / peak, 4) : null,
                    };
                    rows.Add(o);
                    log.WriteLine($"gemm M={m} {variant,-10} {name}: {median * 1e3:F3} ms, {gflops:F0} GFLOP/s" + (peak > 0 ? $", {gflops / peak:P1} of peak" : ""));
                }
        return new JsonObject
        {
            ["accelerator"] = acc.Name, ["sizes"] = tiny ? "tiny" : "full", ["fp32_peak_gflops"] = Math.Round(peak, 1),
            ["largest_chunk_models"] = largest, ["reps"] = reps, ["timing"] = "host stopwatch around launch + synchronize, median",
            ["gemms"] = rows,
        };
    }
}
